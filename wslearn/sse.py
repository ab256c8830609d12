"""Server-sent events: ``GET /api/stream/<topic>`` on the server's second listener.

An event stream is a response that never ends, which ``websockets`` cannot send, so the
server runs this small listener beside it, on the same loop. Requests are parsed by
``h11`` (a maintained HTTP/1.1 state machine, no IO) and checked by the same rules as
the websocket port (``wslearn.http_api``: Origin, Host allowlist, the per-server key).

A stream looks like a websocket to ``TopicHub`` (``id``, ``send_nowait``), so it gets the
very text every websocket subscriber gets, in publish order. Each event's ``id:`` is the
topic's version, so a browser's ``EventSource`` that reconnects sends ``Last-Event-ID: n``
and gets what it missed from the hub's replay buffer (the websocket resume's buffer), or
``event: resync`` when the buffer no longer holds it all (chapter 11). While the server is frozen
or delayed, events wait in the shared hold (``wslearn.hold``) and leave in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote

import h11

from .hold import Hold
from .http_api import Answer, RequestHead, error_answer
from .protocol import MAX_SEQ, SEQ_FIELD, ProtocolError, encode, validate_topics

if TYPE_CHECKING:
    from .server import Server
    from .topics import TopicHub

__all__ = ["MAX_SSE_HEAD", "MAX_SSE_STREAMS", "SSE_HEAD_TIMEOUT", "SseListener"]

logger = logging.getLogger("wslearn.server")

#: Server-sent event streams open at once; one more is answered 503.
MAX_SSE_STREAMS: Final = 100
#: Longest request line + headers an SSE request may send (bytes); longer -> 431.
MAX_SSE_HEAD: Final = 8 * 1024
#: How long an SSE client may take to send its request line and headers (seconds).
SSE_HEAD_TIMEOUT: Final = 10.0
#: How long ``stop()`` lets streams end politely before it aborts them (seconds).
_STOP_GRACE: Final = 0.5


def sse_event(text: str, version: int, event: str | None = None) -> bytes:
    """``id: <version>`` and one ``data:`` line per line of ``text``, then a blank line
    (``event: <name>`` first for a named event such as ``resync``)."""
    lines = "".join(f"data: {line}\n" for line in text.split("\n"))
    named = f"event: {event}\n" if event else ""
    return f"{named}id: {version}\n{lines}\n".encode()


#: The header an ``EventSource`` sends when it reconnects: the last ``id:`` it saw.
LAST_EVENT_ID: Final = "Last-Event-ID"


def parse_last_event_id(values: list[str]) -> int | None:
    """The position a reconnecting stream gives (None: a fresh stream), or raise
    ``ProtocolError("bad-resume")``: one header of plain decimal digits, at most MAX_SEQ."""
    if not values or values == [""]:
        return None
    value = values[0]
    if len(values) > 1 or not value.isascii() or not value.isdigit() or len(value) > 16 \
            or int(value) > MAX_SEQ:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise ProtocolError("bad-resume", f"{LAST_EVENT_ID} must be one event number "
                            f"(0..{MAX_SEQ}), got {shown!r}")
    return int(value)


def replay_frames(hub: TopicHub, topic: str, after: int) -> list[bytes]:
    """What a stream that stopped at ``after`` missed (``TopicHub.catch_up``), as events:
    each as it was published with its number as ``id``, or one ``event: resync``."""
    events, resync = hub.catch_up(topic, after)
    frames = [sse_event(text, seq) for seq, text in events]
    if resync is not None:
        frames.append(sse_event(encode(resync), resync[SEQ_FIELD], "resync"))
    return frames


class SseStream:
    """One open ``text/event-stream`` response, subscribed to one topic of the hub."""

    def __init__(self, listener: SseListener, writer: asyncio.StreamWriter, id: int,
                 topic: str) -> None:
        self.listener = listener
        self.server = listener.server
        self.writer = writer
        self.id = f"sse-{id}"  # never equal to a websocket's int id in hub.subscriptions()
        self.topic = topic
        self.loop = asyncio.get_running_loop()
        self.ended: asyncio.Future[None] = self.loop.create_future()
        self._hold: Hold[bytes] = Hold(limit=self.server.max_buffered)
        self._timer: asyncio.TimerHandle | None = None

    def send_nowait(self, text: str) -> bool:
        if self.ended.done() or self.writer.transport.is_closing():
            return False
        server = self.server
        data = sse_event(text, server.app.state.hub.version(self.topic))  # counted already
        return self.send_frame(data)

    def send_frame(self, data: bytes) -> bool:
        """Write one encoded event now, or hold it (frozen, delayed) in order."""
        server = self.server
        if self._hold.must_hold(frozen=server._frozen, delay=server._delay):
            if not self._hold.push(data, now=self.loop.time(), delay=server._delay,
                                   size=len(data)):
                self._too_slow()
                return False
            self.schedule()
            return True
        self._write(data)
        return True

    def schedule(self) -> None:
        """(Re)arm the release timer for the oldest held event (none while frozen)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = self._hold.next_due(frozen=self.server._frozen)
        if due is not None and not self.ended.done():
            self._timer = self.loop.call_at(due, self._release)

    def _release(self) -> None:
        self._timer = None
        for data in self._hold.release(now=self.loop.time(), frozen=self.server._frozen):
            self._write(data)
        self.schedule()

    def _write(self, data: bytes) -> None:
        if self.ended.done() or self.writer.transport.is_closing():
            return
        self.writer.write(data)
        self.server.http_bytes_sent += len(data)
        if self.writer.transport.get_write_buffer_size() > self.server.max_buffered:
            self._too_slow()

    def _too_slow(self) -> None:
        """The client does not read: end its stream (its held events count as lost)."""
        self.end()

    def end(self) -> int:
        """Stop the stream; return how many held events were dropped (counted as lost)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        lost = len(self._hold.clear())
        self.server.frames_lost += lost
        if not self.ended.done():
            self.ended.set_result(None)
        return lost


class SseListener:
    """The second listener of one ``Server``: its requests, its streams, its shutdown."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.port: int | None = None
        self._listener: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.streams: dict[str, SseStream] = {}
        self._next_id = 0

    async def start(self, host: str, port: int) -> int:
        self._listener = await asyncio.start_server(self._connected, host, port)
        self.port = self._listener.sockets[0].getsockname()[1]
        return self.port

    def thaw(self) -> None:
        for stream in list(self.streams.values()):
            stream.schedule()

    def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """``asyncio.start_server``'s callback: serve the request in a task this listener
        owns, so that ``stop()`` can end it (and a cancelled task logs nothing)."""
        stop = self.server._stop_future
        if len(self._tasks) >= 2 * _max_streams() or stop is None or stop.done():
            writer.transport.abort()
            return
        self._next_id += 1
        task = asyncio.get_running_loop().create_task(
            self._client(reader, writer, self._next_id), name=f"wslearn-sse-{self._next_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      id: int) -> None:
        self._writers.add(writer)
        try:
            await self._request(reader, writer, id)
        except ConnectionError:
            pass  # the client went away mid-request
        except Exception as exc:  # never print from the server thread: record
            self.server._record("server-sent events request failed", exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), self.server.close_timeout)
            writer.transport.abort()  # no-op once closed; else a client that does not read
            self._writers.discard(writer)

    async def _read_head(self, reader: asyncio.StreamReader) -> RequestHead | Answer | None:
        """The request head via h11: a ``RequestHead``, an error ``Answer``, or None when the
        client sent no complete request (nothing to answer)."""
        parser = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_SSE_HEAD)
        received = 0
        try:
            async with asyncio.timeout(SSE_HEAD_TIMEOUT):
                while True:
                    event = parser.next_event()
                    if isinstance(event, h11.Request):
                        if received > MAX_SSE_HEAD:
                            raise h11.RemoteProtocolError("head too large",
                                                          error_status_hint=431)
                        return RequestHead(
                            event.method.decode("ascii", "replace"),
                            event.target.decode("latin-1"),
                            tuple((k.decode("latin-1"), v.decode("latin-1"))
                                  for k, v in event.headers),
                        )
                    if event is h11.NEED_DATA:
                        data = await reader.read(4096)
                        received += len(data)
                        if received > MAX_SSE_HEAD + 4096:  # h11 checks per incomplete event
                            raise h11.RemoteProtocolError("head too large",
                                                          error_status_hint=431)
                        parser.receive_data(data)  # b"" = EOF
                        continue
                    return None  # ConnectionClosed: the client left before a request
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:
                return error_answer(431, "too-large", "the request line and headers must "
                                    f"fit in {MAX_SSE_HEAD} bytes")
            return error_answer(400, "bad-request", "not an HTTP/1.1 request")
        except TimeoutError:
            return None

    async def _request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       id: int) -> None:
        """``GET /api/stream/<topic>``: a ``text/event-stream`` until either side leaves."""
        server = self.server
        head = await self._read_head(reader)
        if head is None:
            return
        if isinstance(head, Answer):
            return self._send(writer, "", head)
        path = head.path
        await server._unfrozen()  # a frozen server answers nothing, like the websocket port
        if head.method != "GET":
            return self._send(writer, path, error_answer(
                405, "bad-method", f"{head.method} is not allowed: streams are GET only",
                [("Allow", "GET")]))
        api = server._http
        refused = api.refusal(head, data=False)  # the Origin check
        if refused is not None:
            return self._send(writer, path, refused)
        hub = getattr(server.app.state, "hub", None)
        if not path.startswith("/api/stream/") or hub is None:
            return self._send(writer, path, error_answer(
                404, "not-found", f"no stream at {path}; use /api/stream/<topic> "
                "(served for apps with a topic hub)"))
        refused = api.refusal(head, data=True)  # Host and key: a stream is learner data
        if refused is not None:
            return self._send(writer, path, refused)
        topic = unquote(path[len("/api/stream/"):])
        try:
            validate_topics([topic])
            after = parse_last_event_id(head.header_values(LAST_EVENT_ID))
        except ProtocolError as exc:
            return self._send(writer, path, error_answer(400, exc.code, exc.detail))
        limit = _max_streams()
        if len(self.streams) >= limit:
            return self._send(writer, path, error_answer(
                503, "too-many-streams", f"{limit} streams are open; close one first"))
        stream = SseStream(self, writer, id, topic)
        self.streams[stream.id] = stream
        # Subscribe, then write the head, with no await in between (as the websocket side
        # does with "welcome"): once a client has read the head, every publish reaches it.
        hub.connect(stream, [topic])
        origins = head.header_values("Origin")
        cors = [("Access-Control-Allow-Origin", origins[0]), ("Vary", "Origin")] if origins else []
        self._send(writer, path, Answer(200, "text/event-stream", b"", cors, streaming=True))
        if after is not None:  # still no await: the replay goes out before any live event
            for frame in replay_frames(hub, topic, after):
                stream.send_frame(frame)
        eof = asyncio.get_running_loop().create_task(_until_eof(reader))
        try:
            await asyncio.wait({eof, stream.ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hub.disconnect(stream)
            self.streams.pop(stream.id, None)
            stream.end()
            eof.cancel()
            await asyncio.gather(eof, return_exceptions=True)
        return None

    def _send(self, writer: asyncio.StreamWriter, path: str, answer: Answer) -> None:
        """Write a response head (and body), counted like the websocket port's."""
        server = self.server
        data = answer.serialize(server._http.security(answer.content_type, path), "wslearn")
        writer.write(data)
        server._log_request("GET", path, answer.status)
        server.http_requests += 1
        server.http_bytes_sent += len(data)
        server._emit("http", path=path, status=answer.status)

    async def close(self) -> None:
        """End every stream and request, and close the listener (on ``stop()``)."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        listener.close()
        for stream in list(self.streams.values()):
            stream.end()  # held events are dropped and counted, the stream ends now
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_STOP_GRACE)
        for writer in list(self._writers):  # clients that do not read: abort
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        await listener.wait_closed()

    def abort_all(self) -> None:
        """Last resort when a shutdown failed: drop every stream's socket, free the port."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()


def _max_streams() -> int:
    """``MAX_SSE_STREAMS`` as ``wslearn.server`` re-exports it (where callers tune it)."""
    from . import server

    return int(getattr(server, "MAX_SSE_STREAMS", MAX_SSE_STREAMS))


async def _until_eof(reader: asyncio.StreamReader) -> None:
    """Read (and drop) what an SSE client sends until it closes its side."""
    while await reader.read(4096):
        pass
