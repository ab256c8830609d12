"""FastAPI-style websocket routing over a ``Channel``.

Learners are backend FastAPI developers: every line of an endpoint written with
this module should look like the FastAPI code they already know::

    app = App()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            data = await websocket.receive_json()
            await websocket.send_json({"type": "update"})

The endpoint never sees the network. It talks to a ``Channel`` -- three async
methods (``recv``, ``send``, ``close``) -- so the very same ``App`` runs on a real
socket (``wslearn.server`` adapts a ``websockets`` connection) and on the in-memory
network of ``wslearn.simnet``. That is why nothing here imports ``websockets``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import MappingProxyType, SimpleNamespace
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl

from .protocol import INTERNAL_ERROR, NORMAL_CLOSURE, POLICY_VIOLATION, ProtocolError

__all__ = ["App", "Channel", "Endpoint", "Router", "WebSocket", "WebSocketDisconnect"]

#: Handler errors are server-side events: real and simulated servers log them here.
logger = logging.getLogger("wslearn.server")

#: Compact JSON. One encoder for the module: ``json.dumps(..., separators=...)`` would
#: build a new encoder on every call (about twice as slow for small messages).
_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

#: RFC 6455 limits a close reason to 123 UTF-8 bytes.
MAX_REASON_BYTES = 123


class WebSocketDisconnect(Exception):
    """The peer is gone: raised by ``receive_*`` (and ``send_*``) like Starlette's.

    ``code`` is the close code the peer sent, or 1006 when the TCP connection just
    died without a close frame.
    """

    def __init__(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"websocket disconnected with code {self.code}" + (
            f": {self.reason}" if self.reason else ""
        )


@runtime_checkable
class Channel(Protocol):
    """What a ``WebSocket`` needs from the network (real socket or in-memory pipe).

    A channel may also offer ``send_nowait(data) -> bool``: queue a frame without
    waiting and return False if the peer is gone. ``TopicHub`` uses it for fan-out so
    that one slow subscriber cannot hold up the others; ``WebSocket.send_nowait``
    falls back to a small per-socket queue when a channel lacks it.
    """

    id: int  #: 1, 2, 3 ... per server
    path: str  #: "/ws"
    query: str  #: "topics=a,b" (raw, without "?")

    async def recv(self) -> str | bytes:
        """Next frame; raises ``WebSocketDisconnect(code, reason)`` when the peer is gone."""
        ...

    async def send(self, data: str | bytes) -> None:
        """Send one frame; raises ``WebSocketDisconnect`` when the peer is gone."""
        ...

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close with ``code`` and ``reason``; a no-op when already closed."""
        ...


def fit_reason(reason: str) -> str:
    """Shorten a close reason to the 123 bytes RFC 6455 allows (ending with "...")."""
    data = reason.encode()
    if len(data) <= MAX_REASON_BYTES:
        return reason
    return data[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


class WebSocket:
    """One client connection as an endpoint sees it (the Starlette/FastAPI API).

    The opening handshake has already happened when the endpoint runs (the server
    routes and checks the request first), so ``accept()`` only marks the socket as
    accepted; an endpoint that returns without accepting is closed with 1008.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.accepted = False
        self.closed = False
        self.query_params: Mapping[str, str] = MappingProxyType(
            dict(parse_qsl(channel.query, keep_blank_values=True))  # last value wins
        )
        # Fan-out path: the channel's own send_nowait, else a queue (see send_nowait).
        self._send_nowait: Callable[[str | bytes], bool] | None = getattr(
            channel, "send_nowait", None)
        self._outbox: collections.deque[str | bytes] = collections.deque()
        self._writer: asyncio.Task[None] | None = None

    @property
    def id(self) -> int:
        """The connection id (1, 2, 3 ... per server): stable across runs, unlike ports."""
        return self.channel.id

    @property
    def path(self) -> str:
        return self.channel.path

    def __repr__(self) -> str:
        state = "closed" if self.closed else "accepted" if self.accepted else "new"
        return f"<WebSocket {self.id} {self.path} {state}>"

    # -- lifecycle -------------------------------------------------------------

    async def accept(self) -> None:
        """Accept the connection (the handshake itself was done by the server)."""
        if self.accepted:
            raise RuntimeError("accept() was already called for this websocket")
        self.accepted = True

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason`` (cut to 123 bytes)."""
        if self.closed:
            return
        self.closed = True
        await self.channel.close(code, fit_reason(reason))

    def _check_accepted(self) -> None:
        if not self.accepted:
            raise RuntimeError('call "await websocket.accept()" before receiving or sending')

    # -- receiving -------------------------------------------------------------

    async def receive(self) -> str | bytes:
        """The next frame as it came: ``str`` for a text frame, ``bytes`` for binary."""
        self._check_accepted()
        try:
            return await self.channel.recv()
        except WebSocketDisconnect:
            self.closed = True  # the peer is gone: nothing left to close
            raise

    async def receive_text(self) -> str:
        """The next frame as text. A binary frame must hold UTF-8 text.

        Raises ``ProtocolError("bad-utf8", ...)`` (a ``ValueError``) for a binary frame
        that is not UTF-8, so an endpoint can answer it instead of crashing.
        """
        data = await self.receive()
        if isinstance(data, str):
            return data
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise ProtocolError("bad-utf8", "binary frame is not UTF-8 text") from None

    async def receive_bytes(self) -> bytes:
        """The next frame as bytes (a text frame is UTF-8 encoded)."""
        data = await self.receive()
        return data.encode() if isinstance(data, str) else data

    async def receive_json(self) -> Any:
        """The next frame parsed as JSON; raises ``ValueError`` for invalid JSON."""
        return json.loads(await self.receive_text())

    async def iter_text(self) -> AsyncIterator[str]:
        """Frames as text until the peer disconnects (then the loop just ends)."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            return

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Frames as bytes until the peer disconnects."""
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            return

    async def iter_json(self) -> AsyncIterator[Any]:
        """Frames parsed as JSON until the peer disconnects."""
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            return

    # -- sending ---------------------------------------------------------------

    async def send(self, data: str | bytes) -> None:
        """Send one frame: ``str`` as a text frame, ``bytes`` as a binary frame."""
        self._check_accepted()
        if self._outbox:  # keep order behind frames queued by send_nowait
            self._outbox.append(data)
            return
        try:
            await self.channel.send(data)
        except WebSocketDisconnect:
            self.closed = True
            raise

    async def send_text(self, data: str) -> None:
        """Send a text frame."""
        if not isinstance(data, str):
            raise TypeError(f"send_text() takes a str, got {type(data).__name__}; "
                            "use send_bytes() for bytes or send_json() for objects")
        await self.send(data)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        await self.send(bytes(data))

    async def send_json(self, data: Any) -> None:
        """Send ``data`` as compact JSON in a text frame."""
        await self.send(_to_json(data))

    def send_nowait(self, data: str | bytes) -> bool:
        """Queue a frame without waiting; False if this socket is closed or not accepted.

        This is what fan-out uses: a publish to 1000 subscribers must not wait for
        the slowest one. Channels that offer ``send_nowait`` write at once (the real
        server); otherwise frames go through a per-socket queue and one short-lived
        writer task, which ends as soon as the queue is empty.
        """
        if self.closed or not self.accepted:
            return False
        if self._send_nowait is not None and not self._outbox:
            return self._send_nowait(data)
        self._outbox.append(data)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._drain_outbox(), name=f"wslearn-outbox-{self.id}"
            )
        return True

    async def _drain_outbox(self) -> None:
        try:
            while self._outbox:
                await self.channel.send(self._outbox[0])
                self._outbox.popleft()
        except WebSocketDisconnect:
            self._outbox.clear()
        except Exception:  # a broken channel must not leave an unretrieved task error
            logger.error("sending to websocket %s failed", self.id, exc_info=True)
            self._outbox.clear()
        finally:
            self._writer = None

    async def _finish(self) -> None:
        """Flush queued frames (peer still there) or drop them, then stop the writer."""
        writer = self._writer
        if writer is not None:
            if self.closed:
                writer.cancel()
                self._outbox.clear()
            # gather: the writer's own end is not an error, but a cancel of *this*
            # task still propagates (contextlib.suppress would swallow it).
            await asyncio.gather(writer, return_exceptions=True)


Endpoint = Callable[[WebSocket], Awaitable[None]]


class Router:
    """A set of websocket endpoints by path (FastAPI's ``APIRouter``)."""

    def __init__(self) -> None:
        self.routes: dict[str, Endpoint] = {}

    def websocket(self, path: str) -> Callable[[Endpoint], Endpoint]:
        """Decorator: ``@router.websocket("/ws")`` registers an endpoint for ``path``."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"websocket path must start with '/', got {path!r}")
        if "?" in path:
            raise ValueError(f"websocket path {path!r} must not contain a query string")

        def register(endpoint: Endpoint) -> Endpoint:
            if not inspect.iscoroutinefunction(endpoint):
                raise TypeError(f"{endpoint!r} must be an 'async def' function")
            if path in self.routes:
                raise ValueError(f"websocket path {path!r} is already registered")
            self.routes[path] = endpoint
            return endpoint

        return register


class App(Router):
    """A websocket application: routes plus ``state`` (like ``FastAPI().state``).

    ``handle(channel)`` runs the endpoint for one connection and owns its ending:
    a peer that disconnects ends quietly, an endpoint that raises closes *that*
    client with 1011 and logs the traceback (logger ``wslearn.server``), an endpoint
    that returns closes with 1000 (or 1008 if it never accepted).
    """

    def __init__(self) -> None:
        super().__init__()
        self.state = SimpleNamespace()
        self.http_routes: dict[str, HttpHandler] = {}

    # react branch: minimal ``@app.http`` (TEAM.md contract); the server branch's wins at merge.
    def http(self, prefix: str) -> Callable[[HttpHandler], HttpHandler]:
        """Decorator: ``@app.http("/api/proposals")`` handles GETs of the prefix and below."""
        if not isinstance(prefix, str) or not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(f"http prefix must start with '/' and not end with it, got {prefix!r}")

        def register(handler: HttpHandler) -> HttpHandler:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"{handler!r} must be an 'async def' function")
            if prefix in self.http_routes:
                raise ValueError(f"http prefix {prefix!r} is already registered")
            self.http_routes[prefix] = handler
            return handler

        return register

    def include_router(self, router: Router, prefix: str = "") -> None:
        """Add every endpoint of ``router`` under ``prefix`` (FastAPI's ``include_router``)."""
        for path, endpoint in router.routes.items():
            self.websocket(prefix + path)(endpoint)

    @property
    def paths(self) -> list[str]:
        """The websocket paths this app serves, sorted."""
        return sorted(self.routes)

    def __repr__(self) -> str:
        return f"<App {', '.join(self.paths) or 'with no endpoints'}>"

    async def handle(self, channel: Channel) -> None:
        """Run the endpoint for ``channel.path`` until it ends; never raises for bad peers."""
        websocket = WebSocket(channel)
        endpoint = self.routes.get(channel.path)
        try:
            if endpoint is None:
                known = ", ".join(self.paths) or "none"
                websocket.closed = True
                await channel.close(
                    POLICY_VIOLATION, fit_reason(f"no endpoint at {channel.path}; known: {known}")
                )
                return
            try:
                await endpoint(websocket)
            except WebSocketDisconnect:
                websocket.closed = True  # the peer is gone: nothing left to close
            except Exception as exc:
                logger.error(
                    "websocket endpoint %s raised (connection %s closed with 1011)",
                    channel.path, channel.id, exc_info=True,
                )
                await self._close_quietly(
                    websocket, INTERNAL_ERROR,
                    f"server error: endpoint raised {type(exc).__name__} (see server log)",
                )
            else:
                if not websocket.accepted:
                    await self._close_quietly(
                        websocket, POLICY_VIOLATION, "endpoint did not accept"
                    )
                elif not websocket.closed:
                    await websocket._finish()  # deliver frames still queued
                    await self._close_quietly(websocket, NORMAL_CLOSURE, "")
        finally:
            websocket.closed = True
            await websocket._finish()

    @staticmethod
    async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
        try:
            await websocket.close(code, reason)
        except WebSocketDisconnect:
            websocket.closed = True


# -- plain HTTP GET routes (TEAM.md contract; the server branch owns the final version) --
# react branch: the minimal form of the contract, so the React lab can serve its REST API
# and its files. The lead replaces this with the server branch's implementation at merge.


@dataclasses.dataclass(frozen=True)
class HttpResponse:
    """What an ``@app.http`` handler may return (a dict or list is sent as JSON 200)."""

    status: int = 200
    content_type: str = "application/json"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class HttpRequest:
    """A plain GET as an ``@app.http`` handler sees it."""

    path: str
    query: Mapping[str, str]


HttpHandler = Callable[[HttpRequest], Awaitable["HttpResponse | dict[str, Any] | list[Any] | None"]]


def http_route(app: App, path: str) -> HttpHandler | None:
    """The handler whose prefix is ``path`` or a parent of it (longest prefix wins)."""
    routes = app.http_routes
    for prefix in sorted(routes, key=len, reverse=True):
        if path == prefix or path.startswith(prefix + "/"):
            return routes[prefix]
    return None

