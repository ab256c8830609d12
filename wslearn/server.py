"""Run an ``App`` on a real socket, in a background thread, with faults on demand.

A notebook cell blocks the kernel's event loop while it runs, and a browser tab
may stay connected across many cells. So the server cannot share the kernel's
loop: ``serve()`` starts a thread that owns its own event loop (``wslearn.loop_thread``)
and returns once the socket listens. Notebook code talks to it through thread-safe
methods (``publish``, ``stop``, the faults), which hop onto the server loop and wait
for the result with a bounded timeout.

Everything network-level is done by ``websockets`` (new asyncio API): the
handshake, framing, limits (``max_size`` -> close 1009), close codes. This module
keeps ``Server``'s own jobs: lifecycle, the faults each chapter breaks things with
(``drop_all``, ``freeze``/``thaw``, ``refuse``/``accept_again``, ``delay``) and
observation (connections, counters, listeners, recorded background errors). The
rest lives next door: the loop thread (``wslearn.loop_thread``), each connection and the
faults' hold on its writes (``wslearn.server_socket``), request checks and plain HTTP on
the same port (``wslearn.http_api``), server-sent event streams on a second listener of
the same loop (``wslearn.sse``).

Why ~750 lines: ``Server`` is one public handle with some thirty short members -- six
faults, each a notebook-side call plus its loop-side half, the lifecycle with its
shutdown paths, the observation properties -- and every one is documented for learners
who read it next to chapter 01. Splitting the class itself would scatter one API.

Safe by default (see ``docs/server.md``): loopback only, a per-server ``key`` that
``url()`` carries, Origin and Host checks, a cap on connections, a handshake timeout,
size limits, and a bound on what a slow or faulted client can make the server hold.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import ipaddress
import itertools
import logging
import math
import socket
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Final
from urllib.parse import quote, urlencode

from websockets.asyncio.server import Server as _WSServer
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as _ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import OPEN

from .app import App, WebSocketDisconnect, fit_reason
from .auth import TokenIssuer
from .http_api import HttpApi, make_key
from .listeners import Listeners
from .loop_thread import LoopThread, NotRunning
from .protocol import (
    ABNORMAL_CLOSURE,
    DEFAULT_MAX_SIZE,
    GOING_AWAY,
    MAX_BUFFERED,
    without_params,
)
from .resume import DEFAULT_REPLAY_LIMIT
from .server_handle import ConnectionInfo, Listener, ServerHandle
from .server_socket import MAX_PENDING, ServerSocket, SocketChannel
from .sse import MAX_SSE_HEAD, MAX_SSE_STREAMS, SSE_HEAD_TIMEOUT, SseListener

__all__ = ["ConnectionInfo", "NotRunning", "Server", "serve"]

logger = logging.getLogger("wslearn.server")  # silent by default: see wslearn.server_handle

#: How long notebook-side calls wait for the server thread before giving up.
CALL_TIMEOUT: Final = 10.0
#: How long a close handshake may take before the TCP connection is aborted (the
#: default of ``serve(close_timeout=...)``).
CLOSE_TIMEOUT: Final = 2.0
#: How long a client may take to send its request line and headers (seconds), like
#: websockets' own default. A long poll may then wait longer: the timeout stops once the
#: request has arrived.
OPEN_TIMEOUT: Final = 10.0
#: Open websocket connections at once; one more handshake is answered 503.
MAX_CONNECTIONS: Final = 1024
#: Keepalive ping interval (and timeout) when the server listens beyond loopback: a peer
#: that vanished without a FIN (laptop lid, Wi-Fi) is reaped instead of held for ever.
KEEPALIVE_INTERVAL: Final = 20.0
#: Background errors kept on ``server.errors`` (the oldest are dropped).
MAX_ERRORS: Final = 100

_thread_numbers = itertools.count(1)
_live_servers: weakref.WeakSet[Server] = weakref.WeakSet()

# Re-exported for callers that tuned them here (tests monkeypatch these names).
__all__ += ["MAX_PENDING", "MAX_SSE_HEAD", "MAX_SSE_STREAMS", "SSE_HEAD_TIMEOUT"]


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
        key: str | bool = True,
        hosts: Iterable[str] | None = None,
        max_connections: int = MAX_CONNECTIONS,
        max_buffered: int | None = None,
        open_timeout: float = OPEN_TIMEOUT,
        close_timeout: float = CLOSE_TIMEOUT,
        keepalive: float | None = None,
        auth: TokenIssuer | None = None,
        replay: int = DEFAULT_REPLAY_LIMIT,
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
        if isinstance(hosts, str):
            raise TypeError("hosts must be a list of host names, e.g. ['hub.example.org']")
        _positive_int("max_connections", max_connections)
        if max_buffered is not None:
            _positive_int("max_buffered", max_buffered)
        _positive_seconds("open_timeout", open_timeout)
        _positive_seconds("close_timeout", close_timeout)
        if keepalive is not None:
            _positive_seconds("keepalive", keepalive)
        self.app = app
        self.host = host
        self.max_size = max_size
        self.origins: tuple[str, ...] = tuple(origins or ())
        self.hosts: tuple[str, ...] = tuple(hosts or ())
        self.key: str | None = make_key(key)
        self.max_connections = max_connections
        self._max_buffered = max_buffered
        self.open_timeout = float(open_timeout)
        self.close_timeout = float(close_timeout)
        self.keepalive = keepalive
        self._init_connection_rules(auth, replay)
        self._requested_port = port
        self._port: int | None = None
        self._http = HttpApi(self)
        self._sse = SseListener(self)
        if _all_interfaces(host):
            warnings.warn(
                f"serve(host={host!r}) listens on every network interface: anyone who can "
                "reach this machine can try to connect (they still need server.key). Use the "
                "default host='127.0.0.1' unless other machines must connect.",
                UserWarning, stacklevel=3,
            )

        # Observation (written by the server thread, read by anyone).
        self.handshake_attempts = 0
        self.http_requests = 0
        self.http_bytes_sent = 0
        #: Frames held by a fault (or piled up for a slow client) that were never sent
        #: because the connection ended first: counted, never dropped silently.
        self.frames_lost = 0
        self._errors: collections.deque[str] = collections.deque(maxlen=MAX_ERRORS)
        self._listeners: Listeners[Listener] = Listeners("fn(event, info)")
        self._channels: dict[int, SocketChannel] = {}
        self._registry_lock = threading.Lock()
        self._next_id = 0

        # Faults (changed on the server thread only).
        self._frozen = False
        self._refusing = False
        self._delay = 0.0

        # Lifecycle.
        self._lifecycle_lock = threading.RLock()
        self._loop_thread = LoopThread(f"wslearn-server-{next(_thread_numbers)}",
                                       call_timeout=CALL_TIMEOUT)
        self._stop_future: asyncio.Future[tuple[int, str, float]] | None = None
        self._stop_error: BaseException | None = None
        self._thaw_future: asyncio.Future[None] | None = None
        self._all_conns: weakref.WeakSet[ServerSocket] = weakref.WeakSet()
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self._tcp_connections = 0  #: open TCP connections of the websocket port
        self._tasks: set[asyncio.Task[Any]] = set()
        self._utf8_text: str | None = None
        self._utf8_bytes = b""
        _live_servers.add(self)

    # -- settings ----------------------------------------------------------------

    @property
    def max_buffered(self) -> int:
        """Bytes a client may let pile up (socket buffer + held frames) before 1008."""
        return self._max_buffered if self._max_buffered is not None else MAX_BUFFERED

    def _keepalive_interval(self) -> float | None:
        """``keepalive`` if given; else pings only beyond loopback (see KEEPALIVE_INTERVAL).
        On loopback a dead peer's socket is reset by the kernel at once, and the course's
        own client teaches application-level heartbeats."""
        if self.keepalive is not None:
            return self.keepalive
        return None if _is_loopback(self.host) else KEEPALIVE_INTERVAL

    # -- lifecycle -------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the server accepts connections."""
        stop = self._stop_future
        return self._loop_thread.alive and stop is not None and not stop.done()

    @property
    def errors(self) -> list[str]:
        """Background failures on the server thread, oldest first (at most MAX_ERRORS).

        They are recorded here (and logged to ``wslearn.server``), never printed: a
        thread that prints lands its text in whichever notebook cell runs next."""
        return list(self._errors)

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
            if self._loop_thread.thread is not None:
                return self
            owner = getattr(self.app.state, "_wslearn_server", None)
            if owner is not None and owner is not self and owner.running:
                raise RuntimeError(
                    "this App is already served by another running Server; give each server "
                    "its own app (call topic_app() again) or stop the other one first"
                )
            self._stop_error = None
            self._loop_thread.start(self._main, timeout)
            self.app.state._wslearn_server = self
            return self

    def stop(self, timeout: float = CALL_TIMEOUT, *, code: int = GOING_AWAY,
             reason: str = "server stopped") -> None:
        """Close the listener and every connection (1001), and end the server thread.

        Faults are cleared: a stopped-then-started server is a fresh process.
        Stopping a frozen server is prompt (it thaws first). Idempotent. If the
        shutdown itself failed, the port is still released and the error is raised.
        """
        reason = self._close_reason(code, reason)
        _positive_seconds("timeout", timeout)
        self._not_on_server_thread("stop()")
        with self._lifecycle_lock:
            thread = self._loop_thread
            if thread.thread is None:
                return
            stop = self._stop_future
            if stop is not None:
                thread.call_soon(_resolve, stop, (code, reason, _close_wait_for_caller(self)))
            if not thread.join(timeout):
                raise TimeoutError(
                    f"the server thread did not stop within {timeout} s: is an endpoint "
                    "blocking its event loop (time.sleep instead of await asyncio.sleep)?"
                )
            if getattr(self.app.state, "_wslearn_server", None) is self:
                self.app.state._wslearn_server = None
            error, self._stop_error = self._stop_error, None
            if error is not None:
                raise RuntimeError(f"the server stopped and released its port, but its "
                                   f"shutdown failed: {error!r}") from error

    # -- addresses -------------------------------------------------------------

    def _authority(self) -> str:
        host = "127.0.0.1" if _all_interfaces(self.host) and ":" not in self.host else self.host
        host = "[::1]" if host == "::" else f"[{host}]" if ":" in host else host
        return f"{host}:{self.port}"

    def _url_params(self) -> list[tuple[str, str]]:
        return [("key", self.key)] if self.key is not None else []

    def http_url(self, path: str = "/") -> str:
        """``http://127.0.0.1:PORT/`` -- the server's HTTP address (the browser lab's files).

        Data routes (``/api/...``) also need ``?key=`` + ``server.key``; the lab link
        (``wslearn.page.lab_url``) adds it for the page, which forwards it."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        return f"http://{self._authority()}{path}"

    @property
    def sse_port(self) -> int:
        """The port of the server-sent events listener (its own port; kept across
        ``start()``): ``websockets`` answers plain HTTP in one piece, it cannot stream."""
        if self._sse.port is None:
            raise RuntimeError("the server has not started yet: call server.start()")
        return self._sse.port

    def sse_url(self, topic: str) -> str:
        """``http://127.0.0.1:SSE_PORT/api/stream/<topic>?key=...``: a ``text/event-stream``
        of the topic's events (``new EventSource(url)``). Not validated, like ``url()``."""
        host = self._authority().rsplit(":", 1)[0]
        return _with_params(f"http://{host}:{self.sse_port}/api/stream/"
                            f"{quote(str(topic), safe='')}", self._url_params())

    def _interface_names(self) -> set[str]:
        """Names a client may use for a server bound to every interface."""
        names = {socket.gethostname().lower()}
        with contextlib.suppress(OSError):
            names |= {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
        return names

    # -- observation -----------------------------------------------------------

    def _open_channels(self) -> list[SocketChannel]:
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
        """Zero ``handshake_attempts``, ``handshakes``, ``http_requests``, ``http_bytes_sent``,
        ``frames_lost``."""
        self.handshake_attempts = self.http_requests = self.http_bytes_sent = 0
        self.frames_lost = self.handshakes = 0

    def _record(self, what: str, exc: BaseException | None = None) -> None:
        """Keep a background failure on ``errors`` and log it (silent unless configured)."""
        text = what if exc is None else f"{what}: {type(exc).__name__}: {exc}"
        self._errors.append(text)
        logger.error("%s", what, exc_info=exc)

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The server loop's exception handler: record instead of printing to stderr."""
        exc = context.get("exception")
        self._record(str(context.get("message", "unhandled error on the server loop")), exc)

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
        try:
            return self._loop_thread.call(self._publish, hub, topic, type, fields,
                                          what="publish()")
        except NotRunning:
            with self._lifecycle_lock:
                if self._loop_thread.thread is None:
                    hub.publish(topic, type, **fields)
                    return 0
            return self._loop_thread.call(self._publish, hub, topic, type, fields,
                                          what="publish()")

    def _publish(self, hub: Any, topic: str, type: str, fields: dict[str, Any]) -> int:
        delivered = int(hub.publish(topic, type, **fields))
        self._emit("publish", topic=topic, type=type, delivered=delivered)
        return delivered

    # -- faults ------------------------------------------------------------------

    def drop_all(self, code: int = ABNORMAL_CLOSURE, reason: str | None = None) -> int:
        """Drop every connection; returns how many.

        ``code=1006`` aborts the TCP connections with no close frame (a crash, a
        pulled cable); 1001, 1011, 1012 ... close cleanly with that code. Returns
        once the server has let go of them, so ``connection_count`` is 0 then.
        Frames a fault still held for them are lost (``frames_lost``).
        """
        reason = self._drop_reason(code, reason)
        return int(self._run(self._drop_all(code, reason, _close_wait_for_caller(self)),
                             "drop_all()"))

    async def _drop_all(self, code: int, reason: str, close_wait: float) -> int:
        channels = list(self._channels.values())
        for channel in channels:
            channel.end_now(close_wait)
        if code == ABNORMAL_CLOSURE:
            for channel in channels:
                channel.conn.transport.abort()
        else:
            await asyncio.gather(*(c.close(code, reason) for c in channels))
        if channels:
            await asyncio.wait([c.done for c in channels], timeout=self.close_timeout + 1)
        self._emit("fault", fault="drop_all", code=code, dropped=len(channels))
        return len(channels)

    def freeze(self) -> None:
        """Stop reading every socket and hold every outgoing frame and new handshake.

        The TCP connections stay open: clients look connected but get no pong, no
        app pong, no events -- a half-open connection. ``thaw()`` undoes it.
        """
        self._call(self._freeze, "freeze()")

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
        self._call(self._thaw, "thaw()")

    def _thaw(self) -> None:
        if not self._frozen:
            return
        self._frozen = False
        if self._thaw_future is not None:
            _resolve(self._thaw_future, None)
        for channel in list(self._channels.values()):
            channel.conn.thaw()
        self._sse.thaw()
        self._emit("fault", fault="thaw")

    def refuse(self) -> None:
        """Answer every new handshake with HTTP 503 (existing connections stay)."""
        self._call(self._set_refusing, "refuse()", True)

    def accept_again(self) -> None:
        """Undo ``refuse()``."""
        self._call(self._set_refusing, "accept_again()", False)

    def _set_refusing(self, on: bool) -> None:
        if self._refusing != on:
            self._refusing = on
            self._emit("fault", fault="refuse" if on else "accept_again")

    def delay(self, seconds: float) -> None:
        """Send every outgoing frame ``seconds`` late, in order: events, replies, protocol
        pongs and close frames alike (0 turns it off; frames already held keep their time)."""
        self._call(self._set_delay, "delay()", self._delay_seconds(seconds))

    def _set_delay(self, seconds: float) -> None:
        self._delay = seconds
        self._emit("fault", fault="delay", seconds=seconds)

    # -- thread plumbing -------------------------------------------------------------

    def _on_server_thread(self) -> bool:
        return self._loop_thread.on_thread()

    def _not_on_server_thread(self, what: str) -> None:
        if self._on_server_thread():
            raise RuntimeError(
                f"{what} was called on the server's own thread (from a listener or an "
                "endpoint) where it would wait for itself; call it from notebook code"
            )

    def _on_loop(self, fn: Callable[..., Any], what: str, *args: Any) -> Any:
        return self._call(fn, what, *args)

    def _call(self, fn: Callable[..., Any], what: str, *args: Any) -> Any:
        """Run ``fn(*args)`` on the server loop (a stopped server: a clear RuntimeError)."""
        if not self.running and not self._on_server_thread():
            raise NotRunning(f"{what}: the server is stopped; call server.start() first")
        return self._loop_thread.call(fn, *args, what=what)

    def _run(self, coro: Any, what: str) -> Any:
        """Run a coroutine on the server loop and wait for its result (thread-safe)."""
        if not self.running and not self._on_server_thread():
            coro.close()
            raise NotRunning(f"{what}: the server is stopped; call server.start() first")
        return self._loop_thread.run(coro, what)

    def _utf8(self, text: str) -> bytes:
        """UTF-8 of ``text``, encoded once per publish: fan-out hands every subscriber
        the very same str object, so an identity check finds the cached bytes."""
        if text is not self._utf8_text:
            self._utf8_text, self._utf8_bytes = text, text.encode()
        return self._utf8_bytes

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, ConnectionClosed | WebSocketDisconnect):
                self._record(f"server task {task.get_name()} failed", exc)

    async def _unfrozen(self) -> None:
        """Return once the server is not frozen (or is stopping)."""
        while self._frozen and self._thaw_future is not None and self._stop_future is not None:
            if self._stop_future.done():
                return
            waiting: set[asyncio.Future[Any]] = {self._thaw_future, self._stop_future}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)

    # -- the server thread -----------------------------------------------------------

    async def _main(self, ready: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_exception)
        self._stop_future = loop.create_future()
        self._thaw_future = None
        self._frozen, self._refusing, self._delay = False, False, 0.0
        self._flap = None
        port = self._port if self._port is not None else self._requested_port
        interval = self._keepalive_interval()
        try:
            ws_server = await _ws_serve(
                self._handler, self.host, port,
                process_request=self._http.process_request,
                process_response=self._http.process_response,
                create_connection=self._make_connection,  # type: ignore[arg-type]
                max_size=self.max_size,
                compression=None,  # fan-out writes the same bytes to everyone
                ping_interval=interval,  # None on loopback: see _keepalive_interval
                ping_timeout=interval,
                open_timeout=None,  # our own head timeout: see ServerSocket
                close_timeout=self.close_timeout,
                server_header="wslearn",
                logger=logging.getLogger("wslearn.server.websockets"),
            )
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot listen on {self.host}:{port} ({exc.strerror}): the port is probably "
                "taken (another server or kernel); stop that one, or use port=0 for a free port",
            ) from None
        self._port = ws_server.sockets[0].getsockname()[1]
        sse_port = self._sse.port if self._sse.port is not None else 0
        try:
            await self._sse.start(self.host, sse_port)
        except OSError as exc:
            ws_server.close()
            await ws_server.wait_closed()
            raise OSError(
                exc.errno,
                f"cannot listen for server-sent events on {self.host}:{sse_port} "
                f"({exc.strerror}): the port is probably taken; stop that server first",
            ) from None
        ready()
        self._emit("start")
        code, reason, close_wait = await self._stop_future
        try:
            await self._shutdown(ws_server, code, reason, close_wait)
        except BaseException as exc:  # still release the port; stop() reports the error
            self._stop_error = exc
            self._record("shutdown failed", exc)
            ws_server.close(close_connections=False)
            self._sse.abort_all()
            for conn in list(self._all_conns):
                conn.transport.abort()
            for task in [*self._handler_tasks, *self._tasks]:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws_server.wait_closed(), 1.0)
        self._emit("stop")

    async def _shutdown(self, ws_server: _WSServer, code: int, reason: str,
                        close_wait: float) -> None:
        # A frozen server still stops promptly: thaw, drop held frames (counted), close.
        self._frozen = False
        self._flap = None
        if self._thaw_future is not None:
            _resolve(self._thaw_future, None)
        for channel in list(self._channels.values()):
            channel.end_now(close_wait)
        for conn in list(self._all_conns):
            conn.close_timeout = close_wait
        await self._sse.close()
        ws_server.close(code=code, reason=fit_reason(reason))
        try:
            await asyncio.wait_for(ws_server.wait_closed(), self.close_timeout + 1)
        except TimeoutError:  # an endpoint ignores disconnects: cancel it
            tasks = list(self._handler_tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=1.0)
        for conn in list(self._all_conns):  # e.g. a TCP client that never sent a request
            if not conn.transport.is_closing():
                conn.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        await asyncio.sleep(0)  # let aborted transports call connection_lost

    def _make_connection(self, *args: Any, **kwargs: Any) -> ServerSocket:
        conn = ServerSocket(*args, **kwargs)
        conn.server_handle = self
        self._all_conns.add(conn)
        return conn

    async def _handler(self, conn: ServerConnection) -> None:
        assert isinstance(conn, ServerSocket) and conn.request is not None
        task = asyncio.current_task()
        if task is not None:
            self._handler_tasks.add(task)
        path, _, raw_query = conn.request.path.partition("?")
        # The endpoint never sees the key (it might echo or log it). A second "?" is read
        # as "&", so url() + "?name=ada" still works (the key comes last in url()).
        query = without_params(raw_query.replace("?", "&"), "key")
        with self._registry_lock:
            self._next_id += 1
            channel = SocketChannel(self, conn, self._next_id, path, query)
            self._channels[channel.id] = channel
        if self._frozen:
            conn.freeze()
        self._emit("connect", id=channel.id, path=path)
        try:
            await self._serve_channel(channel)
        finally:
            with self._registry_lock:
                self._channels.pop(channel.id, None)
            self._emit("disconnect", id=channel.id, path=path,
                       code=conn.close_code or ABNORMAL_CLOSURE)
            _resolve(channel.done, None)
            if task is not None:
                self._handler_tasks.discard(task)


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _positive_seconds(name: str, value: Any) -> None:
    if (not isinstance(value, int | float) or isinstance(value, bool)
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


def _with_params(url: str, params: list[tuple[str, str]]) -> str:
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _all_interfaces(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _close_wait_for_caller(server: Server) -> float:
    """How long ``stop()``/``drop_all()`` should wait for clients' close frames.

    They block their caller until the server has let go. When the caller's thread runs
    an event loop -- a notebook cell on the kernel loop, where the learner's client also
    lives -- that client cannot answer the closing handshake until the call returns, so
    waiting the full close timeout would only stall the cell for nothing. The close
    frame (with its code and reason) is still sent first, so the client reads it when its
    loop runs again; only the wait for its reply is cut short.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return server.close_timeout
    return min(QUICK_CLOSE_WAIT, server.close_timeout)


#: How long a close started from a thread that runs an event loop waits for the peer's
#: close frame (see ``_close_wait_for_caller``).
QUICK_CLOSE_WAIT: Final = 0.05


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
    key: str | bool = True,
    hosts: Iterable[str] | None = None,
    max_connections: int = MAX_CONNECTIONS,
    max_buffered: int | None = None,
    open_timeout: float = OPEN_TIMEOUT,
    close_timeout: float = CLOSE_TIMEOUT,
    keepalive: float | None = None,
    auth: TokenIssuer | None = None,
    replay: int = DEFAULT_REPLAY_LIMIT,
) -> Server:
    """Start ``app`` (default: ``topic_app()``) in a background thread; return its handle.

    Binds 127.0.0.1 on a free port by default: nothing outside this machine can
    connect, and two notebooks never fight over a port. Every server has its own
    random ``key`` (other users on a shared host can reach 127.0.0.1 too); ``url()``
    carries it, so learner code never spells it. Returns once listening::

        server = wslearn.serve()
        server.url(topics=["analysis"])   # 'ws://127.0.0.1:PORT/ws?topics=analysis&key=...'
        server.publish("analysis", "analysis.updated", id=7)
        server.stop()

    Limits (see ``docs/server.md``): ``max_connections`` (503 past it), ``max_size``
    (1009), ``max_buffered`` bytes piled up per client (1008), ``open_timeout`` for a
    request to arrive, ``close_timeout`` for a closing handshake, ``keepalive`` pings
    (default: only beyond loopback). ``hosts`` adds names to the Host allowlist.

    Chapter 11: ``replay`` events per topic are kept for clients that resume
    (``?resume=``; 0 keeps none); ``auth=TokenIssuer(lifetime=30)`` makes every socket
    present a token (``server.issue_token()``, ``GET /api/token``) and closes it with 4401
    when the token expires.
    """
    server = Server(app, host, port, max_size=max_size, origins=origins, key=key, hosts=hosts,
                    max_connections=max_connections, max_buffered=max_buffered,
                    open_timeout=open_timeout, close_timeout=close_timeout,
                    keepalive=keepalive, auth=auth, replay=replay)
    return server.start()


@atexit.register
def _stop_all_servers() -> None:
    """Stop servers still running at interpreter exit, so clients see a clean 1001."""
    for server in list(_live_servers):
        try:
            server.stop(timeout=3.0)
        except Exception:
            logger.error("could not stop %r at exit", server, exc_info=True)
