"""What every server handle offers, real (``Server``) or simulated (``SimServer``).

A checker, a test or a notebook can switch between the real in-kernel server and the
in-memory one without changing a line, because both are this class: the same names,
the same argument checks, the same listener events, the same ``repr``. Only *how* a
fault happens differs (a thread hop and a real socket, or an in-memory link), so that
is all the two subclasses implement.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Self
from urllib.parse import urlencode

from .listeners import Listeners
from .protocol import (
    ABNORMAL_CLOSURE,
    GOING_AWAY,
    INTERNAL_ERROR,
    SERVICE_RESTART,
    topics_query,
)
from .waiting import until

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
    GOING_AWAY: "server going away",
    INTERNAL_ERROR: "server error (injected by drop_all)",
    SERVICE_RESTART: "server restarting",
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
