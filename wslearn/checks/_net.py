"""The world a checker scenario runs in: a server, the learner's ``connect()``, a log.

Learner code never imports a network library in the exercises: it receives a
``connect`` function (dependency injection, like FastAPI's ``Depends``), so the same
code runs against the in-memory network under virtual time and against the real
in-kernel server. ``connect(url)`` behaves like ``websockets.connect``, reduced to what
the course needs::

    ws = await connect(url)              # or: async with connect(url) as ws:
    await ws.send('{"type": "ping"}')    # a dict is sent as JSON too
    text = await ws.recv()               # the next text frame
    async for text in ws: ...            # ends quietly on a clean close (1000/1001)
    await ws.close()                     # 1000; leaving `async with` by an exception
                                         # (cancellation too) closes with 1011, as in
                                         # websockets 17

Failures are ``ConnectionError`` subclasses with stable reasons (``wslearn.transport``):
``ConnectFailed`` when the open fails ("connection refused", "HTTP 503") and
``ConnectionLost`` when an open connection ends (``.code`` 1006 = no close frame).
Catching ``ConnectionError`` (never ``BaseException``) is the idiomatic way to handle
both, and it lets cancellation -- the "unmount" -- through.

``Lab`` is the scenario's side: it records what the learner's code did (connect
attempts, opens, failures, closes, frames) with the loop's *logical* time, applies
faults to the server (awaited on a thread for the real server, with logical time
held still, so a fault takes no time in either world), and closes whatever is left at
the end -- separately from checking whether the learner's code closed it itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

from ..protocol import ABNORMAL_CLOSURE, GOING_AWAY, INTERNAL_ERROR, NORMAL_CLOSURE
from ..timeline import fmt_seconds
from ..transport import ConnectFailed, ConnectionLost, Transport
from ._sandbox import PacedLoop, ScenarioStop

__all__ = ["Connection", "Lab", "LogEntry", "format_log"]

#: A scenario stops the learner's code after this many connect() calls.
MAX_CONNECTS = 60


@dataclass(frozen=True)
class LogEntry:
    """One thing that happened, at logical time ``t`` (never wall time)."""

    t: float
    kind: str  # connect, open, failed, lost, close, recv, send, fault, note
    text: str

    def line(self) -> str:
        return f"t={fmt_seconds(self.t):>6}s  {self.text}"


def format_log(entries: list[LogEntry], limit: int = 16) -> str:
    """The entries as aligned text lines (``(nothing)`` when empty), at most ``limit``."""
    if not entries:
        return "(nothing)"
    lines = [e.line() for e in entries]
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"... and {len(lines) - limit + 1} more"]
    return "\n".join(lines)


def _message_type(text: str | bytes) -> str:
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        return "<not JSON>"
    if isinstance(data, dict) and isinstance(data.get("type"), str):
        topic = data.get("topic")
        return data["type"] + (f" ({topic})" if isinstance(topic, str) else "")
    return "<no type>"


def _task_name(task: asyncio.Task[Any]) -> str:
    code = getattr(task.get_coro(), "cr_code", None)
    return getattr(code, "co_qualname", None) or task.get_name()


class Connection:
    """An open websocket as the learner's code sees it (see the module docstring)."""

    def __init__(self, lab: Lab, transport: Transport, number: int) -> None:
        self._lab = lab
        self._transport = transport
        self.number = number
        self._ended: ConnectionLost | None = None
        self._closing = False
        self.closed_by_client = False
        #: The code the learner's code closed with (``None``: it did not close it).
        self.close_code: int | None = None

    @property
    def closed(self) -> bool:
        """True once the connection ended (closed by either side, or lost)."""
        return self._ended is not None or self._closing

    async def send(self, message: str | Mapping[str, Any]) -> None:
        """Send a text frame (a dict is encoded as JSON). Raises ``ConnectionLost``."""
        if isinstance(message, Mapping):
            message = json.dumps(dict(message))
        if not isinstance(message, str):
            raise TypeError(
                f"send() takes a str or a dict, got {type(message).__name__}; "
                "use json.dumps(...) for other data"
            )
        if self._ended is not None:
            raise ConnectionLost(self._ended.code, self._ended.reason)
        if self._closing:
            raise ConnectionLost(NORMAL_CLOSURE, "closed by the client")
        self._lab._record("send", f"#{self.number} sent {_message_type(message)}")
        try:
            await self._transport.send(message)
        except ConnectionLost as exc:
            self._lost(exc)
            raise

    async def recv(self) -> str:
        """The next frame's text. Raises ``ConnectionLost`` once the connection ended."""
        if self._ended is not None:
            raise ConnectionLost(self._ended.code, self._ended.reason)
        try:
            data = await self._transport.recv()
        except ConnectionLost as exc:
            self._lost(exc)
            raise
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        self._lab._record("recv", f"#{self.number} received {_message_type(text)}")
        self._lab._frame(self.number, text)
        return text

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        while True:
            try:
                yield await self.recv()
            except ConnectionLost as exc:
                if exc.code in (NORMAL_CLOSURE, GOING_AWAY):
                    return  # like websockets: a clean close ends the loop quietly
                raise

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the connection (idempotent; never raises for an already closed one)."""
        if self._closing or self._ended is not None:
            self._closing = True
            return
        self._closing = True
        self.closed_by_client = True
        self.close_code = code
        self._lab._record("close", f"#{self.number} closed by the client ({code})")
        await self._transport.close(code, reason)
        if self._ended is None:
            self._ended = ConnectionLost(code, reason)

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        await self.close(_exit_code(exc_type))

    def _lost(self, exc: ConnectionLost) -> None:
        if self._ended is None:
            self._ended = exc
            if not self._closing:
                self._lab._record("lost", f"#{self.number} lost ({exc.code})")

    async def _abort(self) -> None:
        """The checker's own teardown: cut the link, whatever the learner did."""
        with contextlib.suppress(Exception):
            await self._transport.close(ABNORMAL_CLOSURE, "")
        if self._ended is None:
            self._ended = ConnectionLost(ABNORMAL_CLOSURE, "")

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Connection #{self.number} {state}>"


def _exit_code(exc_type: type[BaseException] | None) -> int:
    """The close code of leaving ``async with connect(url) as ws:``, as in websockets 17:
    1000 when the block ends normally, 1011 (internal error) when it ends with *any*
    exception -- cancellation included, so an unmount by cancel is not a clean close."""
    return NORMAL_CLOSURE if exc_type is None else INTERNAL_ERROR


class _Opening:
    """What ``connect(url)`` returns: awaitable *and* an async context manager."""

    def __init__(self, lab: Lab, url: str) -> None:
        self._lab = lab
        self._url = url
        self._conn: Connection | None = None

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._lab._open(self._url).__await__()

    async def __aenter__(self) -> Connection:
        self._conn = await self._lab._open(self._url)
        return self._conn

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if self._conn is not None:
            await self._conn.close(_exit_code(exc_type))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"connect(url) gives an opening connection, not the connection: "
            f"write `ws = await connect(url)` (or `async with connect(url) as ws:`) "
            f"before using ws.{name}"
        )

    def __aiter__(self) -> None:
        raise TypeError(
            "this connect() does not reconnect by itself (websockets' `async for ws in "
            "connect(url)` does): write the reconnect loop yourself -- that is the exercise"
        )


class Lab:
    """One scenario's world (see the module docstring). Create it on the running loop."""

    def __init__(self, mode: str, server: Any, dialer: Callable[[str], Awaitable[Transport]],
                 *, max_connects: int = MAX_CONNECTS) -> None:
        self.mode = mode
        self.server = server
        self._dialer = dialer
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.log: list[LogEntry] = []
        self.connections: list[Connection] = []
        self.connects = 0
        self.opens = 0
        self.failures = 0
        self.max_connects = max_connects
        self.frames: list[tuple[int, dict[str, Any] | None]] = []
        #: Scripted actions: ``await before_dial(n)`` runs before connect attempt ``n``.
        self.before_dial: Callable[[int], Awaitable[None]] | None = None
        self._changed = asyncio.Event()
        self._dialing: set[asyncio.Task[Any]] = set()
        #: Every task created while the scenario runs (the runner fills it in).
        self.tasks: list[asyncio.Task[Any]] = []

    def running_learner_tasks(self, *, cancelled: bool | None = None) -> list[str]:
        """Names of tasks the learner's code created that have not finished yet (with
        ``cancelled``: only those that were / were not asked to cancel)."""
        return sorted(_task_name(t) for t in self.tasks
                      if not t.done() and not t.get_name().startswith("wslearn")
                      and (cancelled is None or bool(t.cancelling()) == cancelled))

    def send_raw(self, topic: str, text: str) -> int:
        """Simulated server only: send ``text`` as it is (not JSON, a list ...) to the
        subscribers of ``topic`` -- frames the course's server never sends by itself, for
        checking that a client survives them."""
        hub = self.server.app.state.hub
        sockets = list(getattr(hub, "_subscribers", {}).get(topic, ()))
        return sum(bool(ws.send_nowait(text)) for ws in sockets)

    # -- what the learner gets ----------------------------------------------------

    def connect(self, url: str) -> _Opening:
        """The learner's ``connect(url)``."""
        if not isinstance(url, str):
            raise TypeError(f"connect() takes the URL as a str, got {type(url).__name__}")
        return _Opening(self, url)

    async def _open(self, url: str) -> Connection:
        self.connects += 1
        n = self.connects
        if n > self.max_connects:
            raise ScenarioStop(
                "too-many-attempts",
                f"more than {self.max_connects} connect() calls in one scenario",
            )
        self._record("connect", f"connect #{n}")
        if self.before_dial is not None:
            await self.before_dial(n)
        try:
            transport = await self._dialer(url)
        except ConnectFailed as exc:
            self.failures += 1
            self._record("failed", f"connect #{n} failed ({exc.reason})")
            raise
        conn = Connection(self, transport, n)
        self.connections.append(conn)
        self.opens += 1
        self._record("open", f"connect #{n} open")
        return conn

    # -- what the scenario uses -----------------------------------------------------

    def now(self) -> float:
        return round(self.loop.time() - self.t0, 6)

    def note(self, text: str, kind: str = "note") -> None:
        self._record(kind, text)

    def url(self, path: str = "/ws", topics: list[str] | None = None) -> str:
        return str(self.server.url(path, topics))

    @property
    def count(self) -> int:
        """Connections the server holds right now."""
        return int(self.server.connection_count)

    @property
    def handshakes(self) -> int:
        return int(self.server.handshake_attempts)

    def open_client_connections(self) -> list[Connection]:
        return [c for c in self.connections if not c.closed]

    async def fault(self, name: str, *args: Any, text: str | None = None, **kwargs: Any) -> Any:
        """Apply ``server.<name>(*args)`` and log ``text`` (or a default description)."""
        self._record("fault", text or f"server: {name}")
        return await self._server_call(name, *args, **kwargs)

    async def publish(self, topic: str, type: str, **fields: Any) -> int:
        return int(await self._server_call("publish", topic, type, **fields))

    async def _server_call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.server, name)
        if self.mode == "sim":
            result = method(*args, **kwargs)
            await asyncio.sleep(0)
            return result
        assert isinstance(self.loop, PacedLoop)
        with self.loop.hold():
            return await asyncio.to_thread(method, *args, **kwargs)

    async def settle(self, expect: int | None = None) -> int:
        """Let in-flight closes land; return the server's connection count.

        ``expect`` (real server only): wait up to 1 s of real time for that count -- the
        server thread lets go of a closed connection a moment after the client did.
        """
        for _ in range(20):
            await asyncio.sleep(0)
        if self.mode == "real":
            want = len(self.open_client_connections()) if expect is None else expect
            assert isinstance(self.loop, PacedLoop)
            with self.loop.hold():
                for _ in range(50):
                    if self.count == want:
                        break
                    await asyncio.to_thread(time.sleep, 0.02)  # time is held: real wait
        return self.count

    async def poll(self, predicate: Callable[[], bool], real_timeout: float = 1.0) -> bool:
        """Wait for server-side state that no frame announces (real server: up to
        ``real_timeout`` seconds of real time, with logical time held still).

        The real server runs in another thread: it may write a frame a moment before it
        updates what ``server.connections`` reports, so a client can see the frame first.
        """
        for _ in range(5):
            await asyncio.sleep(0)
        if predicate() or self.mode == "sim":
            return predicate()
        assert isinstance(self.loop, PacedLoop)
        with self.loop.hold():
            deadline = time.monotonic() + real_timeout
            while not predicate() and time.monotonic() < deadline:
                await asyncio.to_thread(time.sleep, 0.01)
        return predicate()

    async def until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait (loop time) until ``predicate()`` holds; False after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return predicate()
        return True

    async def into_backoff_wait(self, failures: int, timeout: float = 30.0,
                                into: float = 0.5) -> bool:
        """Wait for the ``failures``-th failed connect, then ``into`` seconds more.

        True when the learner's code is then really *waiting* (no connect attempt since
        that failure): a cancel now lands in its backoff sleep, not inside ``connect()``
        -- the precondition of every "cancelled while waiting" scenario.
        """
        await self.until(lambda: self.failures >= failures, timeout)
        if self.failures < failures:
            return False
        attempts = self.connects
        await asyncio.sleep(into)
        return self.connects == attempts and self.failures == failures

    async def into_handshake(self, connects: int, timeout: float = 10.0) -> bool:
        """Wait until connect attempt ``connects`` is in flight (server frozen): True when
        it has neither opened nor failed -- a cancel now lands inside ``connect()``."""
        await self.until(lambda: self.connects >= connects, timeout)
        await asyncio.sleep(0.5)
        return self.connects == connects and self.opens + self.failures < connects

    def entries(self, *kinds: str) -> list[LogEntry]:
        return [e for e in self.log if not kinds or e.kind in kinds]

    async def close_everything(self) -> None:
        """The checker's teardown: abort every connection the learner left open."""
        for conn in self.connections:
            if not conn._ended:
                await conn._abort()

    # -- internals ------------------------------------------------------------------

    def _record(self, kind: str, text: str) -> None:
        self.log.append(LogEntry(self.now(), kind, text))
        self._changed.set()

    def _frame(self, number: int, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        self.frames.append((number, data if isinstance(data, dict) else None))
        self._changed.set()
