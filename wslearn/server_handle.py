"""What every server handle offers, real (``Server``) or simulated (``SimServer``).

A checker, a test or a notebook can switch between the real in-kernel server and the
in-memory one without changing a line, because both are this class: the same names,
the same argument checks, the same listener events, the same ``repr``. Only *how* a
fault happens differs (a thread hop and a real socket, or an in-memory link), so that
is all the two subclasses implement.

The rules of chapter 11 that act on each new connection live here once, for both:
``flap()`` (accept, then close at once), ``handshakes`` (completed upgrades), and the
token check of ``serve(auth=TokenIssuer(...))`` -- by query, cookie or first message --
with its expiry close, on the server loop's clock (virtual under ``run_virtual``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import parse_qsl, urlencode

from .app import WebSocketDisconnect
from .auth import Token, TokenIssuer, Verdict
from .listeners import Listeners
from .protocol import (
    ABNORMAL_CLOSURE,
    AUTH_EXPIRED,
    AUTH_FORBIDDEN,
    GOING_AWAY,
    INTERNAL_ERROR,
    NORMAL_CLOSURE,
    SERVICE_RESTART,
    TOKEN_COOKIE,
    TOKEN_PARAM,
    TRY_AGAIN_LATER,
    ProtocolError,
    decode,
    topics_query,
    without_params,
)
from .waiting import until

if TYPE_CHECKING:
    from .app import App, Channel

__all__ = ["ConnectionInfo", "Listener", "ServerHandle"]

logger = logging.getLogger("wslearn.server")
# A library must not print: without logging configured, errors stay silent rather
# than landing in whichever notebook cell happens to run (background threads!).
logger.addHandler(logging.NullHandler())

#: Longest ``delay()`` (seconds); longer would look like a hang, use ``freeze()``.
MAX_DELAY: Final = 60.0
#: Close codes ``drop_all`` may send (1006 means "abort, send nothing").
SENDABLE_CODES: Final = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                   1012, 1013, 1014})
#: The reason ``drop_all(code)`` sends when none is given.
DROP_REASONS: Final = {
    NORMAL_CLOSURE: "server closed the connection",
    GOING_AWAY: "server going away",
    INTERNAL_ERROR: "server error (injected by drop_all)",
    SERVICE_RESTART: "server restarting",
    TRY_AGAIN_LATER: "server busy: try again later",
    AUTH_EXPIRED: "token expired",
    AUTH_FORBIDDEN: "forbidden",
}
#: Request lines kept on ``server.access_log`` (the oldest are dropped).
MAX_ACCESS_LOG: Final = 200
#: How long a socket without a token in its URL or cookie may take to send its
#: ``{"type": "auth", "token": ...}`` first frame (seconds, the server loop's clock).
AUTH_TIMEOUT: Final = 5.0
#: Close reasons of the token check, by verdict (the codes: ``protocol.AUTH_*``).
AUTH_CLOSES: Final = {
    Verdict.MISSING: (AUTH_EXPIRED, "token missing"),
    Verdict.EXPIRED: (AUTH_EXPIRED, "token expired"),
    Verdict.INVALID: (AUTH_FORBIDDEN, "invalid token"),
}

#: ``fn(event, info)``: events ``start``, ``stop``, ``handshake``, ``refused``,
#: ``connect``, ``disconnect``, ``http``, ``publish``, ``fault``.
Listener = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class ConnectionInfo:
    """One open connection as the server sees it (ids are 1, 2, 3 ... per server): the
    cleanup lesson's evidence."""

    id: int
    path: str
    topics: tuple[str, ...] = ()


class ServerHandle:
    """The shared face of ``Server`` and ``SimServer``.

    Subclasses provide ``running``, ``connection_count``, ``start()``, ``stop(code=,
    reason=)``, ``_authority()`` and the faults themselves; they keep ``_frozen``,
    ``_refusing``, ``_delay`` and ``_listeners`` up to date.
    """

    _frozen: bool
    _refusing: bool
    _delay: float
    _listeners: Listeners[Listener]
    app: App
    #: The token issuer of ``serve(auth=...)``, or None: every socket is served.
    auth: TokenIssuer | None
    #: Completed websocket handshakes (101) since start or ``reset_counters()``.
    handshakes: int
    _flap: tuple[int, str] | None
    _access_log: collections.deque[str]

    def _init_connection_rules(self, auth: TokenIssuer | None, replay: int) -> None:
        """The settings of chapter 11 both servers share (called by their ``__init__``)."""
        if auth is not None and not isinstance(auth, TokenIssuer):
            raise TypeError(f"auth must be a wslearn.auth.TokenIssuer (e.g. "
                            f"TokenIssuer(lifetime=30)) or None, got {auth!r}")
        if isinstance(replay, bool) or not isinstance(replay, int) or replay < 0:
            raise ValueError(f"replay must be an int >= 0 (events kept per topic for "
                             f"resuming clients; 0 keeps none), got {replay!r}")
        self.auth = auth
        self.handshakes = 0
        self._flap = None
        self._access_log = collections.deque(maxlen=MAX_ACCESS_LOG)
        hub = getattr(self.app.state, "hub", None)
        if hub is not None and getattr(hub, "replay_limit", replay) != replay:
            hub.replay_limit = replay  # a new limit starts an empty buffer

    def _on_loop(self, fn: Callable[..., Any], what: str, *args: Any) -> Any:
        """Run ``fn(*args)`` where the server's state lives (the real server: its thread)."""
        raise NotImplementedError  # pragma: no cover - always overridden

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a task the server owns (ended and checked on stop)."""
        raise NotImplementedError  # pragma: no cover - always overridden

    @property
    def running(self) -> bool:  # pragma: no cover - always overridden
        raise NotImplementedError

    @property
    def connection_count(self) -> int:  # pragma: no cover - always overridden
        raise NotImplementedError

    def start(self) -> Self:  # pragma: no cover - always overridden
        raise NotImplementedError

    def stop(self, *, code: int = GOING_AWAY, reason: str = "server stopped") -> None:
        raise NotImplementedError  # pragma: no cover - always overridden

    def _authority(self) -> str:  # pragma: no cover - always overridden
        raise NotImplementedError

    # -- lifecycle -----------------------------------------------------------------

    def restart(self) -> Self:
        """Stop (clients see 1012 "server restarting") and start again on the same port."""
        self.stop(code=SERVICE_RESTART, reason="server restarting")
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        """``<Server running (frozen), 2 connections>``: no port, so stored outputs match."""
        name = type(self).__name__
        if not self.running:
            return f"<{name} stopped>"
        faults = [label for label, on in (("frozen", self._frozen),
                                          ("refusing", self._refusing),
                                          ("flapping", self._flap is not None),
                                          (f"delay {self._delay:g} s", self._delay > 0)) if on]
        n = self.connection_count
        state = "running" + (f" ({', '.join(faults)})" if faults else "")
        return f"<{name} {state}, {n} connection{'' if n == 1 else 's'}>"

    # -- addresses -----------------------------------------------------------------

    def url(self, path: str = "/ws", topics: str | Iterable[str] | None = None) -> str:
        """``ws://HOST/ws?topics=a,b``. Topics are not validated here, so a lesson can
        build a bad URL on purpose; the server answers it with 1008."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        if isinstance(topics, str):
            topics = [topics]
        query = topics_query(topics) if topics is not None else ""
        params = self._url_params()
        if params:  # the server's key goes last, so the URL still reads like chapter 01's
            query += ("&" if query else "") + urlencode(params)
        return f"ws://{self._authority()}{path}{'?' if query else ''}{query}"

    def _url_params(self) -> list[tuple[str, str]]:
        """Query parameters every URL of this server carries (the real server: its key)."""
        return []

    # -- observation ---------------------------------------------------------------

    @property
    def frozen(self) -> bool:
        return self._frozen

    @property
    def refusing(self) -> bool:
        return self._refusing

    @property
    def current_delay(self) -> float:
        return self._delay

    @property
    def flapping(self) -> bool:
        """True between ``flap()`` and ``steady()``."""
        return self._flap is not None

    @property
    def access_log(self) -> list[str]:
        """The last ``MAX_ACCESS_LOG`` requests, oldest first, as an access log writes them:
        ``"GET /ws?topics=a&token=... 101"`` -- raw, so a token in a URL shows (print them
        through ``wslearn.auth.redact``). The server's own ``key`` is left out."""
        return list(self._access_log)

    def _log_request(self, method: str, target: str, status: int) -> None:
        path, _, query = target.partition("?")
        kept = without_params(query, "key")
        self._access_log.append(f"{method} {path}{'?' if kept else ''}{kept} {status}")

    # -- chapter 11: flapping, tokens --------------------------------------------------

    def flap(self, code: int = INTERNAL_ERROR, reason: str = "flapping") -> None:
        """Make every new handshake succeed (101) and then close at once with ``code``
        (no welcome): a server that accepts and drops, the loop chapter 11 measures in
        ``handshakes``. ``steady()`` ends it; open connections are not touched."""
        reason = self._close_reason(code, reason)
        self._on_loop(self._set_flap, "flap()", (code, reason))

    def steady(self) -> None:
        """Undo ``flap()``: new handshakes are served again."""
        self._on_loop(self._set_flap, "steady()", None)

    def _set_flap(self, flap: tuple[int, str] | None) -> None:
        if self._flap != flap:
            self._flap = flap
            if flap is None:
                self._emit("fault", fault="steady")
            else:
                self._emit("fault", fault="flap", code=flap[0])

    def issue_token(self) -> Token:
        """A fresh token from ``serve(auth=...)``'s issuer, on the server's clock (thread-safe):
        what a login endpoint (``GET /api/token``) hands a client. Its repr hides its text."""
        if self.auth is None:
            raise RuntimeError("this server has no auth: start it with "
                               "serve(auth=TokenIssuer(lifetime=30)) to issue tokens")
        token: Token = self._on_loop(self._issue_token_now, "issue_token()")
        return token

    def _issue_token_now(self) -> Token:
        assert self.auth is not None
        return self.auth.issue(asyncio.get_running_loop().time())

    async def _serve_channel(self, channel: Channel) -> None:
        """One accepted connection (after its 101): flap, or check its token, then run the
        app -- and close 4401 when the token expires. Both servers call this."""
        self.handshakes += 1
        flap = self._flap
        if flap is not None:
            await channel.close(*flap)
            return
        if self.auth is None:
            await self.app.handle(channel)
            return
        expires_at = await self._admit(channel)
        if expires_at is None:
            return
        loop = asyncio.get_running_loop()
        timer = loop.call_at(expires_at, self._expire, channel)
        try:
            await self.app.handle(channel)
        finally:
            timer.cancel()

    def _expire(self, channel: Channel) -> None:
        self._spawn(channel.close(*AUTH_CLOSES[Verdict.EXPIRED]))

    async def _admit(self, channel: Channel) -> float | None:
        """Check the socket's token (query, cookie, else its first frame); close 4401/4403
        and return None, or return when the valid token expires (loop time)."""
        auth = self.auth
        assert auth is not None
        pairs = parse_qsl(channel.query, keep_blank_values=True)
        # The endpoint never sees the token (it might echo or log it), like the key.
        channel.query = without_params(channel.query, TOKEN_PARAM)
        given = [value for name, value in pairs if name == TOKEN_PARAM]
        token: str | None = given[-1] if given else _cookie_token(channel)
        if token is None:
            try:
                token = await self._first_message_token(channel)
            except WebSocketDisconnect:
                return None
        loop = asyncio.get_running_loop()
        verdict = auth.verify(token, loop.time())
        if verdict is not Verdict.VALID or token is None:
            await channel.close(*AUTH_CLOSES.get(verdict, AUTH_CLOSES[Verdict.INVALID]))
            return None
        return auth.expires_at(token)

    @staticmethod
    async def _first_message_token(channel: Channel) -> str | None:
        """The token of a ``{"type": "auth", "token": ...}`` first frame; None when none
        came in time (or the first frame was something else: nothing runs before auth)."""
        try:
            async with asyncio.timeout(AUTH_TIMEOUT):
                frame = await channel.recv()
        except TimeoutError:
            return None
        try:
            message = decode(frame)
        except ProtocolError:
            return None
        if message.get("type") != "auth":
            return None
        token = message.get("token")
        if token is None or isinstance(token, str):
            return token or ""  # "" is MISSING
        return str(token)  # a number, a list ...: not one of ours (INVALID)

    async def until(self, predicate: Callable[[Self], bool], timeout: float = 5.0,
                    what: str = "the condition") -> Self:
        """Wait (without blocking the caller's event loop) until ``predicate(server)`` holds.

        Counts are updated on the server's side a moment after a client sees its own
        side change, so a notebook that prints a count right after an action races with
        the server. Awaiting the condition first makes the printed value deterministic.
        Raises ``TimeoutError`` naming ``what`` after ``timeout`` seconds.
        """
        await until(lambda: predicate(self), timeout, what=f"server: {what}")
        return self

    async def wait_for_connections(self, n: int, timeout: float = 5.0) -> int:
        """Wait until exactly ``n`` connections are open; return ``n``.

        ``await server.wait_for_connections(0)`` after closing clients is the cleanup
        lesson's measurement: it returns as soon as the server has let go of all of them.
        """
        await self.until(lambda s: s.connection_count == n, timeout,
                         what=f"{n} open connection{'' if n == 1 else 's'}")
        return n

    # -- listeners -----------------------------------------------------------------

    def add_listener(self, fn: Listener) -> Listener:
        """Call ``fn(event, info)`` for every server event (on the real server: on its
        thread). ``fn`` must be quick and must not print. Returns ``fn`` (a decorator).
        The same style as ``Client`` and ``Timeline`` (``wslearn.listeners``)."""
        self._listeners.add(fn)
        return fn

    def remove_listener(self, fn: Listener) -> None:
        """Stop calling ``fn`` (harmless if it is not registered)."""
        self._listeners.discard(fn)

    def _emit(self, event: str, **info: Any) -> None:
        for fn in list(self._listeners):
            try:
                fn(event, info)
            except Exception:  # a broken listener must not break the server
                logger.error("%s listener %r failed on %r", type(self).__name__, fn, event,
                             exc_info=True)

    # -- argument checks shared by the faults --------------------------------------

    @staticmethod
    def _drop_reason(code: int, reason: str | None) -> str:
        """Check ``drop_all``'s code; return the reason to send (default per code)."""
        if not isinstance(code, int) or (code != ABNORMAL_CLOSURE and code not in SENDABLE_CODES
                                         and not 3000 <= code <= 4999):
            raise ValueError(
                f"drop_all(code={code!r}): use 1006 (abort, no close frame) or a close code "
                "that can be sent, such as 1001, 1011, 1012 or 3000-4999"
            )
        return reason if reason is not None else DROP_REASONS.get(code, "dropped by server")

    @classmethod
    def _close_reason(cls, code: int, reason: str) -> str:
        """Check ``stop()``'s code and reason like ``drop_all()`` checks its own."""
        if code == ABNORMAL_CLOSURE:
            raise ValueError("stop(code=1006): 1006 is never sent on the wire; use "
                             "drop_all() to abort connections, or a code such as 1001")
        cls._drop_reason(code, reason)
        if not isinstance(reason, str):
            raise TypeError(f"reason must be a str, got {type(reason).__name__}")
        return reason

    @staticmethod
    def _delay_seconds(seconds: float) -> float:
        """Check ``delay()``'s argument; return it as a float."""
        if (not isinstance(seconds, int | float) or isinstance(seconds, bool)
                or not math.isfinite(seconds) or not 0 <= seconds <= MAX_DELAY):
            raise ValueError(
                f"delay(seconds) takes 0..{MAX_DELAY:g} seconds, got {seconds!r}; "
                "use freeze() for a server that never answers"
            )
        return float(seconds)


def _cookie_token(channel: Any) -> str | None:
    """The ``wslearn_token`` cookie of the handshake, if the channel has its headers.

    Parsed by hand, not with ``http.cookies.SimpleCookie``: one cookie it finds malformed
    (a space in a value, another app's format) makes it drop *every* cookie of the header,
    and behind Jupyter's proxy the browser sends Jupyter's cookies beside ours."""
    for name, value in getattr(channel, "headers", ()):
        if name.lower() != "cookie":
            continue
        for pair in value.split(";"):
            key, sep, token = pair.strip().partition("=")
            if sep and key == TOKEN_COOKIE:
                return token.strip().strip('"')
    return None
