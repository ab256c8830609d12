"""The reconnect defaults of the clients people ship, side by side on one outage.

Chapter 11 asks: "if I used a library instead of this course's client, what would it do
when the server is down for a minute?" Each profile below holds one library's *default*
options, read from the source it ships (file and version in ``source``; the quotes are in
``docs/sources.md``), and its delay formula as :meth:`LibraryProfile.delay`. The numbers
are typed in (not imported) because most of these libraries are JavaScript; the test
suite checks the Python one against the installed ``websockets``.

:func:`outage_schedule` plays one outage in logical time: the connection is lost at
``t=0``, the server refuses every attempt before ``outage`` seconds (a refused TCP connect
fails at once), and the first attempt at or after ``outage`` succeeds. Because a refused
connect fails instantly, a library's *connection timeout* never fires here: it only
matters for a server that accepts TCP and never answers (chapter 11's frozen server). It
is listed, not simulated.

Randomness (jitter) draws from ``random.Random(seed)``, never the global generator: the
same seed gives the same schedule, so stored notebook outputs are stable. The module
does no IO and reads no clock.
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .backoff import BackoffPolicy
from .machine import ConnectionMachine

if TYPE_CHECKING:
    from .libraries_svg import LibraryComparison

__all__ = [
    "COURSE",
    "LIBRARIES",
    "MAX_OUTAGE",
    "CourseProfile",
    "LibraryProfile",
    "OutageSchedule",
    "ReactUseWebSocketProfile",
    "ReconnectingWebSocketProfile",
    "Row",
    "SocketIOProfile",
    "WebsocketsProfile",
    "outage_schedule",
    "show_libraries",
    "side_by_side",
    "what_to_match",
]

#: The longest outage simulated (one hour): the schedule, the table and the picture
#: grow with it, so it is bounded.
MAX_OUTAGE = 3600.0
#: A profile whose delays stay at 0 would loop forever; no real one comes close.
MAX_ATTEMPTS = 10_000


def _ms(seconds: float) -> float:
    """Logical seconds rounded to the millisecond (what the tables print)."""
    return round(seconds, 3) + 0.0


def _check_retry(retry: int) -> None:
    if isinstance(retry, bool) or not isinstance(retry, int):
        raise TypeError(f"retry must be an int (1 = the first retry), got {retry!r}")
    if retry < 1:
        raise ValueError(f"retry numbers start at 1, got {retry}")


def _grow(base: float, factor: float, steps: int, cap: float) -> float:
    """``min(cap, base * factor**steps)`` without overflowing on huge ``steps``."""
    try:
        return min(cap, base * factor**steps)
    except OverflowError:
        return cap


@dataclass(frozen=True, kw_only=True)
class LibraryProfile:
    """What every library profile says; subclasses add their options and formula.

    ``min_uptime`` is how long a connection must stay open before the retry counter
    resets (0: it resets the moment a connection opens, as this course's client does --
    the flapping-server mistake of chapter 11). ``connect_timeout`` is how long one open
    may hang before it counts as failed (``None``: no timeout of its own). Both in seconds.
    """

    name: str
    variant: str = ""
    version: str
    source: str
    jitter: str
    min_uptime: float
    connect_timeout: float | None
    heartbeat: str
    retries_on: str

    @property
    def label(self) -> str:
        """``name`` plus ``variant`` when there is one: the row's name in tables."""
        return f"{self.name} ({self.variant})" if self.variant else self.name

    @property
    def gives_up_after(self) -> int | None:
        """Failed retries after which it stops; ``None`` = never; 0 = never retries."""
        raise NotImplementedError

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds from the failure before retry ``retry`` (1-based) to that retry."""
        raise NotImplementedError

    def for_page(self, rng: random.Random) -> LibraryProfile:
        """The profile with whatever one page load fixes drawn from ``rng`` (default: itself)."""
        return self

    def options(self) -> dict[str, float | str]:
        """The default options under the names the library uses (its units)."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ReconnectingWebSocketProfile(LibraryProfile):
    """``reconnecting-websocket`` and its fork ``partysocket`` (same ``_getNextDelay``).

    Retry ``k`` waits ``min(maxReconnectionDelay, minReconnectionDelay * growFactor**(k-1))``:
    ``_connect`` increments ``_retryCount`` *before* ``_wait`` reads it, so the first retry
    already waits the whole minimum. ``min_delay=None`` is reconnecting-websocket's default
    ``1000 + Math.random() * 4000`` ms, evaluated once when the module loads: one random
    number per page, shared by every socket on it, not a jitter per retry.
    """

    min_delay: float | None  # seconds; None: 1 + random() * 4, drawn once per page load
    max_delay: float = 10.0
    grow_factor: float = 1.3
    max_retries: int | None = None  # Infinity

    @property
    def gives_up_after(self) -> int | None:
        return self.max_retries

    def for_page(self, rng: random.Random) -> LibraryProfile:
        if self.min_delay is not None:
            return self
        return replace(self, min_delay=_ms(1.0 + rng.random() * 4.0))

    def delay(self, retry: int, rng: random.Random) -> float:
        """Called on the default profile, each call is a new page load (a new draw)."""
        _check_retry(retry)
        page = self.for_page(rng)
        assert isinstance(page, ReconnectingWebSocketProfile) and page.min_delay is not None
        return _grow(page.min_delay, self.grow_factor, retry - 1, self.max_delay)

    def options(self) -> dict[str, float | str]:
        low = "1000 + Math.random() * 4000" if self.min_delay is None else self.min_delay * 1000
        return {
            "minReconnectionDelay": low,
            "maxReconnectionDelay": self.max_delay * 1000,
            "reconnectionDelayGrowFactor": self.grow_factor,
            "minUptime": self.min_uptime * 1000,
            "connectionTimeout": (self.connect_timeout or 0) * 1000,
            "maxRetries": "Infinity" if self.max_retries is None else self.max_retries,
        }


@dataclass(frozen=True, kw_only=True)
class ReactUseWebSocketProfile(LibraryProfile):
    """``react-use-websocket``'s ``useWebSocket``: a fixed interval, but only if asked.

    Without a ``shouldReconnect`` option the close handler does nothing: the hook never
    reconnects (``retryOnError`` is off too). With it, every retry waits
    ``reconnectInterval`` (5000 ms) and it stops after ``reconnectAttempts`` (20).
    """

    should_reconnect: bool
    interval: float = 5.0
    attempts: int = 20

    @property
    def gives_up_after(self) -> int | None:
        return self.attempts if self.should_reconnect else 0

    def delay(self, retry: int, rng: random.Random) -> float:
        _check_retry(retry)
        return self.interval

    def options(self) -> dict[str, float | str]:
        return {
            "shouldReconnect": "() => true" if self.should_reconnect else "undefined",
            "reconnectInterval": self.interval * 1000,
            "reconnectAttempts": self.attempts,
            "retryOnError": "false",
            "heartbeat": "false",
        }


@dataclass(frozen=True, kw_only=True)
class SocketIOProfile(LibraryProfile):
    """``socket.io-client``'s Manager with its ``Backoff`` (a copy of ``backo2``).

    Retry ``k``: ``ms = reconnectionDelay * 2**(k-1)``; one ``rand = Math.random()`` gives
    ``deviation = floor(rand * randomizationFactor * ms)``, subtracted when
    ``floor(rand * 10)`` is even and added when odd; then ``min(ms, reconnectionDelayMax) | 0``.
    So each delay is within ``ms * (1 -/+ 0.5)`` before the 5 s cap: from the 4th retry on
    the delay is (almost) always the cap.
    """

    reconnection_delay: float = 1.0
    delay_max: float = 5.0
    randomization: float = 0.5
    attempts: int | None = None  # Infinity

    @property
    def gives_up_after(self) -> int | None:
        return self.attempts

    def delay(self, retry: int, rng: random.Random) -> float:
        _check_retry(retry)
        # JavaScript's 2**k is Infinity past 1023; 2**60 is already far past any cap.
        ms = self.reconnection_delay * 1000 * 2 ** min(retry - 1, 60)
        if self.randomization > 0:
            rand = rng.random()
            deviation = math.floor(rand * self.randomization * ms)
            ms = ms - deviation if math.floor(rand * 10) % 2 == 0 else ms + deviation
        return int(min(ms, self.delay_max * 1000)) / 1000  # `| 0` truncates

    def options(self) -> dict[str, float | str]:
        return {
            "reconnectionDelay": self.reconnection_delay * 1000,
            "reconnectionDelayMax": self.delay_max * 1000,
            "randomizationFactor": self.randomization,
            "reconnectionAttempts": "Infinity" if self.attempts is None else self.attempts,
            "timeout": (self.connect_timeout or 0) * 1000,
        }


@dataclass(frozen=True, kw_only=True)
class WebsocketsProfile(LibraryProfile):
    """Python ``websockets``: ``async for ws in connect(uri)`` and its ``backoff()``.

    After a connection *drops*, the loop connects again at once (the generator is reset
    on every successful connection, so no delay is drawn: retry 1 waits 0 s). Only when
    that fails does ``backoff()`` start: ``random() * 5`` (RFC 6455 7.2.3), then 3.1 s
    growing by 1.618 while below 90 s, then 90 s forever.
    """

    initial_delay: float = 5.0
    min_delay: float = 3.1
    max_delay: float = 90.0
    factor: float = 1.618

    @property
    def gives_up_after(self) -> int | None:
        return None

    def delay(self, retry: int, rng: random.Random) -> float:
        _check_retry(retry)
        if retry == 1:
            return 0.0
        if retry == 2:
            return rng.random() * self.initial_delay
        delay = self.min_delay  # the generator multiplies step by step; so do we
        for _ in range(retry - 3):
            if delay >= self.max_delay:
                break
            delay *= self.factor
        return delay if delay < self.max_delay else self.max_delay

    def options(self) -> dict[str, float | str]:
        return {
            "initial_delay": self.initial_delay,
            "min_delay": self.min_delay,
            "max_delay": self.max_delay,
            "factor": self.factor,
            "open_timeout": self.connect_timeout or 0,
        }


def _course_open_timeout() -> float:
    """The course client's default ``open_timeout``, read from its signature (one home)."""
    default = inspect.signature(ConnectionMachine.__init__).parameters["open_timeout"].default
    return float(default)


@dataclass(frozen=True, kw_only=True)
class CourseProfile(LibraryProfile):
    """This course's client: whatever ``BackoffPolicy()`` says (1, 2, 4, 8, 16 s; 5 tries)."""

    policy: BackoffPolicy = field(default_factory=BackoffPolicy)

    @property
    def gives_up_after(self) -> int | None:
        return self.policy.max_attempts

    def delay(self, retry: int, rng: random.Random) -> float:
        _check_retry(retry)
        return self.policy.delay(retry, rng)

    def options(self) -> dict[str, float | str]:
        p = self.policy
        return {"base": p.base, "factor": p.factor, "cap": p.cap,
                "max_attempts": "None" if p.max_attempts is None else p.max_attempts,
                "jitter": p.jitter}


_BROWSER = "close or error (any code), refused connects"

COURSE = CourseProfile(
    name="this course's client",
    variant=BackoffPolicy().describe().split(" (")[0],
    version="wslearn",
    source="wslearn/backoff.py (BackoffPolicy)",
    jitter=BackoffPolicy().jitter,
    min_uptime=0.0,
    connect_timeout=_course_open_timeout(),
    heartbeat="wslearn.heartbeat.HeartbeatPolicy",
    retries_on="any loss except close code 1008",
)

#: The libraries of chapter 11 in a stable order (the table's and the picture's rows).
LIBRARIES: tuple[LibraryProfile, ...] = (
    ReconnectingWebSocketProfile(
        name="reconnecting-websocket",
        version="4.4.0",
        source="reconnecting-websocket.ts (DEFAULT, _getNextDelay, _connect)",
        min_delay=None,
        jitter="once per page: minReconnectionDelay = 1000 + Math.random() * 4000",
        min_uptime=5.0,
        connect_timeout=4.0,
        heartbeat="none",
        retries_on=_BROWSER,
    ),
    ReconnectingWebSocketProfile(
        name="partysocket",
        version="1.3.0",
        source="dist/ws.js (DEFAULT, _getNextDelay, _connect)",
        min_delay=3.0,
        jitter="none (minReconnectionDelay is a fixed 3000; its README still says random)",
        min_uptime=5.0,
        connect_timeout=4.0,
        heartbeat="none",
        retries_on=_BROWSER + "; shouldReconnectOnClose can veto",
    ),
    ReactUseWebSocketProfile(
        name="react-use-websocket",
        variant="defaults",
        version="4.13.0",
        source="src/lib/attach-listener.ts, src/lib/constants.ts",
        should_reconnect=False,
        jitter="none",
        min_uptime=0.0,
        connect_timeout=None,
        heartbeat="off (heartbeat: true = 'ping' every 25 s, close after 60 s silent)",
        retries_on="nothing: no shouldReconnect, no retryOnError",
    ),
    ReactUseWebSocketProfile(
        name="react-use-websocket",
        variant="shouldReconnect: () => true",
        version="4.13.0",
        source="src/lib/attach-listener.ts, src/lib/constants.ts",
        should_reconnect=True,
        jitter="none",
        min_uptime=0.0,
        connect_timeout=None,
        heartbeat="off (heartbeat: true = 'ping' every 25 s, close after 60 s silent)",
        retries_on="closes for which shouldReconnect(event) is true",
    ),
    SocketIOProfile(
        name="socket.io-client",
        version="4.8.4",
        source="build/esm/manager.js, build/esm/contrib/backo2.js",
        jitter="per retry: +/- up to 50% (randomizationFactor 0.5)",
        min_uptime=0.0,
        connect_timeout=20.0,
        heartbeat="server-driven (Engine.IO pingInterval/pingTimeout)",
        retries_on="any loss except a disconnect the client or server asked for",
    ),
    WebsocketsProfile(
        name="websockets",
        variant="Python: async for ws in connect()",
        version="17.4",
        source="websockets/client.py (backoff, process_exception), asyncio/client.py",
        jitter="first delay only: random() * 5 s",
        min_uptime=0.0,
        connect_timeout=10.0,
        heartbeat="ping every 20 s, close if no pong in 20 s",
        retries_on="OSError, TimeoutError, EOF during handshake, HTTP 500/502/503/504",
    ),
)


# -- the simulation -----------------------------------------------------------------------


@dataclass(frozen=True)
class OutageSchedule:
    """One profile on one outage: every attempt time (the last one may be the success)."""

    profile: LibraryProfile
    outage: float
    attempts: tuple[float, ...]
    reconnected_at: float | None
    gave_up_at: float | None

    @property
    def failed(self) -> tuple[float, ...]:
        """Attempts refused because the server was still down."""
        return tuple(t for t in self.attempts if t < self.outage)

    @property
    def gave_up(self) -> bool:
        return self.gave_up_at is not None

    def __iter__(self) -> Iterator[float]:
        return iter(self.attempts)


def _check_outage(outage: object) -> float:
    if isinstance(outage, bool) or not isinstance(outage, int | float):
        raise TypeError(f"outage must be a number of seconds, got {outage!r}")
    if not math.isfinite(outage) or not 0 <= outage <= MAX_OUTAGE:
        raise ValueError(
            f"outage must be between 0 and {MAX_OUTAGE:g} seconds (the server is down from "
            f"t=0 until then), got {outage!r}"
        )
    return float(outage)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(
            f"seed must be an int (the same seed gives the same jitter), got {seed!r}"
        )
    return seed


def outage_schedule(
    profile: LibraryProfile, outage: float = 60.0, seed: int = 0
) -> OutageSchedule:
    """Play ``profile`` on a server that is down from ``t=0`` to ``t=outage`` seconds.

    The connection is lost at ``t=0``; each retry fails at once while ``t < outage``
    (connection refused, so connection timeouts never fire); the first retry at or after
    ``outage`` succeeds. Times are logical seconds rounded to the millisecond. Jitter
    draws from ``random.Random(seed)``, one generator per profile, so a row does not
    change when other rows are added.
    """
    if not isinstance(profile, LibraryProfile):
        raise TypeError(f"profile must be a LibraryProfile (see LIBRARIES), got {profile!r}")
    end = _check_outage(outage)
    rng = random.Random(_check_seed(seed))
    page = profile.for_page(rng)
    limit = page.gives_up_after
    t = 0.0
    attempts: list[float] = []
    while limit is None or len(attempts) < limit:
        if len(attempts) >= MAX_ATTEMPTS:
            raise ValueError(
                f"{profile.label}: more than {MAX_ATTEMPTS} retries in {end:g} s; "
                "are its delays all zero?"
            )
        t += page.delay(len(attempts) + 1, rng)
        attempts.append(_ms(t))
        if t >= end:
            return OutageSchedule(profile, end, tuple(attempts), attempts[-1], None)
    return OutageSchedule(profile, end, tuple(attempts), None, attempts[-1] if attempts else 0.0)


# -- the table ----------------------------------------------------------------------------


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s"


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side table (numbers in seconds; ``None`` = does not apply)."""

    library: str
    version: str
    retries_during_outage: int
    first_retry: float | None
    last_failed_retry: float | None
    reconnected_at: float | None
    jitter: str
    gives_up: str
    min_uptime: str
    connect_timeout: str
    to_match: str

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _gives_up(schedule: OutageSchedule) -> str:
    limit = schedule.profile.gives_up_after
    if limit is None:
        return "never"
    if limit == 0:
        return "never retries"
    word = "retry" if limit == 1 else "retries"
    if schedule.gave_up_at is None:
        return f"after {limit} {word} (back before that)"
    return f"after {limit} {word} (t={_secs(schedule.gave_up_at)})"


def _row(schedule: OutageSchedule) -> Row:
    p = schedule.profile
    failed = schedule.failed
    return Row(
        library=p.label,
        version=p.version,
        retries_during_outage=len(failed),
        first_retry=schedule.attempts[0] if schedule.attempts else None,
        last_failed_retry=failed[-1] if failed else None,
        reconnected_at=schedule.reconnected_at,
        jitter=p.jitter,
        gives_up=_gives_up(schedule),
        min_uptime="none (resets on open)" if p.min_uptime == 0 else _secs(p.min_uptime),
        connect_timeout="none" if p.connect_timeout is None else _secs(p.connect_timeout),
        to_match=what_to_match(p),
    )


def side_by_side(outage: float = 60.0, seed: int = 0) -> tuple[Row, ...]:
    """The table of chapter 11: the course's client first, then every library."""
    return tuple(_row(outage_schedule(p, outage, seed)) for p in (COURSE, *LIBRARIES))


def show_libraries(outage: float = 60.0, seed: int = 0) -> LibraryComparison:
    """The picture and the table for a notebook (drawn by :mod:`wslearn.libraries_svg`)."""
    from .libraries_svg import show_libraries as show

    return show(outage, seed)


# -- what it would take to behave like the course's client ---------------------------------


def what_to_match(profile: LibraryProfile) -> str:
    """The options to set so ``profile`` retries like this course's client.

    Computed from ``COURSE.policy`` (one home for the numbers). Where a library resets
    only after ``minUptime``, matching the course exactly means 0 -- but chapter 11
    recommends keeping a minimum uptime (a flapping server), so the text says both.
    """
    p = COURSE.policy
    if p.max_attempts is None:  # pragma: no cover - the course always gives up
        raise ValueError("the course's policy has no attempt limit")
    n = p.max_attempts
    first_ms = p.ceiling(1) * 1000
    last_ms = p.ceiling(n) * 1000
    if isinstance(profile, CourseProfile):
        return "nothing: this is the course's client"
    if isinstance(profile, ReconnectingWebSocketProfile):
        return (
            f"minReconnectionDelay: {first_ms:g}, reconnectionDelayGrowFactor: {p.factor:g}, "
            f"maxReconnectionDelay: {last_ms:g}, maxRetries: {n}; minUptime: 0 resets on open "
            "like the course (keep 5000 against a flapping server)"
        )
    if isinstance(profile, ReactUseWebSocketProfile):
        return (
            f"shouldReconnect: () => true, reconnectAttempts: {n}, "
            f"reconnectInterval: (n) => Math.min({p.cap * 1000:g}, "
            f"{first_ms:g} * {p.factor:g} ** n)"
            " (n counts from 0; it has no minUptime or connect timeout option)"
        )
    if isinstance(profile, SocketIOProfile):
        return (
            f"reconnectionDelay: {first_ms:g}, reconnectionDelayMax: {last_ms:g}, "
            f"randomizationFactor: 0, reconnectionAttempts: {n} (its factor is fixed at 2)"
        )
    if isinstance(profile, WebsocketsProfile):
        rest = ", ".join(f"{p.ceiling(k):g}" for k in range(2, n + 1))
        return (
            f"sleep {p.ceiling(1):g} s yourself before re-entering the loop (it retries at "
            f"once), reconnect_delays=lambda: iter([{rest}]), and a process_exception that "
            f"returns the error after {n} failures in a row, reset in the loop body "
            "(the loop never gives up)"
        )
    raise TypeError(f"no known options for {type(profile).__name__}")
