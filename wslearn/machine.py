"""The connection state machine: events in, commands out (sans-IO).

This is the seed's ``useWebSocket`` hook with the IO taken out. The machine never
opens a socket, sleeps or starts a task; it is *told* what happened (an ``Event``)
and *answers* what to do (a list of ``Command``). The asyncio driver
(``wslearn.client``) performs the commands on the real network, or on the in-memory
network of ``wslearn.simnet`` -- the same machine, so both behave identically, and a
notebook can feed it events by hand to see every decision.

States (``wslearn.states.State``)::

    disconnected --Connect--> connecting --Opened--> connected
    connected --Closed / pong timeout--> reconnecting --(wait)--> attempt --Opened--> connected
    reconnecting --last attempt failed--> disconnected   (+ Notify "WebSocket unavailable")
    any --CloseRequested--> closed                        (final: never reconnects)
    any but closed --ReconnectRequested--> connecting     (attempts reset)

**Attempts.** Attempt 0 is the connect you asked for (``Connect`` or
``ReconnectRequested``). After a failure -- the connection is lost, or an open fails --
retry ``k`` (1..``max_attempts``) is opened ``policy.delay(k)`` seconds *after the
previous failure*. With the seed's policy and a server that stays down, the retries
happen 1, 3, 7, 15 and 31 s after the drop (waits of 1, 2, 4, 8, 16 s); the 5th failure
gives up: ``disconnected`` and ``Notify("error", "WebSocket unavailable")``. A
successful open resets the count (the seed's max-attempts snippet never does, so its
5 attempts are spent over the lifetime of the page, not per outage).

**Timers.** ``"reconnect"`` (the backoff wait), ``"open"`` (an attempt that hangs,
e.g. against a frozen server, fails after ``open_timeout``), ``"ping"`` and ``"pong"``
(the heartbeat). At most one timer per name is armed. Every timer is cancelled when
it stops making sense -- on ``CloseRequested`` *all* of them are, which is the fix for
the seed's reconnect example, whose cleanup ``close()`` fires ``onclose`` and so
schedules a reconnect after unmount.

**Logical time.** ``t`` moves only when a timer fires, to that timer's planned
deadline. Under the virtual clock this is the clock; under a real or sped-up clock it
is the *planned* time, so timelines are identical run after run (see
``wslearn.timeline``).

**Stale events are ignored**, never errors: a ``TimerFired`` for a timer that is not
armed, an ``Opened`` when nothing is opening, a ``Closed`` when nothing is open. Real
networks produce such races (a close that crosses a cancel), and a handler that
crashed the machine on them would be worse than the race.

**Close codes.** What a close the client did not ask for leads to is the close
policy's decision (``wslearn.close_policy``): ``RETRY`` -> ``reconnecting``;
``GIVE_UP`` -> ``disconnected`` + notify (the request itself was refused, e.g. 1008 for
a bad topic); ``DONE`` -> ``disconnected`` quietly (the server ended the session with
1000); ``REFRESH`` -> ``RefreshCredentials`` and an open at once, no backoff (4401: the
token expired) -- but a second 4401 before the connection proved stable gives up
("log in again"), so a server that rejects every fresh token is not an endless loop.
"Stable" is ``policy.min_uptime``; with Module 07's ``min_uptime=0`` a connection
opened with a refreshed token must still stay up ``REFRESH_PROOF`` (1 s) first.
The default table is ``MODULE_07`` (only 1008 gives up: chapters 01-10); chapter 11
passes ``RECOMMENDED``. The attempt limit lives in ``BackoffPolicy.gives_up_after``.
The machine asks both and never restates them.

**Minimum uptime** (chapter 11). With ``policy.min_uptime == 0`` an open resets the
attempt counter at once (Module 07). Otherwise the ``"stable"`` timer is armed on open
and only its firing resets the counter; a connection lost before that continues the
count, so a *flapping* server (accepts, then drops at once) meets the growing backoff
and the attempt limit instead of a tight reconnect loop.

**The browser's signals** (chapter 11). ``Offline`` pauses retrying: a pending backoff
wait is cancelled and failures while offline spend no attempts. ``Online`` connects at
once with attempts reset while the client is retrying or waiting for the network (why
wait out a 16 s backoff when the network is back?); after giving up, Reconnect stays
the user's call. ``Visible`` (the tab is shown again) retries at once if a backoff wait
is pending. The browser page feeds these from ``online``/``offline`` and
``visibilitychange``; the Python client has ``offline()``/``online()``/``visible()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final, assert_never

from .backoff import BackoffPolicy
from .close_policy import MODULE_07, CloseAction, ClosePolicy
from .heartbeat import HeartbeatPolicy
from .protocol import ABNORMAL_CLOSURE, NORMAL_CLOSURE, close_code_name
from .states import State
from .timeline import Entry, Timeline, fmt_seconds

__all__ = [
    "CancelTimer",
    "CloseRequested",
    "CloseSocket",
    "Closed",
    "Command",
    "Connect",
    "ConnectionMachine",
    "Event",
    "Notify",
    "Offline",
    "Online",
    "OpenFailed",
    "OpenSocket",
    "Opened",
    "PongReceived",
    "ReconnectRequested",
    "RefreshCredentials",
    "Resync",
    "SendPing",
    "StartTimer",
    "Timer",
    "TimerFired",
    "Visible",
]


class Timer(StrEnum):
    """The machine's timers. A ``str``: ``TimerFired("ping")`` and commands use the names."""

    #: The backoff wait before the next attempt.
    RECONNECT = "reconnect"
    #: An open that hangs (a frozen server) fails after ``open_timeout``.
    OPEN = "open"
    #: The next heartbeat ping.
    PING = "ping"
    #: The pong that answers the last ping must arrive before this fires.
    PONG = "pong"
    #: The connection stayed up ``policy.min_uptime`` seconds: attempts reset.
    STABLE = "stable"


class _Socket(Enum):
    """What the machine believes about the socket (``None``: there is none)."""

    OPENING = "opening"
    OPEN = "open"


# -- events (what happened) ------------------------------------------------------------


@dataclass(frozen=True)
class Connect:
    """The user wants a connection (``client.connect()``)."""


@dataclass(frozen=True)
class Opened:
    """The socket that ``OpenSocket`` asked for is open (handshake done)."""


@dataclass(frozen=True)
class OpenFailed:
    """The open failed: ``reason`` is short and stable ("connection refused", "HTTP 503")."""

    reason: str = "failed"


@dataclass(frozen=True)
class Closed:
    """The open connection ended without the client asking (1006: no close frame)."""

    code: int = ABNORMAL_CLOSURE
    reason: str = ""


@dataclass(frozen=True)
class TimerFired:
    """A timer started by ``StartTimer(name, ...)`` reached its deadline."""

    name: str


@dataclass(frozen=True)
class PongReceived:
    """A ``{"type": "pong"}`` arrived."""


@dataclass(frozen=True)
class CloseRequested:
    """The user closes the client (``client.close()``, the cleanup of an unmount)."""

    code: int = NORMAL_CLOSURE
    reason: str = ""


@dataclass(frozen=True)
class ReconnectRequested:
    """The user pressed Reconnect: start over now, attempts reset."""


@dataclass(frozen=True)
class Offline:
    """The network is gone (the browser's ``offline`` event): pause retrying."""


@dataclass(frozen=True)
class Online:
    """The network is back (``online``): connect now, attempts reset."""


@dataclass(frozen=True)
class Visible:
    """The page is shown again (``visibilitychange``): retry now if a wait is pending."""


Event = (
    Connect | Opened | OpenFailed | Closed | TimerFired | PongReceived | CloseRequested
    | ReconnectRequested | Offline | Online | Visible
)

# -- commands (what to do) ---------------------------------------------------------------


@dataclass(frozen=True)
class OpenSocket:
    """Open a socket (dial). ``attempt`` 0 is the requested connect, 1.. are retries."""

    attempt: int


@dataclass(frozen=True)
class CloseSocket:
    """Close the socket that is open, or cancel the open in flight.

    ``code`` 1006 means *abort*: drop the TCP connection without a closing handshake
    (a dead or frozen peer would never answer one).
    """

    code: int
    reason: str


@dataclass(frozen=True)
class StartTimer:
    """Arm timer ``name`` to fire ``delay`` seconds from now (replacing an armed one)."""

    name: str
    delay: float


@dataclass(frozen=True)
class CancelTimer:
    """Disarm timer ``name`` (a fire already on its way must be dropped by the driver)."""

    name: str


@dataclass(frozen=True)
class SendPing:
    """Send ``{"type": "ping"}``."""


@dataclass(frozen=True)
class Notify:
    """Tell the user (a toast in the seed): ``level`` is "error" or "info"."""

    level: str
    text: str


@dataclass(frozen=True)
class Resync:
    """The socket is open again after a loss: resubscribe, invalidate subscribed queries.

    Events published while the client was away are gone for good; the only way to be
    correct again is to refetch what the client shows (chapter 08). A *resuming*
    client (``ConnectionMachine(resume=True)``, chapter 11) gets ``invalidate=False``:
    the server replays what it missed or says ``resync`` per topic, and only those
    topics are refetched.
    """

    invalidate: bool = True


@dataclass(frozen=True)
class RefreshCredentials:
    """Forget the credential: the next ``OpenSocket`` must carry a fresh one (4401)."""


Command = (
    OpenSocket | CloseSocket | StartTimer | CancelTimer | SendPing | Notify | Resync
    | RefreshCredentials
)

UNAVAILABLE: Final = "WebSocket unavailable"
#: Seconds a connection opened with a refreshed token must stay up before a new 4401
#: counts as a new expiry (not "the fresh token is refused too") when ``min_uptime`` is 0.
REFRESH_PROOF: Final = 1.0


class ConnectionMachine:
    """The client's decisions, as a pure state machine (see the module docstring).

    ``handle(event)`` returns the commands to perform, in order, and appends what
    happened to ``timeline`` (one entry per transition, in logical time).

    >>> m = ConnectionMachine(BackoffPolicy())
    >>> m.handle(Connect())
    [OpenSocket(attempt=0), StartTimer(name='open', delay=10.0)]
    >>> m.handle(Opened())
    [CancelTimer(name='open')]
    >>> m.state
    <State.CONNECTED: 'connected'>
    """

    def __init__(
        self,
        policy: BackoffPolicy | None = None,
        heartbeat: HeartbeatPolicy | None = None,
        *,
        open_timeout: float | None = 10.0,
        close_policy: ClosePolicy | None = None,
        resume: bool = False,
        timeline: Timeline | None = None,
    ) -> None:
        if policy is None:
            policy = BackoffPolicy()
        if not isinstance(policy, BackoffPolicy):
            raise TypeError(f"policy must be a BackoffPolicy, got {type(policy).__name__}")
        if heartbeat is not None and not isinstance(heartbeat, HeartbeatPolicy):
            raise TypeError(
                f"heartbeat must be a HeartbeatPolicy or None, got {type(heartbeat).__name__}"
            )
        if open_timeout is not None and (
            isinstance(open_timeout, bool) or not isinstance(open_timeout, int | float)
            or not 0 < open_timeout < float("inf")
        ):
            raise ValueError(
                f"open_timeout must be a number of seconds > 0, or None (wait for ever: "
                f"the mistake chapter 11 shows), got {open_timeout!r}")
        if close_policy is None:
            close_policy = MODULE_07
        if not isinstance(close_policy, ClosePolicy):
            raise TypeError(
                f"close_policy must be a ClosePolicy (e.g. wslearn.close_policy.RECOMMENDED), "
                f"got {type(close_policy).__name__}")
        self.policy = policy
        self.heartbeat = heartbeat
        self.close_policy = close_policy
        #: The driver resumes from a cursor: a reconnect does not invalidate everything.
        self.resume = bool(resume)
        self.open_timeout = None if open_timeout is None else float(open_timeout)
        self.timeline = Timeline() if timeline is None else timeline
        self.state = State.DISCONNECTED
        #: The attempt in flight or scheduled next (0 = the requested connect).
        self.attempt = 0
        #: Logical time: the planned deadline of the last timer that fired.
        self.t = 0.0
        #: Opens that succeeded / failed, pings sent, pongs received (for notebooks).
        self.opens = 0
        self.failures = 0
        self.pings = 0
        self.pongs = 0
        self._deadlines: dict[Timer, float] = {}  # armed timers -> planned deadline
        self._socket: _Socket | None = None
        self._resync_next = False  # the next open follows a loss or a failure
        self._awaiting_pong = False
        self._rng = policy.rng()
        #: The browser says the network is gone: no retry timers, no attempts spent.
        self.offline = False
        #: Credentials refreshed after a 4401 and not yet proven by a stable connection.
        self._refreshed = False
        #: Credential refreshes asked for (``RefreshCredentials``), for notebooks.
        self.refreshes = 0

    # -- observation ---------------------------------------------------------------

    @property
    def armed(self) -> dict[str, float]:
        """Armed timers and their planned deadlines (logical time), sorted by name."""
        return {timer.value: d for timer, d in sorted(self._deadlines.items())}

    @property
    def socket(self) -> str | None:
        """What the machine believes about the socket: None, "opening" or "open"."""
        return None if self._socket is None else self._socket.value

    def next_deadline(self) -> tuple[str, float] | None:
        """The armed timer that fires first (ties: by name), or None."""
        if not self._deadlines:
            return None
        timer = min(self._deadlines, key=lambda n: (self._deadlines[n], n))
        return timer.value, self._deadlines[timer]

    def attempt_label(self, attempt: int | None = None) -> str:
        """``"attempt 2/5"`` (or ``"attempt 2"`` without a limit)."""
        k = self.attempt if attempt is None else attempt
        limit = self.policy.max_attempts
        return f"attempt {k}/{limit}" if limit is not None else f"attempt {k}"

    def __repr__(self) -> str:
        timers = ", ".join(f"{n}@{fmt_seconds(d)}" for n, d in self.armed.items()) or "none"
        return (
            f"<ConnectionMachine {self.state.value} {self.attempt_label()} "
            f"t={fmt_seconds(self.t)}s timers: {timers}>"
        )

    # -- the transition function --------------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        """Feed one event; return the commands to perform, in order."""
        if not isinstance(event, _EVENT_TYPES):
            raise TypeError(
                f"ConnectionMachine.handle() takes an event such as Connect() or "
                f"TimerFired('ping'), got {event!r}"
            )
        match event:
            case Connect():
                return self._on_connect()
            case ReconnectRequested():
                return self._on_reconnect_requested()
            case CloseRequested():
                return self._on_close_requested(event)
            case Opened():
                return self._on_opened()
            case OpenFailed():
                return self._on_open_failed(event)
            case Closed():
                return self._on_closed(event)
            case PongReceived():
                return self._on_pong_received()
            case TimerFired():
                return self._on_timer_fired(event)
            case Offline():
                return self._on_offline()
            case Online():
                return self._on_online()
            case Visible():
                return self._on_visible()
            case _:  # pragma: no cover - mypy proves every event has a case
                assert_never(event)

    # -- user requests ----------------------------------------------------------------

    def _on_connect(self) -> list[Command]:
        if self.state is not State.DISCONNECTED or self._socket is not None:
            return []  # already connecting/connected/retrying, or closed for good
        if self.attempt != 0 or self.failures:  # connect() after giving up == Reconnect
            return self._on_reconnect_requested()
        return self._open_now("connect", "connect: opening the socket")

    def _on_reconnect_requested(self) -> list[Command]:
        if self.state is State.CLOSED:
            return []
        self._refreshed = False
        commands = self._cancel_all()
        if self._socket is not None:
            commands.append(CloseSocket(NORMAL_CLOSURE, "reconnect requested"))
            if self._socket is _Socket.OPEN:
                self._resync_next = True
            self._socket = None
        if self.opens or self.failures:
            self._resync_next = True
        return commands + self._open_now(
            "connect", "reconnect requested: opening the socket (attempts reset)"
        )

    def _on_close_requested(self, event: CloseRequested) -> list[Command]:
        if self.state is State.CLOSED:
            return []
        before = self.state
        pending = Timer.RECONNECT in self._deadlines
        commands = self._cancel_all()
        if self._socket is not None:
            commands.append(CloseSocket(event.code, event.reason))
            self._socket = None
        self._awaiting_pong = False
        if pending:
            text = f"closed by the client during the backoff wait; {self.attempt_label()} cancelled"
        elif before is State.CONNECTED:
            text = f"closed by the client ({event.code} {close_code_name(event.code)})"
        else:
            text = f"closed by the client (was {before.value})"
        self._enter(State.CLOSED)
        self._record("closed", text)
        return commands

    # -- network events -----------------------------------------------------------------

    def _on_opened(self) -> list[Command]:
        if self._socket is not _Socket.OPENING:
            return []
        commands = self._cancel([Timer.OPEN])
        self._socket = _Socket.OPEN
        self.opens += 1
        attempt = self.attempt
        self._awaiting_pong = False
        if self._resync_next:
            commands.append(Resync(invalidate=not self.resume))
        if not self.policy.resets_at_open():
            # the flapping guard: the counter resets only once the connection proved stable
            commands.append(self._arm(Timer.STABLE, self.policy.min_uptime))
            uptime = fmt_seconds(self.policy.min_uptime)
            what = f"connected on {self.attempt_label(attempt)}" if attempt else "connected"
            text = f"{what}; attempts reset after {uptime}s up"
        elif attempt:
            self.attempt = 0
            text = f"connected on {self.attempt_label(attempt)}; attempts reset"
        else:
            text = "connected"
        if self._refreshed and self.policy.resets_at_open():
            # An open alone proves nothing: a server that refuses every fresh token still
            # opens, then closes 4401 -- without this the refresh would loop in zero time.
            commands.append(self._arm(Timer.STABLE, REFRESH_PROOF))
        if self._resync_next:
            text += ("; resubscribe + resume from the cursor" if self.resume
                     else "; resubscribe + invalidate subscribed queries")
        self._resync_next = False
        if self.heartbeat is not None:
            commands.append(self._arm(Timer.PING, self.heartbeat.interval))
        self._enter(State.CONNECTED)
        self._record("connected", text, attempt=attempt)
        return commands

    def _on_open_failed(self, event: OpenFailed) -> list[Command]:
        if self._socket is not _Socket.OPENING:
            return []
        commands = self._cancel([Timer.OPEN])
        self._socket = None
        return commands + self._after_failure(self._failed_text(event.reason), kind="failed")

    def _on_closed(self, event: Closed) -> list[Command]:
        if self._socket is not _Socket.OPEN:
            return []
        stable, commands = self._lose_socket()
        code = f"{event.code} {close_code_name(event.code)}"
        detail = f"{code}: {event.reason}" if event.reason else code
        match action := self.close_policy.decide(event.code):
            case CloseAction.RETRY:
                text = f"connection lost ({detail})"
                if not stable and not self.policy.resets_at_open():
                    up = fmt_seconds(self.policy.min_uptime)
                    text = f"connection lost before {up}s up ({detail})"
                return commands + self._after_failure(text, kind="lost")
            case CloseAction.GIVE_UP:
                self.failures += 1
                self._enter(State.DISCONNECTED)
                self._record(
                    "gave-up",
                    f"closed by the server ({detail}); retrying cannot help: disconnected",
                )
                return [*commands, Notify("error", f"{UNAVAILABLE}: {event.reason or code}")]
            case CloseAction.DONE:
                self.attempt = 0
                self._enter(State.DISCONNECTED)
                self._record(  # a gave-up entry: the badge offers Reconnect
                    "gave-up", f"closed by the server ({detail}): session ended, not retried"
                )
                return [*commands, Notify("info", f"the server ended the session ({detail})")]
            case CloseAction.REFRESH:
                return commands + self._refresh(detail)
            case _:  # pragma: no cover - mypy proves every action has a case
                assert_never(action)

    def _on_pong_received(self) -> list[Command]:
        if self._socket is not _Socket.OPEN:
            return []
        self.pongs += 1
        if not self._awaiting_pong or self.heartbeat is None:
            self._record("pong", "pong received (none was awaited)")
            return []
        self._awaiting_pong = False
        commands = self._cancel([Timer.PONG])
        commands.append(self._arm(Timer.PING, self.heartbeat.interval))
        self._record(
            "pong", f"pong received; next ping in {fmt_seconds(self.heartbeat.interval)}s"
        )
        return commands

    def _on_timer_fired(self, event: TimerFired) -> list[Command]:
        try:
            timer = Timer(event.name)
        except ValueError:
            return []  # no such timer: it cannot be armed, so the fire is stale
        deadline = self._deadlines.pop(timer, None)
        if deadline is None:
            return []  # not armed (cancelled, or a stale fire): ignore
        self.t = max(self.t, deadline)
        match timer:
            case Timer.RECONNECT:
                return self._fire_reconnect()
            case Timer.OPEN:
                return self._fire_open()
            case Timer.PING:
                return self._fire_ping()
            case Timer.PONG:
                return self._fire_pong()
            case Timer.STABLE:
                return self._fire_stable()
            case _:  # pragma: no cover - mypy proves every timer has a case
                assert_never(timer)

    # -- timers -------------------------------------------------------------------------

    def _fire_reconnect(self) -> list[Command]:
        self._socket = _Socket.OPENING
        self._record("attempt", f"{self.attempt_label()}: opening the socket", attempt=self.attempt)
        return [OpenSocket(self.attempt), *self._arm_open()]

    def _fire_open(self) -> list[Command]:
        assert self.open_timeout is not None  # never armed without one
        self._socket = None
        reason = f"no answer within {fmt_seconds(self.open_timeout)}s"
        return [
            CloseSocket(ABNORMAL_CLOSURE, "open timed out"),
            *self._after_failure(self._failed_text(reason), kind="failed"),
        ]

    def _fire_ping(self) -> list[Command]:
        hb = self.heartbeat
        if hb is None or self._socket is not _Socket.OPEN:  # pragma: no cover - never armed then
            return []
        self.pings += 1
        if hb.check_pong:
            self._awaiting_pong = True
            self._record("ping", f"ping sent; pong due within {fmt_seconds(hb.timeout)}s")
            return [SendPing(), self._arm(Timer.PONG, hb.timeout)]
        self._record("ping", "ping sent (pong never checked: Module 07's heartbeat)")
        return [SendPing(), self._arm(Timer.PING, hb.interval)]

    def _fire_stable(self) -> list[Command]:
        if self._socket is not _Socket.OPEN:  # pragma: no cover - cancelled on every loss
            return []
        attempt, self.attempt = self.attempt, 0
        if self._refreshed and self.policy.resets_at_open():
            self._refreshed = False
            self._record("info", f"up for {fmt_seconds(REFRESH_PROOF)}s: the refreshed token "
                         "works")
            return []
        self._refreshed = False
        up = fmt_seconds(self.policy.min_uptime)
        what = f"; attempts reset (connected on {self.attempt_label(attempt)})" if attempt else ""
        self._record("info", f"up for {up}s: connection stable{what}")
        return []

    def _fire_pong(self) -> list[Command]:
        hb = self.heartbeat
        assert hb is not None
        _, commands = self._lose_socket()
        commands.append(CloseSocket(ABNORMAL_CLOSURE, "pong timeout"))
        text = f"no pong within {fmt_seconds(hb.timeout)}s: connection presumed dead"
        return commands + self._after_failure(text, kind="lost")

    def _lose_socket(self) -> tuple[bool, list[Command]]:
        """The open socket is gone (closed, or presumed dead): cancel its timers. The
        attempt count resets only if it had proved stable (no ``stable`` timer pending);
        lost before ``min_uptime`` the count goes on (flapping). Returns (stable, commands).
        """
        stable = Timer.STABLE not in self._deadlines
        commands = self._cancel([Timer.PING, Timer.PONG, Timer.STABLE])
        self._socket = None
        self._awaiting_pong = False
        if stable:
            self.attempt = 0
        return stable, commands

    # -- credentials and the browser's signals (chapter 11) --------------------------------

    def _refresh(self, detail: str) -> list[Command]:
        """4401: refresh the credential and open at once -- unless we just did."""
        if self._refreshed:
            self.failures += 1
            self._refreshed = False
            self.attempt = 0
            self._enter(State.DISCONNECTED)
            self._record("gave-up", f"closed by the server ({detail}) again right after a "
                         "token refresh: the login itself is refused; disconnected")
            return [Notify("error", f"{UNAVAILABLE}: log in again ({detail})")]
        self._refreshed = True
        self.refreshes += 1
        self._resync_next = True
        self._socket = _Socket.OPENING
        self._enter(State.RECONNECTING)
        self._record("lost", f"connection lost ({detail}); refreshing the token")
        self._record("connect", "token refreshed: connecting now (no backoff)",
                     attempt=self.attempt)
        return [RefreshCredentials(), OpenSocket(self.attempt), *self._arm_open()]

    def _on_offline(self) -> list[Command]:
        if self.offline or self.state is State.CLOSED:
            return []
        self.offline = True
        if Timer.RECONNECT in self._deadlines:
            commands = self._cancel([Timer.RECONNECT])
            self._record("info", f"offline: {self.attempt_label()} paused until the "
                         "network is back")
            return commands
        self._record("info", "offline event (the heartbeat will tell if the socket died)"
                     if self._socket is _Socket.OPEN else "offline event")
        return []

    def _on_online(self) -> list[Command]:
        was_offline, self.offline = self.offline, False
        if self.state is State.CLOSED or self._socket is not None:
            if was_offline:
                self._record("info", "online event")
            return []
        if self.state is State.RECONNECTING:  # waiting out a backoff, or for the network
            commands = self._cancel([Timer.RECONNECT])
            self._resync_next = True
            return commands + self._open_now(
                "connect", "online: the network is back; connecting now (attempts reset)")
        return []

    def _on_visible(self) -> list[Command]:
        if Timer.RECONNECT not in self._deadlines or self.offline:
            return []
        commands = self._cancel([Timer.RECONNECT])
        self._socket = _Socket.OPENING
        self._record("attempt", f"page visible again: {self.attempt_label()} now instead of "
                     "waiting out the backoff", attempt=self.attempt)
        return [*commands, OpenSocket(self.attempt), *self._arm_open()]

    # -- helpers ------------------------------------------------------------------------

    def _failed_text(self, reason: str) -> str:
        what = "connect" if self.attempt == 0 else self.attempt_label()
        return f"{what} failed ({reason})"

    def _open_now(self, kind: str, text: str) -> list[Command]:
        self.attempt = 0
        self._socket = _Socket.OPENING
        self._enter(State.CONNECTING)
        self._record(kind, text, attempt=0)
        return [OpenSocket(0), *self._arm_open()]

    def _arm_open(self) -> list[Command]:
        """The connect timeout: none when ``open_timeout`` is None (a hang waits for ever)."""
        if self.open_timeout is None:
            return []
        return [self._arm(Timer.OPEN, self.open_timeout)]

    def _after_failure(self, text: str, *, kind: str) -> list[Command]:
        """A failure at ``t``: schedule the next retry, or give up."""
        self.failures += 1
        self._resync_next = True
        if self.policy.gives_up_after(self.attempt):  # the one give-up rule (backoff.py)
            self._enter(State.DISCONNECTED)
            self._record("gave-up", f"{text}; giving up: {UNAVAILABLE}", attempt=self.attempt)
            return [Notify("error", UNAVAILABLE)]
        if self.offline:  # no network: waiting spends no attempts; Online connects at once
            self._enter(State.RECONNECTING)
            self._record(kind, f"{text}; offline: waiting for the network")
            return []
        nxt = self.attempt + 1
        delay = self.policy.delay(nxt, self._rng)
        failed = self.attempt
        self.attempt = nxt
        self._enter(State.RECONNECTING)
        self._record(
            kind,
            f"{text}; {self.attempt_label()} in {fmt_seconds(delay)}s",
            attempt=failed if kind == "failed" else None,
            delay=delay,
        )
        return [self._arm(Timer.RECONNECT, delay)]

    def _arm(self, timer: Timer, delay: float) -> StartTimer:
        delay = float(delay)
        self._deadlines[timer] = round(self.t + delay, 9)
        return StartTimer(timer.value, delay)

    def _cancel(self, timers: list[Timer]) -> list[Command]:
        commands: list[Command] = []
        for timer in timers:
            if self._deadlines.pop(timer, None) is not None:
                commands.append(CancelTimer(timer.value))
        return commands

    def _cancel_all(self) -> list[Command]:
        return self._cancel(sorted(self._deadlines))

    def _enter(self, state: State) -> None:
        self.state = state

    def _record(
        self, kind: str, text: str, *, attempt: int | None = None, delay: float | None = None
    ) -> None:
        self.timeline.append(
            Entry(self.t, kind, text, state=self.state.value, attempt=attempt, delay=delay)
        )


_EVENT_TYPES = (
    Connect, Opened, OpenFailed, Closed, TimerFired, PongReceived, CloseRequested,
    ReconnectRequested, Offline, Online, Visible,
)
