"""An in-memory network and topic server with the same faults as the real one.

Exercise checkers (and tests) need to play a whole outage -- server stopped, five
attempts over 31 s, server back -- many times, fast, with the same result every run.
A real socket cannot give that: timing depends on the machine. ``SimServer`` runs
the *same* ``App`` (``topic_app()`` by default) over in-memory channels that implement
``wslearn.app.Channel``, and ``SimNetwork.dialer`` plugs into ``Client(dialer=...)``.
Under ``run_virtual`` (``wslearn.clock``) everything -- the server, the network and the
unchanged client driver -- runs on one virtual-time loop, so the 31 s outage takes
milliseconds.

``SimServer`` has the names and the observable behaviour of ``wslearn.server.Server``
so a test or a checker can be written once and parametrized over both:

* ``stop()`` closes every connection with 1001 "server stopped" and makes new dials
  fail with "connection refused"; ``start()`` listens again; ``restart()`` (1012);
* ``freeze()`` / ``thaw()``: a half-open server -- frames from clients are not read,
  frames to clients and new handshakes are held until ``thaw()``;
* ``drop_all(code=1006)``: 1006 aborts (no close frame), other codes close cleanly;
* ``refuse()`` / ``accept_again()``: handshakes answered with HTTP 503;
* ``delay(seconds)``: every outgoing frame arrives ``seconds`` late;
* ``flap(code)`` / ``steady()``: every handshake succeeds, then closes at once;
* ``SimServer(auth=TokenIssuer(...))``, ``issue_token()``: tokens by query or first
  message (there are no cookies in memory), on the loop's (virtual) clock; ``replay=``;
* ``connection_count``, ``connections``, ``handshake_attempts`` (every upgrade request
  that reached a running server, refused ones included), ``handshakes`` (completed),
  ``access_log``, ``reset_counters()``,
  ``add_listener(fn(event, info))`` with the server's event names, ``publish()``.

Differences that remain (on purpose): everything happens on the loop that calls it
(no thread, so ``publish`` and the faults are plain synchronous calls that must run
on that loop), and there is no HTTP (``/api/topics``, the browser lab).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Any, Final

from .app import App, WebSocketDisconnect, fit_reason
from .auth import TokenIssuer
from .hold import Hold
from .listeners import Listeners
from .protocol import (
    ABNORMAL_CLOSURE,
    GOING_AWAY,
    MAX_BUFFERED,
    NORMAL_CLOSURE,
    POLICY_VIOLATION,
    bad_request_target,
    split_ws_url,
    validate_topics,
)
from .resume import DEFAULT_REPLAY_LIMIT
from .server_handle import ConnectionInfo, Listener, ServerHandle
from .transport import ConnectFailed, ConnectionLost, Transport

__all__ = ["SimNetwork", "SimServer"]

logger = logging.getLogger("wslearn.server")

#: Same as the real server: how long a close may take before handlers are cancelled.
CLOSE_TIMEOUT: Final = 2.0


class _End:
    """The end of one direction of a link: a close frame (or 1006: none, the link died)."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class _Link:
    """One in-memory connection: a queue per direction, plus what faults hold back.

    Outgoing frames follow the one hold-and-release rule of ``wslearn.hold`` -- the
    same the real server's sockets use -- so real and simulated timelines agree by
    construction: in order, nothing while frozen, ``delay`` seconds late, bounded.
    """

    def __init__(self, server: SimServer, id: int, path: str, query: str) -> None:
        self.server = server
        self.id = id
        self.loop = asyncio.get_running_loop()
        self.to_server: asyncio.Queue[str | bytes | _End] = asyncio.Queue()
        self.to_client: asyncio.Queue[str | bytes | _End] = asyncio.Queue()
        self.held_in: list[str | bytes | _End] = []  # client -> server, held by freeze
        self.held_out: Hold[str | bytes | _End] = Hold(limit=MAX_BUFFERED)
        self.release: asyncio.Handle | None = None
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.channel = _SimChannel(self, path, query)
        self.transport = _SimTransport(self)

    # client -> server
    def deliver_in(self, item: str | bytes | _End) -> None:
        if self.server.frozen:
            self.held_in.append(item)
        else:
            self.to_server.put_nowait(item)

    # server -> client
    def deliver_out(self, item: str | bytes | _End) -> bool:
        """Send (or hold) one frame; False if the client is too slow (then it is closed)."""
        server = self.server
        if not self.held_out.must_hold(frozen=server.frozen, delay=server.current_delay):
            self.to_client.put_nowait(item)
            return True
        size = 0 if isinstance(item, _End) else len(item)
        if not self.held_out.push(item, now=self.loop.time(), delay=server.current_delay,
                                  size=size):
            server.frames_lost += 1
            self.too_slow()
            return False
        self.schedule_release()
        return True

    def too_slow(self) -> None:
        """Like the real server: drop what is held (counted) and close with 1008 now."""
        self.server.frames_lost += self.drop_held()
        reason = "client too slow: frames piled up"
        self.channel.end(POLICY_VIOLATION, reason)
        self.to_client.put_nowait(_End(POLICY_VIOLATION, reason))
        self.to_server.put_nowait(_End(POLICY_VIOLATION, reason))

    def drop_held(self) -> int:
        if self.release is not None:
            self.release.cancel()
            self.release = None
        return sum(1 for item in self.held_out.clear() if not isinstance(item, _End))

    def schedule_release(self) -> None:
        if self.release is not None:
            self.release.cancel()
            self.release = None
        due = self.held_out.next_due(frozen=self.server.frozen)
        if due is None:
            return
        wait = due - self.loop.time()
        if wait <= 0:
            self.release = self.loop.call_soon(self.release_due)
        else:
            self.release = self.loop.call_later(wait, self.release_due)

    def release_due(self) -> None:
        self.release = None
        for item in self.held_out.release(now=self.loop.time(), frozen=self.server.frozen):
            self.to_client.put_nowait(item)
        self.schedule_release()

    def thaw(self) -> None:
        held, self.held_in = self.held_in, []
        for item in held:
            self.to_server.put_nowait(item)
        self.schedule_release()

    def cut(self, code: int, reason: str) -> None:
        """The server side ends the link now (stop, drop_all): both ends learn at once;
        frames still held are lost (``frames_lost``), like the real server's."""
        self.held_in.clear()
        self.server.frames_lost += self.drop_held()
        self.channel.end(code, reason)
        self.to_server.put_nowait(_End(code, reason))
        self.to_client.put_nowait(_End(code, reason))


class _SimChannel:
    """The server side of a link: ``wslearn.app.Channel`` (with ``send_nowait``)."""

    def __init__(self, link: _Link, path: str, query: str) -> None:
        self.link = link
        self.id = link.id
        self.path = path
        self.query = query
        self.ended: _End | None = None

    def end(self, code: int, reason: str) -> None:
        if self.ended is None:
            self.ended = _End(code, reason)

    async def recv(self) -> str | bytes:
        if self.ended is not None and self.link.to_server.empty():
            raise WebSocketDisconnect(self.ended.code, self.ended.reason)
        item = await self.link.to_server.get()
        if isinstance(item, _End):
            self.end(item.code, item.reason)
            raise WebSocketDisconnect(item.code, item.reason)
        return item

    async def send(self, data: str | bytes) -> None:
        if not self.send_nowait(data):
            ended = self.ended or _End(ABNORMAL_CLOSURE, "")
            raise WebSocketDisconnect(ended.code, ended.reason)

    def send_nowait(self, data: str | bytes) -> bool:
        if self.ended is not None or self.link.transport.ended is not None:
            return False
        return self.link.deliver_out(data)

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        if self.ended is not None:
            return
        reason = fit_reason(reason)
        self.end(code, reason)
        # Like the real server, the close frame waits behind frames still held (in order).
        self.link.deliver_out(_End(code, reason))
        self.link.to_server.put_nowait(_End(code, reason))  # our own recv() ends too


class _SimTransport:
    """The client side of a link: ``wslearn.transport.Transport``."""

    def __init__(self, link: _Link) -> None:
        self.link = link
        self.ended: _End | None = None

    async def recv(self) -> str | bytes:
        if self.ended is not None and self.link.to_client.empty():
            raise ConnectionLost(self.ended.code, self.ended.reason)
        item = await self.link.to_client.get()
        if isinstance(item, _End):
            if self.ended is None:
                self.ended = item
            raise ConnectionLost(item.code, item.reason)
        return item

    async def send(self, data: str) -> None:
        if self.ended is not None:
            raise ConnectionLost(self.ended.code, self.ended.reason)
        if self.link.channel.ended is not None:
            ended = self.link.channel.ended
            raise ConnectionLost(ended.code, ended.reason)
        self.link.deliver_in(data)

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        if self.ended is not None:
            return
        if code == ABNORMAL_CLOSURE:
            reason = ""
        self.ended = _End(code, reason)
        self.link.to_client.put_nowait(_End(code, reason))
        if self.link.channel.ended is not None:
            return  # the server closed first: nothing left to tell it
        self.link.deliver_in(_End(code, reason))
        if self.link.server.frozen:
            return  # a frozen server reads the close only after thaw(), like TCP
        # Like a closing handshake: return once the server let go of the connection.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.shield(self.link.done)

    def __repr__(self) -> str:
        return "<SimTransport>"


class SimServer(ServerHandle):
    """The course's topic server on the in-memory network (see the module docstring)."""

    def __init__(self, app: App | None = None, *, network: SimNetwork | None = None,
                 host: str = "sim", auth: TokenIssuer | None = None,
                 replay: int = DEFAULT_REPLAY_LIMIT) -> None:
        if app is None:
            from .topics import topic_app

            app = topic_app()
        if not isinstance(app, App):
            raise TypeError(f"app must be a wslearn.App (or None for topic_app()), got {app!r}")
        self.app = app
        self._init_connection_rules(auth, replay)
        self.network = network if network is not None else SimNetwork()
        self.host = host
        self.port = 80
        self.handshake_attempts = 0
        #: Frames held by a fault that were never delivered because the link ended first.
        self.frames_lost = 0
        self._listeners: Listeners[Listener] = Listeners("fn(event, info)")
        self._links: dict[int, _Link] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._side_tasks: set[asyncio.Task[Any]] = set()  # expiry closes
        self._ids = itertools.count(1)
        self._running = False
        self._frozen = False
        self._refusing = False
        self._delay = 0.0
        self._thaw_waiters: list[asyncio.Future[None]] = []
        self.network._register(self)

    # -- lifecycle -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> SimServer:
        """Listen (again): new dials reach the app."""
        if not self._running:
            self._running = True
            self._emit("start")
        return self

    def stop(self, *, code: int = GOING_AWAY, reason: str = "server stopped") -> None:
        """Close every connection (1001) and stop listening. Faults are cleared."""
        reason = self._close_reason(code, reason)
        if not self._running:
            return
        self._running = False
        self._frozen, self._refusing, self._delay = False, False, 0.0
        self._flap = None
        self._wake_handshakes()
        for link in list(self._links.values()):
            self._let_go(link, code, fit_reason(reason))
        self._emit("stop")

    # -- addresses -------------------------------------------------------------------

    def _authority(self) -> str:
        return self.host  # ``ws://sim/ws?topics=a,b``: dial it with ``network.dialer``

    @property
    def dialer(self) -> Callable[[str], Any]:
        """The dialer of this server's network, for ``Client(dialer=...)``."""
        return self.network.dialer

    # -- observation -------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        return len(self._links)

    @property
    def connections(self) -> list[ConnectionInfo]:
        hub = getattr(self.app.state, "hub", None)
        subs = hub.subscriptions() if hub is not None else {}
        return [
            ConnectionInfo(link.id, link.channel.path, subs.get(link.id, ()))
            for link in sorted(self._links.values(), key=lambda lk: lk.id)
        ]

    def reset_counters(self) -> None:
        self.handshake_attempts = self.handshakes = 0
        self.frames_lost = 0

    def _on_loop(self, fn: Callable[..., Any], what: str, *args: Any) -> Any:
        return fn(*args)  # the simulated server lives on the caller's loop

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    # -- publishing --------------------------------------------------------------------

    def publish(self, topic: str, type: str, **fields: Any) -> int:
        """Send an event to the topic's subscribers; returns how many it was queued for."""
        hub = getattr(self.app.state, "hub", None)
        if hub is None:
            raise RuntimeError(
                "this app has no TopicHub (app.state.hub): publish from your own endpoint, "
                "or serve topic_app()"
            )
        validate_topics([topic])
        delivered = hub.publish(topic, type, **fields)
        if not self._running:
            return 0
        self._emit("publish", topic=topic, type=type, delivered=delivered)
        return delivered

    # -- faults ------------------------------------------------------------------------

    def drop_all(self, code: int = ABNORMAL_CLOSURE, reason: str | None = None) -> int:
        """Drop every connection (1006: abort, no close frame); returns how many."""
        reason = self._drop_reason(code, reason)
        if code == ABNORMAL_CLOSURE:
            reason = ""
        links = list(self._links.values())
        for link in links:
            self._let_go(link, code, fit_reason(reason))
        self._emit("fault", fault="drop_all", code=code, dropped=len(links))
        return len(links)

    def freeze(self) -> None:
        """Stop reading; hold outgoing frames and new handshakes (a half-open server)."""
        if not self._frozen:
            self._frozen = True
            for link in self._links.values():
                if link.release is not None:
                    link.release.cancel()
                    link.release = None
            self._emit("fault", fault="freeze")

    def thaw(self) -> None:
        """Undo ``freeze()``: read again, send what was held, finish waiting handshakes."""
        if self._frozen:
            self._frozen = False
            self._wake_handshakes()
            for link in list(self._links.values()):
                link.thaw()
            self._emit("fault", fault="thaw")

    def refuse(self) -> None:
        """Answer every new handshake with HTTP 503 (existing connections stay)."""
        if not self._refusing:
            self._refusing = True
            self._emit("fault", fault="refuse")

    def accept_again(self) -> None:
        """Undo ``refuse()``."""
        if self._refusing:
            self._refusing = False
            self._emit("fault", fault="accept_again")

    def delay(self, seconds: float) -> None:
        """Send every outgoing frame ``seconds`` late (0 turns it off)."""
        self._delay = self._delay_seconds(seconds)
        self._emit("fault", fault="delay", seconds=self._delay)

    # -- the "network" side ------------------------------------------------------------

    async def _accept(self, path: str, query: str) -> Transport:
        """One handshake: what ``HttpApi.process_request`` + ``Server._handler`` do."""
        self.handshake_attempts += 1
        self._emit("handshake", path=path)
        while self._frozen and self._running:  # a frozen server answers nothing
            waiter = asyncio.get_running_loop().create_future()
            self._thaw_waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._thaw_waiters:
                    self._thaw_waiters.remove(waiter)
        target = path + ("?" + query if query else "")
        if not self._running:
            self._log_request("GET", target, 503)
            raise ConnectFailed("HTTP 503", 503)  # the server is stopping
        if self._refusing:
            self._log_request("GET", target, 503)
            self._emit("refused", path=path, status=503)
            raise ConnectFailed("HTTP 503", 503)
        if path not in self.app.routes:
            self._log_request("GET", target, 404)
            self._emit("refused", path=path, status=404)
            raise ConnectFailed("HTTP 404", 404)
        self._log_request("GET", target, 101)
        link = _Link(self, next(self._ids), path, query)
        self._links[link.id] = link
        self._emit("connect", id=link.id, path=path)
        task = asyncio.get_running_loop().create_task(
            self._serve(link), name=f"wslearn-sim-connection-{link.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return link.transport

    async def _serve(self, link: _Link) -> None:
        try:
            await self._serve_channel(link.channel)
        finally:
            ended = link.transport.ended or link.channel.ended
            code = ended.code if ended is not None else ABNORMAL_CLOSURE
            if self._links.pop(link.id, None) is not None:
                self._emit("disconnect", id=link.id, path=link.channel.path, code=code)
            if not link.done.done():
                link.done.set_result(None)

    def _let_go(self, link: _Link, code: int, reason: str) -> None:
        """End ``link`` from the server side and forget it now (count drops at once)."""
        link.cut(code, reason)
        if self._links.pop(link.id, None) is not None:
            self._emit("disconnect", id=link.id, path=link.channel.path, code=code)
        loop = link.loop
        # An endpoint that ignores the disconnect is cancelled, like the real server does.
        loop.call_later(CLOSE_TIMEOUT, self._cancel_stragglers)

    def _cancel_stragglers(self) -> None:
        for task in list(self._tasks):
            link_id = int(task.get_name().rsplit("-", 1)[-1])
            if link_id not in self._links:
                task.cancel()

    def _wake_handshakes(self) -> None:
        for waiter in self._thaw_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._thaw_waiters.clear()


class SimNetwork:
    """Hosts of the in-memory network; ``dialer`` connects a ``Client`` to them.

    >>> net = SimNetwork()
    >>> server = net.serve()           # topic_app() at ws://sim/ws
    >>> server.url(topics=["news"])
    'ws://sim/ws?topics=news'
    """

    def __init__(self) -> None:
        self._servers: dict[str, SimServer] = {}

    def serve(self, app: App | None = None, *, host: str | None = None,
              auth: TokenIssuer | None = None, replay: int = DEFAULT_REPLAY_LIMIT) -> SimServer:
        """A started ``SimServer`` for ``app`` (default: ``topic_app()``) on a new host name."""
        if host is None:
            host = "sim" if "sim" not in self._servers else f"sim{len(self._servers) + 1}"
        return SimServer(app, network=self, host=host, auth=auth, replay=replay).start()

    def _register(self, server: SimServer) -> None:
        if server.host in self._servers:
            raise ValueError(f"host {server.host!r} is already taken on this SimNetwork")
        self._servers[server.host] = server

    @property
    def servers(self) -> list[SimServer]:
        return list(self._servers.values())

    async def dialer(self, url: str) -> Transport:
        """Open a connection to ``url`` (``ws://HOST/path?query``) on this network."""
        host, path, query = split_ws_url(url)  # the real client's parser: same target
        await asyncio.sleep(0)  # a dial is never synchronous, even in memory
        server = self._servers.get(host)
        if server is None or not server.running:
            raise ConnectFailed("connection refused")
        if bad_request_target(path, query) is not None:  # the real server's HTTP parser
            raise ConnectFailed("handshake failed")
        return await server._accept(path, query)

    def __repr__(self) -> str:
        return f"<SimNetwork {len(self._servers)} server(s)>"
