"""One websocket connection of the in-kernel server, with the faults' hold on its writes.

``wslearn.server`` accepts connections through ``websockets``; this module is what each
one is made of:

* ``HeldTransport`` wraps the connection's transport. ``websockets`` writes *every*
  frame through it -- data, protocol pongs, close frames -- so ``freeze()`` and
  ``delay()`` hold them all in one order (the rule: ``wslearn.hold.Hold``), and the
  bytes held count toward the slow-reader limit. ``freeze()`` also pauses reading on top
  of websockets' own flow control.
* ``ServerSocket`` is the ``ServerConnection`` subclass the server creates
  (``create_connection=``): it installs the hold and the head timeout (the request line
  and headers must arrive within ``open_timeout``; a long poll may then take longer).
* ``SocketChannel`` adapts it to ``wslearn.app.Channel`` for the endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import OPEN

from .app import WebSocketDisconnect, fit_reason
from .hold import Hold
from .protocol import ABNORMAL_CLOSURE, NORMAL_CLOSURE, POLICY_VIOLATION

if TYPE_CHECKING:
    from .server import Server

__all__ = ["MAX_PENDING", "HeldTransport", "ServerSocket", "SocketChannel"]

#: TCP connections beyond ``max_connections`` that may wait for an answer at once (held
#: handshakes of a frozen server, long polls); more are dropped on arrival.
MAX_PENDING: Final = 256


class HeldTransport:
    """The write side of one connection, where ``freeze()`` and ``delay()`` act.

    ``websockets`` writes every frame -- data, protocol pongs, close frames -- through its
    transport, so holding *here* keeps all of them in one order: under ``delay(0.5)`` a
    pong never overtakes an event sent before it, and a close frame waits behind the
    frames still held. The release rule is ``wslearn.hold.Hold``. Everything else is the
    real transport's (delegated). Reading is paused by ``freeze()`` on top of websockets'
    own flow control: its ``resume_reading`` does not undo a freeze.
    """

    def __init__(self, transport: asyncio.Transport, server: Server) -> None:
        self._transport = transport
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._hold: Hold[bytes | None] = Hold(limit=server.max_buffered)  # None: write_eof
        self._timer: asyncio.TimerHandle | None = None
        self._close_when_flushed = False
        self._paused_by_ws = False
        self._frozen_reading = False
        self.bypass = False  #: the server ends this connection now: write at once
        self.on_overflow: Callable[[], None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    # writing
    def write(self, data: bytes | bytearray | memoryview) -> None:
        server = self._server
        if self.bypass or not self._hold.must_hold(frozen=server._frozen, delay=server._delay):
            self._transport.write(data)
            return
        chunk = bytes(data)
        if not self._hold.push(chunk, now=self._loop.time(), delay=server._delay,
                               size=len(chunk)):
            server.frames_lost += 1
            if self.on_overflow is not None:
                self.on_overflow()
            return
        self._schedule()

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def write_eof(self) -> None:
        if self._hold and not self.bypass:
            self._hold.push(None, now=self._loop.time(), delay=self._server._delay)
            self._schedule()
        else:
            self._transport.write_eof()

    def close(self) -> None:
        if self._hold and not self.bypass:
            self._close_when_flushed = True  # like a socket: close after what is written
        else:
            self._transport.close()

    def abort(self) -> None:
        self.drop_held()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._hold.held_bytes

    def drop_held(self) -> int:
        """Forget held frames (the server ends the connection now); count them as lost."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        lost = sum(1 for item in self._hold.clear() if item is not None)
        self._server.frames_lost += lost
        if self._close_when_flushed:
            self._transport.close()
        return lost

    def thaw(self) -> None:
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = self._hold.next_due(frozen=self._server._frozen)
        if due is not None:
            self._timer = self._loop.call_at(due, self._release)

    def _release(self) -> None:
        self._timer = None
        transport = self._transport
        for item in self._hold.release(now=self._loop.time(), frozen=self._server._frozen):
            if transport.is_closing():
                break
            if item is None:
                if transport.can_write_eof():
                    transport.write_eof()
            else:
                transport.write(item)
        if not self._hold and self._close_when_flushed:
            transport.close()
        self._schedule()

    # reading
    def pause_reading(self) -> None:
        self._paused_by_ws = True
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._paused_by_ws = False
        if not self._frozen_reading:
            self._transport.resume_reading()

    def freeze_reading(self) -> None:
        self._frozen_reading = True
        self._transport.pause_reading()

    def thaw_reading(self) -> None:
        self._frozen_reading = False
        if not self._paused_by_ws:
            self._transport.resume_reading()


class ServerSocket(ServerConnection):
    """A ``websockets`` connection whose transport is a ``HeldTransport``, and whose
    request must arrive within the handshake timeout (a long poll may then take longer)."""

    server_handle: Server
    held: HeldTransport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        server = self.server_handle
        self.held = HeldTransport(transport, server)
        super().connection_made(self.held)  # type: ignore[arg-type]
        self._head_timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            server.open_timeout, self.held.abort)
        server._tcp_connections += 1
        if server._tcp_connections > server.max_connections + _max_pending():
            # Open sockets plus requests still waiting (a frozen server holds them, a long
            # poll waits): past the cap a new TCP connection is dropped before it costs more.
            self.held.abort()

    def request_arrived(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.request_arrived()
        self.server_handle._tcp_connections -= 1
        super().connection_lost(exc)

    def freeze(self) -> None:
        self.held.freeze_reading()

    def thaw(self) -> None:
        self.held.thaw_reading()
        self.held.thaw()


def disconnect_of(exc: ConnectionClosed) -> WebSocketDisconnect:
    """What the endpoint sees: the peer's close code, or 1006 when none came."""
    if exc.rcvd is not None:
        return WebSocketDisconnect(exc.rcvd.code, exc.rcvd.reason)
    return WebSocketDisconnect(ABNORMAL_CLOSURE, "")


class SocketChannel:
    """Adapts a ``websockets`` connection to ``wslearn.app.Channel``.

    Outgoing frames are written at once (like ``websockets.broadcast``, through the
    sans-IO protocol's public ``send_text``/``data_to_send``); the connection's
    ``HeldTransport`` holds them when the server is frozen or delayed.
    """

    def __init__(self, server: Server, conn: ServerSocket, id: int, path: str, query: str):
        self.server = server
        self.conn = conn
        self.id = id
        self.path = path
        self.query = query
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self._too_slow = False
        #: The handshake's header fields (the token check reads its cookie).
        self.headers: tuple[tuple[str, str], ...] = (
            tuple(conn.request.headers.raw_items()) if conn.request is not None else ())
        conn.held.on_overflow = self._overflow

    async def recv(self) -> str | bytes:
        try:
            return await self.conn.recv()
        except ConnectionClosed as exc:
            raise disconnect_of(exc) from None

    async def send(self, data: str | bytes) -> None:
        if self.conn.protocol.state is not OPEN or self.conn.held._hold:
            if not self.send_nowait(data):
                await self._raise_closed()
            return
        try:
            await self.conn.send(data)  # awaits the write buffer: backpressure for replies
        except ConnectionClosed as exc:
            raise disconnect_of(exc) from None

    def send_nowait(self, data: str | bytes) -> bool:
        conn = self.conn
        if conn.protocol.state is not OPEN or self._too_slow:
            return False
        protocol = conn.protocol
        if isinstance(data, str):
            protocol.send_text(self.server._utf8(data))
        else:
            protocol.send_binary(data)
        held = conn.held
        for chunk in protocol.data_to_send():
            if chunk:
                held.write(chunk)
        if held.get_write_buffer_size() > self.server.max_buffered:
            self._overflow()
        return not self._too_slow

    def _overflow(self) -> None:
        """Too much is piled up for this client: drop what is held (counted as lost) and
        close it with 1008 at once, ahead of any fault."""
        if self._too_slow:
            return
        self._too_slow = True
        self.conn.held.drop_held()
        self.conn.held.bypass = True
        self.conn.thaw()  # a frozen connection must still read the client's close frame
        self.server._spawn(self.close(POLICY_VIOLATION, "client too slow: frames piled up"))

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        await self.conn.close(code, fit_reason(reason))

    async def _raise_closed(self) -> None:
        await self.conn.wait_closed()
        code = self.conn.close_code or ABNORMAL_CLOSURE
        raise WebSocketDisconnect(code, self.conn.close_reason or "")

    def end_now(self, close_wait: float) -> None:
        """The server ends this connection (stop, drop_all): held frames are lost (and
        counted), the close frame goes out at once, the peer's reply is awaited briefly."""
        self.conn.close_timeout = close_wait
        self.conn.held.drop_held()
        self.conn.held.bypass = True
        self.conn.thaw()


def _max_pending() -> int:
    """``MAX_PENDING`` as ``wslearn.server`` re-exports it (where callers tune it)."""
    from . import server

    return int(getattr(server, "MAX_PENDING", MAX_PENDING))
