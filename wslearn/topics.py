"""The course's topic server, written the way you would write it in FastAPI.

Open this file next to chapter 01: ``topic_app()`` is the backend half of the
seed's ``useWebSocket`` hook. ``TopicHub`` is the "ConnectionManager" of the
FastAPI docs, with one change that matters in production: ``publish`` encodes the
JSON **once** and queues the same text on every subscriber without waiting, so one
slow or frozen client never holds up the others.

Wire protocol (course outline): ``/ws?topics=a,b`` -> ``welcome``; events only to
subscribers; ``ping`` -> ``pong``; ``subscribe`` / ``unsubscribe`` -> ``subscribed``;
bad input -> ``error`` (the connection stays open); bad topics in the URL -> close
1008 with a reason naming the topic. ``/echo`` sends every frame back.

Resume (chapter 11, opt-in): a socket that connects with ``?resume=a:12`` is
*resumable*. Its ``welcome`` and ``subscribed`` carry ``"seq": {topic: head}``, every
event it gets carries ``"seq": n`` (the topic's version), and right after the welcome it
gets the events it missed from the hub's ``ReplayBuffer`` -- or ``resync`` when they are
gone. Every other socket gets exactly the bytes it always got.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .app import App, WebSocket
from .protocol import (
    CLIENT_TYPES,
    POLICY_VIOLATION,
    RESUME_PARAM,
    SEQ_FIELD,
    ProtocolError,
    decode,
    encode,
    encode_utf8,
    event,
    parse_cursor,
    parse_topics_param,
    validate_topics,
)
from .resume import DEFAULT_REPLAY_LIMIT, ReplayBuffer

__all__ = ["TopicHub", "resume_cursor", "topic_app"]

def numbered_text(text: str, seq: int) -> str:
    """An encoded event plus ``"seq": n`` as its last field, without decoding it again.

    >>> numbered_text('{"type":"x","topic":"a"}', 7)
    '{"type":"x","topic":"a","seq":7}'
    """
    return f'{text[:-1]},"{SEQ_FIELD}":{seq}}}'


def resync_message(topic: str, head: int, missed: int) -> dict[str, Any]:
    """``{"type": "resync", ...}``: the missed events are gone, refetch ``topic``."""
    return {"type": "resync", "topic": topic, SEQ_FIELD: head, "missed": missed}


def resume_cursor(websocket: WebSocket) -> dict[str, int] | None:
    """The socket's ``?resume=`` cursor (``{}``: number my events only), or None when it
    did not ask (not resumable). Raises ``ProtocolError`` for a bad value."""
    value = websocket.query_params.get(RESUME_PARAM)
    return None if value is None else parse_cursor(value)


class TopicHub:
    """Who is subscribed to what, and the fan-out of events to them.

    It also remembers, per topic, how many events were published (``version``) and
    the ``last`` one, which the polling endpoint ``/api/topics/<topic>`` serves.
    All methods run on the server's event loop (the server hops threads for you).
    """

    def __init__(self, replay: int = DEFAULT_REPLAY_LIMIT) -> None:
        self._topics: dict[WebSocket, list[str]] = {}  # socket -> its topics, in order
        self._subscribers: dict[str, dict[WebSocket, None]] = {}  # topic -> sockets
        self._versions: dict[str, int] = {}
        self._last: dict[str, dict[str, Any]] = {}
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        #: Resumable sockets -> the cursor they connected with (replayed once, then kept
        #: only as the "resumable" mark).
        self._cursors: dict[WebSocket, dict[str, int]] = {}
        #: The last ``replay`` events of each topic, as published (``serve(replay=...)``).
        self.replay_buffer: ReplayBuffer[str] = ReplayBuffer(replay)

    @property
    def replay_limit(self) -> int:
        """Events kept per topic for resumable clients (0: none, every resume resyncs)."""
        return self.replay_buffer.limit

    @replay_limit.setter
    def replay_limit(self, limit: int) -> None:
        self.replay_buffer = ReplayBuffer(limit)  # a new limit starts an empty buffer

    def connect(self, websocket: WebSocket, topics: list[str],
                resume: Mapping[str, int] | None = None) -> None:
        """Subscribe a new socket; ``resume`` (a cursor, maybe empty) makes it resumable."""
        self._topics[websocket] = []
        if resume is not None:
            self._cursors[websocket] = dict(resume)
        self.subscribe(websocket, topics)

    def disconnect(self, websocket: WebSocket) -> None:
        self._cursors.pop(websocket, None)
        for topic in self._topics.pop(websocket, []):
            self._drop(topic, websocket)

    def resumable(self, websocket: WebSocket) -> bool:
        return websocket in self._cursors

    def with_seq(self, websocket: WebSocket, message: dict[str, Any]) -> dict[str, Any]:
        """``message`` plus ``"seq": {topic: head}`` for a resumable socket's topics;
        unchanged for any other socket (its bytes stay exactly chapter 01's)."""
        if websocket not in self._cursors:
            return message
        return {**message, SEQ_FIELD: {t: self.version(t) for t in self._topics[websocket]}}

    def replay(self, websocket: WebSocket) -> None:
        """Queue what a resumable socket missed, topic by topic in its cursor's order:
        the events as published plus their ``seq``, or ``resync`` when the buffer no longer
        holds them all (or the cursor is ahead: the server forgot). Call it right after
        the welcome, with no await in between, so no live event can overtake it."""
        cursor = self._cursors.get(websocket)
        if not cursor:
            return
        subscribed = self._topics[websocket]
        for topic, after in cursor.items():
            if topic not in subscribed:
                continue
            events, resync = self.catch_up(topic, after)
            for seq, text in events:
                websocket.send_nowait(numbered_text(text, seq))
            if resync is not None:
                websocket.send_nowait(encode(resync))
        self._cursors[websocket] = {}  # replayed once; the socket stays resumable

    def catch_up(self, topic: str, after: int
                 ) -> tuple[list[tuple[int, str]], dict[str, Any] | None]:
        """What a client that stopped at event ``after`` of ``topic`` missed: the events as
        published with their numbers, or (when the buffer no longer holds them all, or
        ``after`` is ahead: the server forgot) none and a ``resync`` message. Both empty
        when it is up to date. The websocket and the event stream both follow this."""
        head = self.version(topic)
        if after == head:
            return [], None
        buffer = self.replay_buffer
        # The buffer numbers with the hub's versions; a topic it evicted has another head.
        replay = buffer.since(topic, after) if buffer.head(topic) == head else None
        if replay is None or replay.resync:
            return [], resync_message(topic, head, max(head - after, 0))
        return list(zip(range(after + 1, head + 1), replay.items, strict=True)), None

    def _drop(self, topic: str, websocket: WebSocket) -> None:
        """Remove one subscriber; forget the topic's entry once nobody is left, so a loop of
        subscribe/unsubscribe on new names cannot grow the hub for ever."""
        subscribers = self._subscribers.get(topic)
        if subscribers is not None:
            subscribers.pop(websocket, None)
            if not subscribers:
                del self._subscribers[topic]

    def subscribe(self, websocket: WebSocket, topics: list[str]) -> list[str]:
        """Add ``topics``; return all the socket's topics. Raises ``ProtocolError``."""
        current = self._topics[websocket]
        new = validate_topics([*current, *topics])  # also enforces MAX_TOPICS
        for topic in new[len(current):]:
            self._subscribers.setdefault(topic, {})[websocket] = None
        self._topics[websocket] = new
        return list(new)

    def unsubscribe(self, websocket: WebSocket, topics: list[str]) -> list[str]:
        """Remove ``topics``; return the socket's remaining topics."""
        current = self._topics[websocket]
        for topic in validate_topics(topics):
            if topic in current:
                current.remove(topic)
                self._drop(topic, websocket)
        return list(current)

    def publish(self, topic: str, type: str, **fields: Any) -> int:
        """Send ``{"type": type, "topic": topic, **fields}`` to the topic's subscribers.

        Returns how many sockets it was queued for. The JSON is encoded once (and, when a
        resumable socket listens, once more with its ``seq``).
        """
        validate_topics([topic])
        if not isinstance(type, str) or not type:
            raise ValueError(f"publish() needs a non-empty str type, got {type!r}")
        if SEQ_FIELD in fields:
            raise ValueError(f'publish(): "{SEQ_FIELD}" is reserved: the server numbers each '
                             "topic's events itself (resume, chapter 11); use another name")
        message = event(type, topic, **fields)
        try:
            text, _ = encode_utf8(message)  # checked before anything is recorded
        except TypeError as exc:
            raise TypeError(f"publish(): every field must be JSON-serialisable ({exc})") from None
        except ValueError as exc:
            raise ValueError(f"publish(): {exc}") from None
        seq = self._versions[topic] = self._versions.get(topic, 0) + 1
        self._last[topic] = message
        self.replay_buffer.append(topic, text, seq=seq)
        for waiter in self._waiters.pop(topic, ()):
            if not waiter.done():
                waiter.set_result(None)
        numbered: str | None = None  # the "seq" variant, made once and only if needed
        delivered = 0
        for ws in list(self._subscribers.get(topic, ())):
            if ws in self._cursors:  # resumable
                if numbered is None:
                    numbered = numbered_text(text, seq)
                delivered += ws.send_nowait(numbered)
            else:
                delivered += ws.send_nowait(text)
        return delivered

    # -- observation (the server's `connections` and the polling endpoint) -----

    def topics_of(self, websocket: WebSocket) -> list[str]:
        return list(self._topics.get(websocket, ()))

    def subscriptions(self) -> dict[int, tuple[str, ...]]:
        """Connection id -> its topics (a snapshot, safe to read from another thread)."""
        return {ws.id: tuple(topics) for ws, topics in list(self._topics.items())}

    def version(self, topic: str) -> int:
        return self._versions.get(topic, 0)

    def last(self, topic: str) -> dict[str, Any] | None:
        return self._last.get(topic)

    def changed(self, topic: str) -> asyncio.Future[None]:
        """A future completed by the next publish to ``topic`` (for long polling).

        Call ``forget(topic, future)`` when you stop waiting for it.
        """
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(topic, set()).add(future)
        return future

    def forget(self, topic: str, future: asyncio.Future[None]) -> None:
        """Stop waiting; the topic's entry goes once nobody waits (long polls on ever new
        names must not grow the hub)."""
        waiters = self._waiters.get(topic)
        if waiters is not None:
            waiters.discard(future)
            if not waiters:
                del self._waiters[topic]


def topic_app() -> App:
    """A fresh topic app with its own ``TopicHub`` (``app.state.hub``)."""
    app = App()
    hub = app.state.hub = TopicHub()

    @app.websocket("/ws")
    async def topics_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            topics = parse_topics_param(websocket.query_params.get("topics"))
            resume = resume_cursor(websocket)  # ?resume=a:12 (chapter 11), else None
        except ProtocolError as exc:
            await websocket.close(POLICY_VIOLATION, exc.detail)  # browsers can read it
            return
        # Subscribe, then queue the welcome, with no await in between: once a client has
        # read "welcome", the server lists its topics and every later publish reaches it.
        hub.connect(websocket, topics, resume)
        welcome = {"type": "welcome", "topics": topics}
        websocket.send_nowait(encode(hub.with_seq(websocket, welcome)))
        hub.replay(websocket)  # resumable sockets: the events they missed, or "resync"
        try:
            while True:
                try:
                    message = decode(await websocket.receive_text())
                    reply = handle(websocket, message)
                except ProtocolError as exc:
                    reply = exc.as_message()  # bad input: tell the client, keep going
                await websocket.send_json(reply)
        finally:
            hub.disconnect(websocket)  # the cleanup lesson, server side

    def handle(websocket: WebSocket, message: dict[str, Any]) -> dict[str, Any]:
        kind = message["type"]
        if kind not in CLIENT_TYPES:  # ping, subscribe, unsubscribe, auth: protocol.py's table
            raise ProtocolError("unknown-type", f"unknown message type {kind!r}")
        if kind == "auth":  # a token is checked by the server before this endpoint runs
            raise ProtocolError("unknown-type", '"auth" is only valid as the first frame')
        if kind == "ping":
            return {**message, "type": "pong"}  # extra fields are echoed
        topics = message.get("topics")  # subscribe / unsubscribe
        if not isinstance(topics, list):
            raise ProtocolError("bad-topics", f'{kind} needs "topics": a list of names')
        change = hub.subscribe if kind == "subscribe" else hub.unsubscribe
        subscribed = {"type": "subscribed", "topics": change(websocket, topics)}
        return hub.with_seq(websocket, subscribed)

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:  # text stays text, bytes stay bytes
            await websocket.send(await websocket.receive())

    return app
