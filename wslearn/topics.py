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
"""

from __future__ import annotations

import asyncio
from typing import Any

from .app import App, WebSocket
from .protocol import (
    CLIENT_TYPES,
    POLICY_VIOLATION,
    ProtocolError,
    decode,
    encode,
    encode_utf8,
    event,
    parse_topics_param,
    validate_topics,
)

__all__ = ["TopicHub", "topic_app"]


class TopicHub:
    """Who is subscribed to what, and the fan-out of events to them.

    It also remembers, per topic, how many events were published (``version``) and
    the ``last`` one, which the polling endpoint ``/api/topics/<topic>`` serves.
    All methods run on the server's event loop (the server hops threads for you).
    """

    def __init__(self) -> None:
        self._topics: dict[WebSocket, list[str]] = {}  # socket -> its topics, in order
        self._subscribers: dict[str, dict[WebSocket, None]] = {}  # topic -> sockets
        self._versions: dict[str, int] = {}
        self._last: dict[str, dict[str, Any]] = {}
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}

    def connect(self, websocket: WebSocket, topics: list[str]) -> None:
        self._topics[websocket] = []
        self.subscribe(websocket, topics)

    def disconnect(self, websocket: WebSocket) -> None:
        for topic in self._topics.pop(websocket, []):
            self._drop(topic, websocket)

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

        Returns how many sockets it was queued for. The JSON is encoded once.
        """
        validate_topics([topic])
        if not isinstance(type, str) or not type:
            raise ValueError(f"publish() needs a non-empty str type, got {type!r}")
        message = event(type, topic, **fields)
        try:
            text, _ = encode_utf8(message)  # checked before anything is recorded
        except TypeError as exc:
            raise TypeError(f"publish(): every field must be JSON-serialisable ({exc})") from None
        except ValueError as exc:
            raise ValueError(f"publish(): {exc}") from None
        self._versions[topic] = self._versions.get(topic, 0) + 1
        self._last[topic] = message
        for waiter in self._waiters.pop(topic, ()):
            if not waiter.done():
                waiter.set_result(None)
        return sum(ws.send_nowait(text) for ws in list(self._subscribers.get(topic, ())))

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
        except ProtocolError as exc:
            await websocket.close(POLICY_VIOLATION, exc.detail)  # browsers can read it
            return
        # Subscribe, then queue the welcome, with no await in between: once a client has
        # read "welcome", the server lists its topics and every later publish reaches it.
        hub.connect(websocket, topics)
        websocket.send_nowait(encode({"type": "welcome", "topics": topics}))
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
        if kind not in CLIENT_TYPES:  # ping, subscribe, unsubscribe: protocol.py's table
            raise ProtocolError("unknown-type", f"unknown message type {kind!r}")
        if kind == "ping":
            return {**message, "type": "pong"}  # extra fields are echoed
        topics = message.get("topics")  # subscribe / unsubscribe
        if not isinstance(topics, list):
            raise ProtocolError("bad-topics", f'{kind} needs "topics": a list of names')
        change = hub.subscribe if kind == "subscribe" else hub.unsubscribe
        return {"type": "subscribed", "topics": change(websocket, topics)}

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:  # text stays text, bytes stay bytes
            await websocket.send(await websocket.receive())

    return app
