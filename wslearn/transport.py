"""What the client driver needs from a network: dial a URL, send, receive, close.

``wslearn.client`` talks to this small interface only, so the very same driver runs
over a real ``websockets`` connection (``websocket_dialer()``) and over the in-memory
network of ``wslearn.simnet`` (``SimNetwork.dialer``). Failures are reported as two
exceptions with short, *stable* reasons -- they end up in timelines, which must read
the same against the real server and the simulation:

* ``ConnectFailed(reason, status)``: the open failed -- ``"connection refused"``
  (nothing listens: the server is stopped), ``"HTTP 503"`` (the server refuses
  upgrades), ``"handshake failed"``, ``"network error"``;
* ``ConnectionLost(code, reason)``: an open connection ended -- ``code`` is the close
  code the peer sent, or 1006 when the TCP connection just died.

The real dialer opens connections with ``websockets.asyncio.client.connect`` (the new
asyncio API of websockets >= 13) and ``ping_interval=None``: websockets would
otherwise send *protocol* pings on its own, and the course teaches the *application*
heartbeat that a browser has to write itself (see ``wslearn.heartbeat``). It also
passes ``open_timeout=None`` because the state machine owns that timeout (its
``"open"`` timer, so the timeout shows on the timeline in logical time), and
``proxy=None`` so an ``HTTP_PROXY`` in the environment never captures 127.0.0.1.
It never follows HTTP redirects (browsers do not either).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .protocol import ABNORMAL_CLOSURE, DEFAULT_MAX_SIZE, NORMAL_CLOSURE

__all__ = [
    "ConnectFailed",
    "ConnectionLost",
    "Dialer",
    "Transport",
    "WebSocketTransport",
    "websocket_dialer",
]


class ConnectFailed(ConnectionError):
    """Opening a connection failed. ``reason`` is short and stable; ``status`` the HTTP code."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class ConnectionLost(ConnectionError):
    """An open connection ended. ``code`` 1006 means "no close frame: the TCP link died"."""

    def __init__(self, code: int = ABNORMAL_CLOSURE, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        detail = f": {self.reason}" if self.reason else ""
        return f"connection lost with code {self.code}{detail}"


@runtime_checkable
class Transport(Protocol):
    """One open connection, as the client driver uses it."""

    async def send(self, data: str) -> None:
        """Send a text frame; raises ``ConnectionLost`` when the connection is gone."""
        ...

    async def recv(self) -> str | bytes:
        """The next frame; raises ``ConnectionLost(code, reason)`` when the connection ends."""
        ...

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close; ``code=1006`` aborts without a closing handshake. Never raises."""
        ...


#: ``await dialer(url) -> Transport``; raises ``ConnectFailed``.
Dialer = Callable[[str], Awaitable[Transport]]


def _lost(exc: ConnectionClosed) -> ConnectionLost:
    # exc.code / exc.reason are deprecated in websockets >= 13: read the close frame.
    if exc.rcvd is not None:
        return ConnectionLost(exc.rcvd.code, exc.rcvd.reason)
    return ConnectionLost(ABNORMAL_CLOSURE, "")


class WebSocketTransport:
    """A ``websockets`` client connection behind the ``Transport`` interface."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, data: str) -> None:
        try:
            await self.connection.send(data)
        except ConnectionClosed as exc:
            raise _lost(exc) from None

    async def recv(self) -> str | bytes:
        try:
            return await self.connection.recv()
        except ConnectionClosed as exc:
            raise _lost(exc) from None

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        connection = self.connection
        if code == ABNORMAL_CLOSURE:
            # A dead or frozen peer never answers a closing handshake: cut the TCP link.
            connection.transport.abort()
        else:
            with contextlib.suppress(Exception):
                await connection.close(code, reason)
        with contextlib.suppress(Exception):
            await connection.wait_closed()

    def __repr__(self) -> str:
        return "<WebSocketTransport>"


class _connect(connect):
    """``websockets``' ``connect`` without following HTTP redirects.

    Browsers fail a WebSocket handshake on any 3xx; following it would also multiply the
    handshakes that the max-attempts lesson counts, and could land on another host
    without anyone noticing. A redirect is a failed open: ``ConnectFailed("HTTP 302")``.
    """

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


def websocket_dialer(
    *,
    open_timeout: float | None = None,
    close_timeout: float = 2.0,
    max_size: int | None = DEFAULT_MAX_SIZE,
) -> Dialer:
    """A dialer for real ``ws://`` URLs (``websockets.asyncio.client.connect``).

    ``open_timeout`` is None by default because ``Client`` times opens itself (its
    state machine's ``"open"`` timer); ``close_timeout`` bounds a polite close.
    """

    async def dial(url: str) -> Transport:
        try:
            connection = await _connect(
                url,
                open_timeout=open_timeout,
                ping_interval=None,  # the course teaches the application heartbeat
                close_timeout=close_timeout,
                max_size=max_size,
                proxy=None,
            )
        except InvalidURI as exc:
            raise ValueError(f"not a websocket URL: {url!r} ({exc.msg})") from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise ConnectFailed(f"HTTP {status}", status) from None
        except InvalidHandshake:
            raise ConnectFailed("handshake failed") from None
        except ConnectionRefusedError:
            raise ConnectFailed("connection refused") from None
        except TimeoutError:
            raise ConnectFailed("timed out") from None
        except OSError:
            raise ConnectFailed("network error") from None
        except asyncio.IncompleteReadError:  # the server hung up mid-handshake
            raise ConnectFailed("handshake failed") from None
        return WebSocketTransport(connection)

    return dial
