"""Run an ``App`` on a real socket, in a background thread, with faults on demand.

A notebook cell blocks the kernel's event loop while it runs, and a browser tab
may stay connected across many cells. So the server cannot share the kernel's
loop: ``serve()`` starts a thread that owns its own event loop and returns once
the socket listens. Notebook code talks to it through thread-safe methods
(``publish``, ``stop``, the faults), which hop onto the server loop and wait for
the result with a bounded timeout.

Everything network-level is done by ``websockets`` (new asyncio API): the
handshake, framing, limits (``max_size`` -> close 1009), close codes. This
module adds routing, plain HTTP on the same port, observation (connections,
handshake counts, listeners) and the faults each chapter breaks things with:
``drop_all``, ``freeze``/``thaw``, ``refuse``/``accept_again``, ``delay``.
Server-sent event streams (``sse_url``) need a response that never ends, which
``websockets`` cannot send, so they get a second small listener on the same loop.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import email.utils
import http
import itertools
import logging
import math
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote

from websockets.asyncio.server import Server as _WSServer
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as _ws_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import OPEN

from .app import App, WebSocketDisconnect, fit_reason
from .handle import ConnectionInfo, Listener, ServerHandle
from .protocol import (
    ABNORMAL_CLOSURE,
    DEFAULT_MAX_SIZE,
    GOING_AWAY,
    POLICY_VIOLATION,
    ProtocolError,
    encode,
    validate_topics,
)

__all__ = ["ConnectionInfo", "Server", "serve"]

logger = logging.getLogger("wslearn.server")  # silent by default: see wslearn.handle

#: How long notebook-side calls wait for the server thread before giving up.
CALL_TIMEOUT: Final = 10.0
#: How long a close handshake may take before the TCP connection is aborted.
CLOSE_TIMEOUT: Final = 2.0
#: Handshake + HTTP request budget; longer than the longest long poll.
OPEN_TIMEOUT: Final = 45.0
#: Longest ``wait`` a long poll on ``/api/topics/<topic>`` may ask for (seconds).
MAX_POLL_WAIT: Final = 30.0
#: A client that lets this many bytes pile up unsent is closed (1008): it would
#: otherwise grow the server's memory without bound.
MAX_BUFFERED: Final = 4 * 1024 * 1024
#: Server-sent event streams (``GET /api/stream/<topic>`` on ``sse_url``) open at once;
#: one more is answered 503.
MAX_SSE_STREAMS: Final = 100
#: Longest request line + headers an SSE request may send (bytes); longer -> 431.
MAX_SSE_HEAD: Final = 8 * 1024
#: How long an SSE client may take to send its request line and headers (seconds).
SSE_HEAD_TIMEOUT: Final = 10.0

_thread_numbers = itertools.count(1)
_live_servers: weakref.WeakSet[Server] = weakref.WeakSet()


class _NotRunning(Exception):
    """The server loop is gone (stopped, or stopping while we waited)."""


class _Connection(ServerConnection):
    """A ``websockets`` connection that ``freeze()`` can stop reading.

    ``websockets`` pauses and resumes reading itself for flow control (its receive
    queue); a frozen connection must not be resumed by that, so the resume hook
    checks ``frozen`` first.
    """

    frozen = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.recv_messages.resume = self._resume_reading

    def _resume_reading(self) -> None:
        if not self.frozen:
            self.transport.resume_reading()

    def freeze(self) -> None:
        self.frozen = True
        self.transport.pause_reading()

    def thaw(self) -> None:
        self.frozen = False
        if not self.recv_messages.paused:
            self.transport.resume_reading()


def _disconnect(exc: ConnectionClosed) -> WebSocketDisconnect:
    """What the endpoint sees: the peer's close code, or 1006 when none came."""
    if exc.rcvd is not None:
        return WebSocketDisconnect(exc.rcvd.code, exc.rcvd.reason)
    return WebSocketDisconnect(ABNORMAL_CLOSURE, "")


class _SocketChannel:
    """Adapts a ``websockets`` connection to ``wslearn.app.Channel``.

    Outgoing frames take the direct path (written at once, like
    ``websockets.broadcast``) unless the server is frozen, delayed, or frames are
    already held for this socket: then they wait in ``_held`` and one flusher task
    sends them in order when they are due.
    """

    def __init__(self, server: Server, conn: _Connection, id: int, path: str, query: str):
        self.server = server
        self.conn = conn
        self.id = id
        self.path = path
        self.query = query
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self._held: collections.deque[tuple[float, str | bytes]] = collections.deque()
        self._flusher: asyncio.Task[None] | None = None
        self._too_slow = False

    async def recv(self) -> str | bytes:
        try:
            return await self.conn.recv()
        except ConnectionClosed as exc:
            raise _disconnect(exc) from None

    async def send(self, data: str | bytes) -> None:
        if self.conn.protocol.state is not OPEN or self._must_hold():
            if not self.send_nowait(data):
                await self._raise_closed()
            return
        try:
            await self.conn.send(data)  # awaits the write buffer: backpressure for replies
        except ConnectionClosed as exc:
            raise _disconnect(exc) from None

    def send_nowait(self, data: str | bytes) -> bool:
        conn = self.conn
        if conn.protocol.state is not OPEN:
            return False
        server = self.server
        if self._held or server._frozen or server._delay > 0:  # = _must_hold(), inlined
            self._held.append((self.loop.time() + server._delay, data))
            if self._flusher is None:
                self._flusher = self.loop.create_task(self._flush(), name=f"wslearn-held-{self.id}")
            return True
        if isinstance(data, str):
            conn.protocol.send_text(server._utf8(data))
        else:
            conn.protocol.send_binary(data)
        conn.send_data()
        if conn.transport.get_write_buffer_size() > MAX_BUFFERED and not self._too_slow:
            self._too_slow = True
            server._spawn(self.close(POLICY_VIOLATION, "client too slow: frames piled up"))
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.conn.close(code, fit_reason(reason))

    def _must_hold(self) -> bool:
        return bool(self._held) or self.server._frozen or self.server._delay > 0

    async def _raise_closed(self) -> None:
        await self.conn.wait_closed()
        code = self.conn.close_code or ABNORMAL_CLOSURE
        raise WebSocketDisconnect(code, self.conn.close_reason or "")

    async def _flush(self) -> None:
        try:
            while self._held:
                await self.server._unfrozen()
                wait = self._held[0][0] - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                _, data = self._held.popleft()
                await self.conn.send(data)
        except ConnectionClosed:
            self._held.clear()
        finally:
            self._flusher = None

    async def discard(self) -> None:
        """Drop held frames and stop the flusher (the connection is over)."""
        self._held.clear()
        flusher = self._flusher
        if flusher is not None:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)



class _SseStream:
    """One open ``text/event-stream`` response, subscribed to one topic of the hub.

    To ``TopicHub`` it looks like a websocket (``id``, ``send_nowait``), so it gets the
    very text every websocket subscriber gets, in publish order, with no event lost in
    a burst. Like ``_SocketChannel``, events are written at once unless the server is
    frozen or delayed (or events are already held): then one flusher sends them later.
    """

    def __init__(self, server: Server, writer: asyncio.StreamWriter, id: int, topic: str):
        self.server = server
        self.writer = writer
        self.id = f"sse-{id}"  # never equal to a websocket's int id in hub.subscriptions()
        self.topic = topic
        self.loop = asyncio.get_running_loop()
        self.ended: asyncio.Future[None] = self.loop.create_future()
        self._held: collections.deque[tuple[float, bytes]] = collections.deque()
        self._flusher: asyncio.Task[None] | None = None

    def send_nowait(self, text: str) -> bool:
        if self.ended.done() or self.writer.transport.is_closing():
            return False
        hub = self.server.app.state.hub
        data = _sse_event(text, hub.version(self.topic))  # publish counted it already
        server = self.server
        if self._held or server._frozen or server._delay > 0:
            self._held.append((self.loop.time() + server._delay, data))
            if self._flusher is None:
                self._flusher = self.loop.create_task(self._flush(), name=f"wslearn-{self.id}")
            return True
        self._write(data)
        return True

    def _write(self, data: bytes) -> None:
        if self.ended.done() or self.writer.transport.is_closing():
            return
        self.writer.write(data)
        self.server.http_bytes_sent += len(data)
        if self.writer.transport.get_write_buffer_size() > MAX_BUFFERED:
            _resolve(self.ended, None)  # the client does not read: end its stream

    async def _flush(self) -> None:
        try:
            while self._held and not self.ended.done():
                await self.server._unfrozen()
                wait = self._held[0][0] - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                self._write(self._held.popleft()[1])
        finally:
            self._flusher = None

    async def discard(self) -> None:
        """Drop held events and stop the flusher (the stream is over)."""
        self._held.clear()
        flusher = self._flusher
        if flusher is not None:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)


def _sse_event(text: str, version: int) -> bytes:
    """``id: <version>`` and one ``data:`` line per line of ``text``, then a blank line."""
    lines = "".join(f"data: {line}\n" for line in text.split("\n"))
    return f"id: {version}\n{lines}\n".encode()


class Server(ServerHandle):
    """A handle on one in-kernel websocket server (see ``serve()``).

    The handle lives in the notebook thread; the sockets live in the server thread.
    State that notebook code reads (``connection_count``, counters) is plain data
    updated by the server thread; calls that change things hop threads.

    The thread is a daemon thread, and an ``atexit`` hook stops every running
    server first: clients then see a clean 1001 when the kernel shuts down, and a
    server that someone forgot to stop can never keep the interpreter alive (a
    non-daemon thread would be joined *before* ``atexit`` hooks run, hanging exit).
    """

    def __init__(
        self,
        app: App | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        origins: Iterable[str] | None = None,
    ) -> None:
        if app is None:
            from .topics import topic_app

            app = topic_app()
        if not isinstance(app, App):
            raise TypeError(f"app must be a wslearn.App (or None for topic_app()), got {app!r}")
        if not isinstance(host, str) or not host:
            raise TypeError(f"host must be a str such as '127.0.0.1', got {host!r}")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in 0..65535 (0 = any free port), got {port!r}")
        if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1:
            raise ValueError(f"max_size must be a positive int (bytes), got {max_size!r}")
        if isinstance(origins, str):
            raise TypeError("origins must be a list of origins, e.g. ['https://hub.example.org']")
        self.app = app
        self.host = host
        self.max_size = max_size
        self.origins: tuple[str, ...] = tuple(origins or ())
        self._requested_port = port
        self._port: int | None = None
        self._sse_port: int | None = None

        # Observation (written by the server thread, read by anyone).
        self.handshake_attempts = 0
        self.http_requests = 0
        self.http_bytes_sent = 0
        self._listeners: list[Listener] = []
        self._channels: dict[int, _SocketChannel] = {}
        self._registry_lock = threading.Lock()
        self._next_id = 0

        # Faults (changed on the server thread only).
        self._frozen = False
        self._refusing = False
        self._delay = 0.0

        # Lifecycle.
        self._lifecycle_lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_future: asyncio.Future[tuple[int, str, float]] | None = None
        self._thaw_future: asyncio.Future[None] | None = None
        self._ws_server: _WSServer | None = None
        self._all_conns: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sse_server: asyncio.Server | None = None
        self._sse_tasks: set[asyncio.Task[None]] = set()
        self._sse_streams: dict[str, _SseStream] = {}
        self._sse_writers: set[asyncio.StreamWriter] = set()
        self._next_sse_id = 0
        self._utf8_text: str | None = None
        self._utf8_bytes = b""
        _live_servers.add(self)

    # -- lifecycle -------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the server accepts connections."""
        thread = self._thread
        stop = self._stop_future
        return thread is not None and thread.is_alive() and stop is not None and not stop.done()

    @property
    def port(self) -> int:
        """The bound port (chosen by the OS for ``port=0``; kept across ``start()``)."""
        if self._port is None:
            raise RuntimeError("the server has not started yet: call server.start()")
        return self._port

    def start(self, timeout: float = CALL_TIMEOUT) -> Server:
        """Start serving (again): a new thread and loop, on the same port as before."""
        self._not_on_server_thread("start()")
        with self._lifecycle_lock:
            if self._thread is not None:
                return self
            owner = getattr(self.app.state, "_wslearn_server", None)
            if owner is not None and owner is not self and owner.running:
                raise RuntimeError(
                    "this App is already served by another running Server; give each server "
                    "its own app (call topic_app() again) or stop the other one first"
                )
            ready = threading.Event()
            box: dict[str, BaseException] = {}
            thread = threading.Thread(
                target=self._thread_main,
                args=(ready, box),
                name=f"wslearn-server-{next(_thread_numbers)}",
                daemon=True,
            )
            self._thread = thread
            thread.start()
            if not ready.wait(timeout):
                raise TimeoutError(f"the server thread did not start within {timeout} s")
            if "error" in box:
                thread.join(timeout)
                self._thread = None
                raise box["error"]
            self.app.state._wslearn_server = self
            return self

    def stop(self, timeout: float = CALL_TIMEOUT, *, code: int = GOING_AWAY,
             reason: str = "server stopped") -> None:
        """Close the listener and every connection (1001), and end the server thread.

        Faults are cleared: a stopped-then-started server is a fresh process.
        Stopping a frozen server is prompt (it thaws first). Idempotent.
        """
        self._not_on_server_thread("stop()")
        with self._lifecycle_lock:
            thread, loop, stop = self._thread, self._loop, self._stop_future
            if thread is None:
                return
            if loop is not None and stop is not None:
                # RuntimeError: the loop already closed, the thread is ending anyway.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(
                        _resolve, stop, (code, reason, _close_wait_for_caller())
                    )
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(
                    f"the server thread did not stop within {timeout} s: is an endpoint "
                    "blocking its event loop (time.sleep instead of await asyncio.sleep)?"
                )
            self._thread = None
            if getattr(self.app.state, "_wslearn_server", None) is self:
                self.app.state._wslearn_server = None

    # -- addresses -------------------------------------------------------------

    def _authority(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = "[::1]" if host == "::" else f"[{host}]" if ":" in host else host
        return f"{host}:{self.port}"

    def http_url(self, path: str = "/") -> str:
        """``http://127.0.0.1:PORT/`` -- the browser lab and ``/api/topics/<topic>``."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        return f"http://{self._authority()}{path}"

    @property
    def sse_port(self) -> int:
        """The port of the server-sent events listener (its own port; kept across
        ``start()``): ``websockets`` answers plain HTTP in one piece, it cannot stream."""
        if self._sse_port is None:
            raise RuntimeError("the server has not started yet: call server.start()")
        return self._sse_port

    def sse_url(self, topic: str) -> str:
        """``http://127.0.0.1:SSE_PORT/api/stream/<topic>``: a ``text/event-stream`` of
        the topic's events (``new EventSource(url)``). Not validated, like ``url()``."""
        host = self._authority().rsplit(":", 1)[0]
        return f"http://{host}:{self.sse_port}/api/stream/{quote(str(topic), safe='')}"

    # -- observation -----------------------------------------------------------

    def _open_channels(self) -> list[_SocketChannel]:
        # "Open" is the websocket state, not "its handler still runs": the state
        # leaves OPEN in the very step that answers a client's close frame, so once
        # a client's close() returns, the server no longer counts it (no race).
        with self._registry_lock:
            channels = list(self._channels.values())
        return sorted((c for c in channels if c.conn.protocol.state is OPEN), key=lambda c: c.id)

    @property
    def connection_count(self) -> int:
        """How many websocket connections are open right now."""
        return len(self._open_channels())

    @property
    def connections(self) -> list[ConnectionInfo]:
        """The open connections by id, each with its path and topics."""
        channels = self._open_channels()
        hub = getattr(self.app.state, "hub", None)
        subs = hub.subscriptions() if hub is not None else {}
        return [ConnectionInfo(c.id, c.path, subs.get(c.id, ())) for c in channels]

    def reset_counters(self) -> None:
        """Zero ``handshake_attempts``, ``http_requests`` and ``http_bytes_sent``."""
        self.handshake_attempts = self.http_requests = self.http_bytes_sent = 0

    # -- publishing --------------------------------------------------------------

    def publish(self, topic: str, type: str, **fields: Any) -> int:
        """Send ``{"type": type, "topic": topic, **fields}`` to the topic's subscribers.

        Thread-safe; returns how many connections it was queued for. When the
        server is stopped, the event is still recorded (``/api/topics`` version)
        and 0 is returned: nobody was connected to receive it.
        """
        hub = getattr(self.app.state, "hub", None)
        if hub is None:
            raise RuntimeError(
                "this app has no TopicHub (app.state.hub): publish from your own endpoint, "
                "or serve topic_app()"
            )
        if self._on_server_thread():
            return self._publish(hub, topic, type, fields)
        try:
            return self._call(self._publish, hub, topic, type, fields)
        except _NotRunning:
            with self._lifecycle_lock:
                if self._thread is None:
                    hub.publish(topic, type, **fields)
                    return 0
            return self._call(self._publish, hub, topic, type, fields)

    def _publish(self, hub: Any, topic: str, type: str, fields: dict[str, Any]) -> int:
        delivered = hub.publish(topic, type, **fields)
        self._emit("publish", topic=topic, type=type, delivered=delivered)
        return delivered

    # -- faults ------------------------------------------------------------------

    def drop_all(self, code: int = ABNORMAL_CLOSURE, reason: str | None = None) -> int:
        """Drop every connection; returns how many.

        ``code=1006`` aborts the TCP connections with no close frame (a crash, a
        pulled cable); 1001, 1011, 1012 ... close cleanly with that code. Returns
        once the server has let go of them, so ``connection_count`` is 0 then.
        """
        reason = self._drop_reason(code, reason)
        return self._run(self._drop_all(code, reason, _close_wait_for_caller()), "drop_all()")

    async def _drop_all(self, code: int, reason: str,
                        close_wait: float = CLOSE_TIMEOUT) -> int:
        channels = list(self._channels.values())
        for channel in channels:
            channel.conn.close_timeout = close_wait
        if code == ABNORMAL_CLOSURE:
            for channel in channels:
                channel.conn.transport.abort()
        else:
            for channel in channels:
                channel.conn.thaw()  # so a frozen server can finish the close handshake
            await asyncio.gather(*(c.close(code, reason) for c in channels))
        if channels:
            await asyncio.wait([c.done for c in channels], timeout=CLOSE_TIMEOUT + 1)
        self._emit("fault", fault="drop_all", code=code, dropped=len(channels))
        return len(channels)

    def freeze(self) -> None:
        """Stop reading every socket and hold every outgoing frame and new handshake.

        The TCP connections stay open: clients look connected but get no pong, no
        app pong, no events -- a half-open connection. ``thaw()`` undoes it.
        """
        self._call(self._freeze, name="freeze()")

    def _freeze(self) -> None:
        if self._frozen:
            return
        self._frozen = True
        self._thaw_future = asyncio.get_running_loop().create_future()
        for channel in list(self._channels.values()):
            channel.conn.freeze()
        self._emit("fault", fault="freeze")

    def thaw(self) -> None:
        """Undo ``freeze()``: read again, send what was held, finish waiting handshakes."""
        self._call(self._thaw, name="thaw()")

    def _thaw(self) -> None:
        if not self._frozen:
            return
        self._frozen = False
        if self._thaw_future is not None:
            _resolve(self._thaw_future, None)
        for channel in list(self._channels.values()):
            channel.conn.thaw()
        self._emit("fault", fault="thaw")

    def refuse(self) -> None:
        """Answer every new handshake with HTTP 503 (existing connections stay)."""
        self._call(self._set_refusing, True, name="refuse()")

    def accept_again(self) -> None:
        """Undo ``refuse()``."""
        self._call(self._set_refusing, False, name="accept_again()")

    def _set_refusing(self, on: bool) -> None:
        if self._refusing != on:
            self._refusing = on
            self._emit("fault", fault="refuse" if on else "accept_again")

    def delay(self, seconds: float) -> None:
        """Send every outgoing frame ``seconds`` late (0 turns it off)."""
        self._call(self._set_delay, self._delay_seconds(seconds), name="delay()")

    def _set_delay(self, seconds: float) -> None:
        self._delay = seconds
        self._emit("fault", fault="delay", seconds=seconds)

    # -- thread plumbing -------------------------------------------------------------

    def _on_server_thread(self) -> bool:
        thread = self._thread
        return thread is not None and thread.ident == threading.get_ident()

    def _not_on_server_thread(self, what: str) -> None:
        if self._on_server_thread():
            raise RuntimeError(
                f"{what} was called on the server's own thread (from a listener or an "
                "endpoint) where it would wait for itself; call it from notebook code"
            )

    def _call(self, fn: Callable[..., Any], *args: Any, name: str | None = None) -> Any:
        """Run ``fn(*args)`` on the server loop and return its result (thread-safe)."""
        if self._on_server_thread():
            return fn(*args)
        loop = self._loop
        if loop is None or not self.running:
            if name is None:
                raise _NotRunning
            raise _stopped(name)
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            if result.set_running_or_notify_cancel():
                try:
                    result.set_result(fn(*args))
                except BaseException as exc:
                    result.set_exception(exc)

        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop closed between the check and the call
            if name is None:
                raise _NotRunning from None
            raise _stopped(name) from None
        return self._wait(result, name or "publish()")

    def _run(self, coro: Any, name: str) -> Any:
        """Run a coroutine on the server loop and wait for its result (thread-safe)."""
        if self._on_server_thread():
            coro.close()
            raise RuntimeError(
                f"{name} cannot wait on the server's own thread; call it from notebook code"
            )
        loop = self._loop
        if loop is None or not self.running:
            coro.close()
            raise _stopped(name)
        try:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:
            coro.close()
            raise _stopped(name) from None
        return self._wait(future, name)

    def _wait(self, future: concurrent.futures.Future[Any], name: str) -> Any:
        thread = self._thread
        waited = 0.0
        while True:
            try:
                return future.result(0.1)
            except concurrent.futures.TimeoutError:
                waited += 0.1
                if thread is None or not thread.is_alive():
                    future.cancel()
                    raise _NotRunning from None
                if waited >= CALL_TIMEOUT:
                    future.cancel()
                    raise TimeoutError(
                        f"{name}: the server loop did not answer within {CALL_TIMEOUT:g} s; "
                        "is an endpoint blocking it (time.sleep instead of await asyncio.sleep)?"
                    ) from None

    def _utf8(self, text: str) -> bytes:
        """UTF-8 of ``text``, encoded once per publish: fan-out hands every subscriber
        the very same str object, so an identity check finds the cached bytes."""
        if text is not self._utf8_text:
            self._utf8_text, self._utf8_bytes = text, text.encode()
        return self._utf8_bytes

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _unfrozen(self) -> None:
        """Return once the server is not frozen (or is stopping)."""
        while self._frozen and self._thaw_future is not None and self._stop_future is not None:
            if self._stop_future.done():
                return
            await asyncio.wait({self._thaw_future, self._stop_future},
                               return_when=asyncio.FIRST_COMPLETED)

    # -- the server thread -----------------------------------------------------------

    def _thread_main(self, ready: threading.Event, box: dict[str, BaseException]) -> None:
        try:
            asyncio.run(self._main(ready, box))
        except BaseException as exc:  # never print from a background thread: log
            logger.error("wslearn server thread crashed", exc_info=True)
            box.setdefault("error", exc)
        finally:
            self._loop = None
            ready.set()

    async def _main(self, ready: threading.Event, box: dict[str, BaseException]) -> None:
        loop = asyncio.get_running_loop()
        self._stop_future = loop.create_future()
        self._thaw_future = None
        self._frozen, self._refusing, self._delay = False, False, 0.0
        port = self._port if self._port is not None else self._requested_port
        try:
            ws_server = await _ws_serve(
                self._handler, self.host, port,
                process_request=self._process_request,
                process_response=self._process_response,
                create_connection=self._make_connection,  # type: ignore[arg-type]
                max_size=self.max_size,
                compression=None,  # fan-out writes the same bytes to everyone
                ping_interval=None,  # see docs/server.md: the client does heartbeats
                open_timeout=OPEN_TIMEOUT,
                close_timeout=CLOSE_TIMEOUT,
                server_header="wslearn",
                logger=logging.getLogger("wslearn.server.websockets"),
            )
        except OSError as exc:
            box["error"] = OSError(
                exc.errno,
                f"cannot listen on {self.host}:{port} ({exc.strerror}): the port is probably "
                "taken (another server or kernel); stop that one, or use port=0 for a free port",
            )
            ready.set()
            return
        self._port = ws_server.sockets[0].getsockname()[1]
        sse_port = self._sse_port if self._sse_port is not None else 0
        try:
            self._sse_server = await asyncio.start_server(
                self._sse_connected, self.host, sse_port, limit=MAX_SSE_HEAD)
        except OSError as exc:
            ws_server.close()
            await ws_server.wait_closed()
            box["error"] = OSError(
                exc.errno,
                f"cannot listen for server-sent events on {self.host}:{sse_port} "
                f"({exc.strerror}): the port is probably taken; stop that server first",
            )
            ready.set()
            return
        self._sse_port = self._sse_server.sockets[0].getsockname()[1]
        self._ws_server = ws_server
        self._loop = loop
        ready.set()
        self._emit("start")
        code, reason, close_wait = await self._stop_future
        await self._shutdown(ws_server, code, reason, close_wait)
        self._emit("stop")

    async def _shutdown(self, ws_server: _WSServer, code: int, reason: str,
                        close_wait: float = CLOSE_TIMEOUT) -> None:
        # A frozen server still stops promptly: thaw, drop held frames, then close.
        self._frozen = False
        if self._thaw_future is not None:
            _resolve(self._thaw_future, None)
        for channel in list(self._channels.values()):
            channel.conn.thaw()
            channel._held.clear()
        for conn in list(self._all_conns):
            conn.close_timeout = close_wait
        await self._close_sse()
        ws_server.close(code=code, reason=fit_reason(reason))
        try:
            await asyncio.wait_for(ws_server.wait_closed(), CLOSE_TIMEOUT + 1)
        except TimeoutError:  # an endpoint ignores disconnects: cancel it
            for task in list(ws_server.handler_tasks):
                task.cancel()
            if ws_server.handler_tasks:
                await asyncio.wait(list(ws_server.handler_tasks), timeout=1.0)
        for conn in list(self._all_conns):  # e.g. a TCP client that never sent a request
            if not conn.transport.is_closing():
                conn.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        await asyncio.sleep(0)  # let aborted transports call connection_lost

    def _make_connection(self, *args: Any, **kwargs: Any) -> _Connection:
        conn = _Connection(*args, **kwargs)
        self._all_conns.add(conn)
        return conn

    async def _handler(self, conn: ServerConnection) -> None:
        assert isinstance(conn, _Connection) and conn.request is not None
        path, _, query = conn.request.path.partition("?")
        with self._registry_lock:
            self._next_id += 1
            channel = _SocketChannel(self, conn, self._next_id, path, query)
            self._channels[channel.id] = channel
        if self._frozen:
            conn.freeze()
        self._emit("connect", id=channel.id, path=path)
        try:
            await self.app.handle(channel)
        finally:
            await channel.discard()
            with self._registry_lock:
                self._channels.pop(channel.id, None)
            self._emit("disconnect", id=channel.id, path=path,
                       code=conn.close_code or ABNORMAL_CLOSURE)
            _resolve(channel.done, None)

    # -- HTTP: handshakes and plain requests ------------------------------------------

    def _allowed_origin(self, origin: str | None) -> bool:
        if origin is None or origin in self.origins:
            return True
        port = self._port
        return origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}",
                          f"http://{self._authority()}")

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        upgrade = any("websocket" in v.lower() for v in request.headers.get_all("Upgrade"))
        if upgrade:
            self.handshake_attempts += 1
            self._emit("handshake", path=path)
        await self._unfrozen()  # a frozen server answers nothing, not even HTTP
        if self._stop_future is None or self._stop_future.done():
            return conn.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "server is stopping\n")
        if not upgrade:
            return await self._http(conn, path, query)
        if self._refusing:
            return self._refuse(conn, path, http.HTTPStatus.SERVICE_UNAVAILABLE,
                                "server is refusing connections (fault: refuse()); retry later\n")
        origins = request.headers.get_all("Origin")
        if len(origins) > 1 or not self._allowed_origin(origins[0] if origins else None):
            return self._refuse(
                conn, path, http.HTTPStatus.FORBIDDEN,
                f"origin {', '.join(origins)} is not allowed; pass serve(origins=[...]) "
                "to allow it\n",
            )
        if path not in self.app.routes:
            known = ", ".join(self.app.paths) or "none"
            return self._refuse(conn, path, http.HTTPStatus.NOT_FOUND,
                                f"no websocket endpoint at {path}; known paths: {known}\n")
        return None

    def _refuse(self, conn: ServerConnection, path: str, status: http.HTTPStatus,
                text: str) -> Response:
        self._emit("refused", path=path, status=int(status))
        return conn.respond(status, text)

    def _process_response(self, conn: ServerConnection, request: Request,
                          response: Response) -> None:
        if response.status_code != 101 and not request.headers.get_all("Upgrade"):
            self.http_bytes_sent += len(response.serialize())

    async def _http(self, conn: ServerConnection, path: str, query: str) -> Response:
        self.http_requests += 1
        if path.startswith("/api/topics/"):
            status, body = await self._api_topic(unquote(path[len("/api/topics/"):]), query)
            response = _response(status, "application/json", encode(body).encode())
        # ---- react branch: minimal @app.http dispatch (TEAM.md); the lead replaces this hunk
        elif (routed := await self._app_http(path, query)) is not None:
            response = routed
        # ---- end of the react branch's hunk
        else:
            page = _page_respond(path)
            if page is not None:
                response = _response(200, page[0], page[1])
            else:
                hint = (" (a websocket endpoint: connect with ws://)"
                        if path in self.app.routes else
                        " (server-sent events have their own port: server.sse_url(topic))"
                        if path.startswith("/api/stream/") else "")
                response = conn.respond(http.HTTPStatus.NOT_FOUND, f"not found: {path}{hint}\n")
        self._emit("http", path=path, status=response.status_code)
        return response

    # ---- react branch: minimal @app.http dispatch (TEAM.md); the lead replaces this hunk
    async def _app_http(self, path: str, query: str) -> Response | None:
        import json
        from types import MappingProxyType

        from .app import HttpRequest, HttpResponse, http_route

        handler = http_route(self.app, path)
        if handler is None:
            return None
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            result = await handler(HttpRequest(path, MappingProxyType(params)))
        except Exception:
            logger.error("http handler for %s raised", path, exc_info=True)
            return _response(500, "application/json", b'{"error":"server-error"}')
        if result is None:
            return None
        if not isinstance(result, HttpResponse):
            body = json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode()
            return _response(200, "application/json", body)
        return _response(result.status, result.content_type, result.body,
                         extra=list(result.headers))
    # ---- end of the react branch's hunk

    async def _api_topic(self, topic: str, query: str) -> tuple[int, dict[str, Any]]:
        """``/api/topics/<topic>?after=N&wait=S``: the topic's version, long-polled."""
        hub = getattr(self.app.state, "hub", None)
        if hub is None:
            return 404, {"error": "no-hub", "detail": "this app has no topic hub"}
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            validate_topics([topic])
            after = _number(params, "after", int, 0, math.inf)
            wait = _number(params, "wait", float, 0.0, MAX_POLL_WAIT)
        except ProtocolError as exc:
            return 400, exc.as_message()
        if after is not None and wait:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while hub.version(topic) <= after and (left := deadline - loop.time()) > 0:
                changed = hub.changed(topic)
                try:
                    assert self._stop_future is not None
                    await asyncio.wait({changed, self._stop_future}, timeout=left,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    hub.forget(topic, changed)
                    changed.cancel()
                if self._stop_future.done():
                    break
        return 200, {"topic": topic, "version": hub.version(topic), "last": hub.last(topic)}

    # -- server-sent events (their own listener, same loop) -----------------------------

    def _sse_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """``asyncio.start_server``'s callback: serve the request in a task this server
        owns, so that ``stop()`` can end it (and a cancelled task logs nothing)."""
        stop = self._stop_future
        if len(self._sse_tasks) >= 2 * MAX_SSE_STREAMS or stop is None or stop.done():
            writer.transport.abort()
            return
        self._next_sse_id += 1
        task = asyncio.get_running_loop().create_task(
            self._sse_client(reader, writer, self._next_sse_id),
            name=f"wslearn-sse-{self._next_sse_id}")
        self._sse_tasks.add(task)
        task.add_done_callback(self._sse_tasks.discard)

    async def _sse_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          id: int) -> None:
        self._sse_writers.add(writer)
        try:
            await self._sse_request(reader, writer, id)
        except ConnectionError:
            pass  # the client went away mid-request
        except Exception:  # never print from the server thread: log
            logger.error("server-sent events request failed", exc_info=True)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)
            writer.transport.abort()  # no-op once closed; else a client that does not read
            self._sse_writers.discard(writer)

    async def _sse_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           id: int) -> None:
        """``GET /api/stream/<topic>``: a ``text/event-stream`` until either side leaves."""
        try:
            async with asyncio.timeout(SSE_HEAD_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return self._sse_error(writer, "", 431, "too-large", "the request line and headers "
                                   f"must fit in {MAX_SSE_HEAD} bytes")
        except (asyncio.IncompleteReadError, TimeoutError):
            return None  # no complete request: nothing to answer
        lines = head.decode("latin-1").split("\r\n")
        request_line = lines[0].split(" ")
        fields = [line.partition(":") for line in lines[1:] if line]
        if (len(request_line) != 3 or not request_line[2].startswith("HTTP/1.")
                or any(not sep for _, sep, _ in fields)):
            return self._sse_error(writer, "", 400, "bad-request", "not an HTTP/1.1 request")
        method, target, _ = request_line
        path = target.partition("?")[0]
        await self._unfrozen()  # a frozen server answers nothing, like the websocket port
        if method != "GET":
            return self._sse_error(writer, path, 405, "bad-method",
                                   f"{method} is not allowed: streams are GET only")
        origins = [value.strip() for name, _, value in fields if name.strip().lower() == "origin"]
        if len(origins) > 1 or not self._allowed_origin(origins[0] if origins else None):
            return self._sse_error(writer, path, 403, "bad-origin",
                                   f"origin {', '.join(origins)} is not allowed; pass "
                                   "serve(origins=[...]) to allow it")
        hub = getattr(self.app.state, "hub", None)
        if not path.startswith("/api/stream/") or hub is None:
            return self._sse_error(writer, path, 404, "not-found",
                                   f"no stream at {path}; use /api/stream/<topic> "
                                   "(served for apps with a topic hub)")
        topic = unquote(path[len("/api/stream/"):])
        try:
            validate_topics([topic])
        except ProtocolError as exc:
            return self._sse_error(writer, path, 400, exc.code, exc.detail)
        if len(self._sse_streams) >= MAX_SSE_STREAMS:
            return self._sse_error(writer, path, 503, "too-many-streams",
                                   f"{MAX_SSE_STREAMS} streams are open; close one first")
        stream = _SseStream(self, writer, id, topic)
        self._sse_streams[stream.id] = stream
        # Subscribe, then write the head, with no await in between (as the websocket side
        # does with "welcome"): once a client has read the head, every publish reaches it.
        hub.connect(stream, [topic])
        cors = [("Access-Control-Allow-Origin", origins[0]), ("Vary", "Origin")] if origins else []
        self._sse_write(writer, path, _response(200, "text/event-stream", b"", extra=cors,
                                                streaming=True))
        eof = asyncio.get_running_loop().create_task(_until_eof(reader))
        try:
            await asyncio.wait({eof, stream.ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hub.disconnect(stream)
            self._sse_streams.pop(stream.id, None)
            _resolve(stream.ended, None)
            await stream.discard()
            eof.cancel()
            await asyncio.gather(eof, return_exceptions=True)
        return None

    def _sse_error(self, writer: asyncio.StreamWriter, path: str, status: int, error: str,
                   detail: str) -> None:
        body = encode({"type": "error", "error": error, "detail": detail}).encode()
        extra = [("Allow", "GET")] if status == 405 else []
        self._sse_write(writer, path, _response(status, "application/json", body, extra=extra))

    def _sse_write(self, writer: asyncio.StreamWriter, path: str, response: Response) -> None:
        """Write a response head (and body) on the SSE listener, counted like the others.

        That listener is plain asyncio, so the ``Server`` header that ``websockets`` adds on
        the main port is added here.
        """
        response.headers["Server"] = "wslearn"
        data = response.serialize()
        status = response.status_code
        writer.write(data)
        self.http_requests += 1
        self.http_bytes_sent += len(data)
        self._emit("http", path=path, status=status)

    async def _close_sse(self) -> None:
        """End every stream and request of the SSE listener, and close it (on ``stop()``)."""
        sse_server, self._sse_server = self._sse_server, None
        if sse_server is None:
            return
        sse_server.close()
        tasks = list(self._sse_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=0.5)
        for writer in list(self._sse_writers):  # clients that do not read: abort
            writer.transport.abort()
        if self._sse_tasks:
            await asyncio.wait(list(self._sse_tasks), timeout=1.0)
        await sse_server.wait_closed()


async def _until_eof(reader: asyncio.StreamReader) -> None:
    """Read (and drop) what an SSE client sends until it closes its side."""
    while await reader.read(4096):
        pass


def _number(params: dict[str, str], name: str, kind: type, low: float, high: float) -> Any:
    if name not in params:
        return None
    try:
        value = kind(params[name])
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not low <= value <= high:
        raise ProtocolError("bad-param", f"{name} must be a number in {low:g}..{high:g}, "
                                         f"got {params[name]!r}")
    return value


def _response(status: int, content_type: str, body: bytes, *,
              extra: list[tuple[str, str]] | None = None, streaming: bool = False) -> Response:
    """One HTTP response (the connection closes after it). ``streaming``: an event stream
    whose length is unknown, so no ``Content-Length``, and ``no-cache`` rather than
    ``no-store`` (EventSource's convention)."""
    length = [] if streaming else [("Content-Length", str(len(body)))]
    headers = Headers([
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Connection", "close"),
        *length,
        ("Content-Type", content_type),
        ("Cache-Control", "no-cache" if streaming else "no-store"),
        *(extra or []),
    ])
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def _page_respond(path: str) -> tuple[str, bytes] | None:
    """The browser lab's static files (``wslearn.page``), or None if it is absent."""
    try:
        from . import page
    except ModuleNotFoundError as exc:
        if exc.name in ("wslearn.page", __package__ + ".page"):
            return None
        raise
    respond = getattr(page, "respond", None)
    return respond(path) if respond is not None else None


#: How long a close started from a thread that runs an event loop waits for the peer's
#: close frame (see ``_close_wait_for_caller``).
QUICK_CLOSE_WAIT: Final = 0.05


def _close_wait_for_caller() -> float:
    """How long ``stop()``/``drop_all()`` should wait for clients' close frames.

    They block their caller until the server has let go. When the caller's thread runs
    an event loop -- a notebook cell on the kernel loop, where the learner's client also
    lives -- that client cannot answer the closing handshake until the call returns, so
    waiting the full ``CLOSE_TIMEOUT`` would only stall the cell for nothing. The close
    frame (with its code and reason) is still sent first, so the client reads it when its
    loop runs again; only the wait for its reply is cut short.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return CLOSE_TIMEOUT
    return QUICK_CLOSE_WAIT


def _stopped(name: str) -> RuntimeError:
    return RuntimeError(f"{name}: the server is stopped; call server.start() first")


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def serve(
    app: App | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    origins: Iterable[str] | None = None,
) -> Server:
    """Start ``app`` (default: ``topic_app()``) in a background thread; return its handle.

    Binds 127.0.0.1 on a free port by default: nothing outside this machine can
    connect, and two notebooks never fight over a port. Returns once listening::

        server = wslearn.serve()
        server.url(topics=["analysis"])   # 'ws://127.0.0.1:PORT/ws?topics=analysis'
        server.publish("analysis", "analysis.updated", id=7)
        server.stop()
    """
    return Server(app, host, port, max_size=max_size, origins=origins).start()


@atexit.register
def _stop_all_servers() -> None:
    """Stop servers still running at interpreter exit, so clients see a clean 1001."""
    for server in list(_live_servers):
        try:
            server.stop(timeout=3.0)
        except Exception:
            logger.error("could not stop %r at exit", server, exc_info=True)
