"""ConnectionMachine: transitions, the seed's bugs fixed, and stateful properties."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from wslearn.backoff import BackoffPolicy
from wslearn.close_policy import MODULE_07, CloseAction, ClosePolicy
from wslearn.heartbeat import HeartbeatPolicy
from wslearn.machine import (
    CancelTimer,
    Closed,
    CloseRequested,
    CloseSocket,
    Connect,
    ConnectionMachine,
    Notify,
    Opened,
    OpenFailed,
    OpenSocket,
    PongReceived,
    ReconnectRequested,
    Resync,
    SendPing,
    StartTimer,
    TimerFired,
)
from wslearn.protocol import POLICY_VIOLATION
from wslearn.states import State

OUTAGE = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  reconnecting  connection lost (1001 going away: server stopped); attempt 1/5 in 1.0s
t=    1.0s  reconnecting  attempt 1/5: opening the socket
t=    1.0s  reconnecting  attempt 1/5 failed (connection refused); attempt 2/5 in 2.0s
t=    3.0s  reconnecting  attempt 2/5: opening the socket
t=    3.0s  reconnecting  attempt 2/5 failed (connection refused); attempt 3/5 in 4.0s
t=    7.0s  reconnecting  attempt 3/5: opening the socket
t=    7.0s  reconnecting  attempt 3/5 failed (connection refused); attempt 4/5 in 8.0s
t=   15.0s  reconnecting  attempt 4/5: opening the socket
t=   15.0s  reconnecting  attempt 4/5 failed (connection refused); attempt 5/5 in 16.0s
t=   31.0s  reconnecting  attempt 5/5: opening the socket
t=   31.0s  disconnected  attempt 5/5 failed (connection refused); giving up: \
WebSocket unavailable"""


def connected(**kwargs) -> ConnectionMachine:
    m = ConnectionMachine(BackoffPolicy(), **kwargs)
    m.handle(Connect())
    m.handle(Opened())
    return m


def fail_attempts(m: ConnectionMachine, n: int) -> list:
    commands = []
    for _ in range(n):
        commands += m.handle(TimerFired("reconnect"))
        commands += m.handle(OpenFailed("connection refused"))
    return commands


def test_connect_opens_attempt_zero_with_an_open_timeout() -> None:
    m = ConnectionMachine(BackoffPolicy(), open_timeout=5)
    assert m.state is State.DISCONNECTED
    assert m.handle(Connect()) == [OpenSocket(0), StartTimer("open", 5.0)]
    assert m.state is State.CONNECTING
    assert m.handle(Connect()) == []  # already connecting: idempotent


def test_server_stopped_gives_attempts_at_1_3_7_15_31_then_disconnected() -> None:
    m = connected()
    commands = m.handle(Closed(1001, "server stopped"))
    assert commands == [StartTimer("reconnect", 1.0)]
    commands = fail_attempts(m, 5)
    assert [c.delay for c in commands if isinstance(c, StartTimer) and c.name == "reconnect"] == [
        2.0, 4.0, 8.0, 16.0,
    ]
    assert [c.attempt for c in commands if isinstance(c, OpenSocket)] == [1, 2, 3, 4, 5]
    assert commands[-1] == Notify("error", "WebSocket unavailable")
    assert m.state is State.DISCONNECTED and m.armed == {}
    assert m.timeline.to_text() == OUTAGE
    assert [e.t for e in m.timeline.where("attempt")] == [1.0, 3.0, 7.0, 15.0, 31.0]


def test_success_resets_attempts_so_the_next_outage_starts_at_1() -> None:
    m = connected()
    m.handle(Closed(1006))
    fail_attempts(m, 2)
    m.handle(TimerFired("reconnect"))
    commands = m.handle(Opened())
    assert Resync() in commands
    assert m.attempt == 0 and m.state is State.CONNECTED
    assert m.timeline[-1].text == (
        "connected on attempt 3/5; attempts reset; resubscribe + invalidate subscribed queries"
    )
    assert m.handle(Closed(1006)) == [StartTimer("reconnect", 1.0)]
    assert m.timeline[-1].text.endswith("attempt 1/5 in 1.0s")


def test_first_connect_does_not_resync_but_every_reconnect_does() -> None:
    m = ConnectionMachine(BackoffPolicy())
    m.handle(Connect())
    assert Resync() not in m.handle(Opened())
    m.handle(ReconnectRequested())
    assert Resync() in m.handle(Opened())


def test_failed_first_connect_retries_with_backoff() -> None:
    m = ConnectionMachine(BackoffPolicy())
    m.handle(Connect())
    assert m.handle(OpenFailed("HTTP 503")) == [CancelTimer("open"), StartTimer("reconnect", 1.0)]
    assert m.timeline[-1].text == "connect failed (HTTP 503); attempt 1/5 in 1.0s"


def test_close_during_backoff_wait_cancels_the_pending_attempt() -> None:
    """The seed's reconnect example: cleanup close() fires onclose -> a timer after unmount."""
    m = connected()
    m.handle(Closed(1006))
    assert m.handle(CloseRequested()) == [CancelTimer("reconnect")]
    assert m.state is State.CLOSED and m.armed == {}
    assert m.timeline[-1].text == (
        "closed by the client during the backoff wait; attempt 1/5 cancelled"
    )
    assert m.handle(TimerFired("reconnect")) == []  # a fire already on its way: ignored
    assert m.handle(Connect()) == [] and m.handle(ReconnectRequested()) == []
    assert m.state is State.CLOSED


def test_close_while_connected_closes_the_socket_and_never_reconnects() -> None:
    m = connected(heartbeat=HeartbeatPolicy())
    assert m.handle(CloseRequested()) == [CancelTimer("ping"), CloseSocket(1000, "")]
    assert m.handle(Closed(1000)) == []  # the close we asked for is not a loss
    assert m.state is State.CLOSED


def test_close_while_opening_cancels_the_open() -> None:
    m = ConnectionMachine(BackoffPolicy())
    m.handle(Connect())
    assert m.handle(CloseRequested()) == [CancelTimer("open"), CloseSocket(1000, "")]
    assert m.handle(Opened()) == []  # the dial finished anyway: the driver drops it


def test_manual_reconnect_from_disconnected_starts_over() -> None:
    m = connected()
    m.handle(Closed(1006))
    fail_attempts(m, 5)
    assert m.state is State.DISCONNECTED
    assert m.handle(ReconnectRequested()) == [OpenSocket(0), StartTimer("open", 10.0)]
    assert m.state is State.CONNECTING and m.attempt == 0
    m.handle(OpenFailed("connection refused"))
    assert m.attempt == 1 and m.armed == {"reconnect": 32.0}


def test_connect_after_giving_up_acts_like_reconnect() -> None:
    m = connected()
    m.handle(Closed(1006))
    fail_attempts(m, 5)
    assert m.handle(Connect())[0] == OpenSocket(0)
    assert "reconnect requested" in m.timeline[-1].text


def test_reconnect_while_connected_replaces_the_socket() -> None:
    m = connected()
    commands = m.handle(ReconnectRequested())
    assert commands[:2] == [CloseSocket(1000, "reconnect requested"), OpenSocket(0)]


def test_reconnect_during_backoff_skips_the_wait() -> None:
    m = connected()
    m.handle(Closed(1006))
    assert m.handle(ReconnectRequested()) == [
        CancelTimer("reconnect"), OpenSocket(0), StartTimer("open", 10.0),
    ]


def test_open_timeout_counts_as_a_failure() -> None:
    m = connected(open_timeout=10)
    m.handle(Closed(1006))
    m.handle(TimerFired("reconnect"))
    commands = m.handle(TimerFired("open"))
    assert commands == [CloseSocket(1006, "open timed out"), StartTimer("reconnect", 2.0)]
    assert m.t == 11.0
    assert m.timeline[-1].text == (
        "attempt 1/5 failed (no answer within 10.0s); attempt 2/5 in 2.0s"
    )


def test_policy_violation_is_not_retried() -> None:
    m = connected()
    commands = m.handle(Closed(1008, "invalid topic 'X'"))
    assert commands == [Notify("error", "WebSocket unavailable: invalid topic 'X'")]
    assert m.state is State.DISCONNECTED and m.armed == {}


def test_stale_events_are_ignored() -> None:
    m = ConnectionMachine(BackoffPolicy())
    for event in (Opened(), OpenFailed(), Closed(), PongReceived(), TimerFired("ping"),
                  TimerFired("nonsense")):
        assert m.handle(event) == []
    assert len(m.timeline) == 0


def test_bad_input_is_a_clear_error() -> None:
    m = ConnectionMachine()
    with pytest.raises(TypeError, match="takes an event"):
        m.handle("connect")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="BackoffPolicy"):
        ConnectionMachine(policy=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="open_timeout"):
        ConnectionMachine(open_timeout=0)


def test_infinite_policy_never_gives_up() -> None:
    m = ConnectionMachine(BackoffPolicy(max_attempts=None))
    m.handle(Connect())
    m.handle(OpenFailed("connection refused"))
    for _ in range(50):
        fail_attempts(m, 1)
    assert m.state is State.RECONNECTING and m.attempt == 51
    assert m.timeline[-1].text.endswith("attempt 51 in 30.0s")


def test_jittered_first_outage_follows_policy_delays() -> None:
    policy = BackoffPolicy(jitter="full", seed=42)
    m = ConnectionMachine(policy)
    m.handle(Connect())
    commands = m.handle(OpenFailed("x")) + fail_attempts(m, 4)
    planned = [c.delay for c in commands if isinstance(c, StartTimer) and c.name == "reconnect"]
    assert planned == policy.delays()


def test_repr_is_stable() -> None:
    m = connected(heartbeat=HeartbeatPolicy(interval=5))
    assert repr(m) == "<ConnectionMachine connected attempt 0/5 t=0.0s timers: ping@5.0>"


# -- properties -----------------------------------------------------------------------


class MachineModel(RuleBasedStateMachine):
    """Drive the machine like a driver would (plus stale noise) and check invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.policy = BackoffPolicy(max_attempts=3, jitter="equal", seed=3)
        self.m = ConnectionMachine(self.policy, HeartbeatPolicy(interval=5, timeout=2),
                                   open_timeout=4)
        self.timers: set[str] = set()  # what a driver would have armed
        self.socket: str | None = None  # what a driver would have open
        self.last_t = 0.0
        self.was_closed = False
        self.retries_since_success = 0

    def apply(self, event) -> None:
        before = self.m.state
        commands = self.m.handle(event)
        if self.was_closed:
            assert commands == [] and self.m.state is State.CLOSED
        for c in commands:
            if isinstance(c, StartTimer):
                assert c.delay > 0
                self.timers.add(c.name)
            elif isinstance(c, CancelTimer):
                assert c.name in self.timers, "cancel of a timer that is not armed"
                self.timers.discard(c.name)
            elif isinstance(c, OpenSocket):
                assert self.socket is None, "open while a socket is open or opening"
                assert self.m.state in (State.CONNECTING, State.RECONNECTING)
                assert 0 <= c.attempt <= self.policy.max_attempts
                if c.attempt == 0:  # connect() / reconnect(): attempts start over
                    self.retries_since_success = 0
                else:
                    self.retries_since_success += 1
                    assert self.retries_since_success <= self.policy.max_attempts
                self.socket = "opening"
            elif isinstance(c, CloseSocket):
                assert self.socket is not None, "close without a socket"
                self.socket = None
            elif isinstance(c, SendPing):
                assert self.socket == "open"
            elif isinstance(c, Notify):
                assert self.m.state is State.DISCONNECTED
        if self.m.state is State.CLOSED:
            self.was_closed = True
        if before is not State.CONNECTED and self.m.state is State.CONNECTED:
            self.retries_since_success = 0

    @rule()
    def connect(self) -> None:
        self.apply(Connect())

    @rule()
    def reconnect(self) -> None:
        self.apply(ReconnectRequested())

    @rule()
    def close(self) -> None:
        self.apply(CloseRequested())

    @precondition(lambda self: self.m.next_deadline() is not None)
    @rule()
    def next_timer_fires(self) -> None:
        name, _ = self.m.next_deadline()
        self.timers.discard(name)
        self.apply(TimerFired(name))

    @precondition(lambda self: self.socket == "opening")
    @rule(ok=st.booleans())
    def open_result(self, ok: bool) -> None:
        if ok:
            self.socket = "open"
            self.apply(Opened())
        else:
            self.socket = None
            self.apply(OpenFailed("connection refused"))

    @precondition(lambda self: self.socket == "open")
    @rule(code=st.sampled_from([1000, 1001, 1006, 1008, 1011, 1012]))
    def server_closes(self, code: int) -> None:
        self.socket = None
        self.apply(Closed(code))

    @precondition(lambda self: self.socket == "open")
    @rule()
    def pong(self) -> None:
        self.apply(PongReceived())

    @rule(event=st.sampled_from([Opened(), OpenFailed(), Closed(), PongReceived(),
                                 TimerFired("reconnect"), TimerFired("pong"),
                                 TimerFired("bogus")]))
    def stale_noise(self, event) -> None:
        # Only noise that a real driver could deliver late: it must never change anything.
        relevant = (
            (isinstance(event, Opened | OpenFailed) and self.socket == "opening")
            or (isinstance(event, Closed | PongReceived) and self.socket == "open")
            or (isinstance(event, TimerFired) and event.name in self.m.armed)
        )
        if relevant:
            return
        before = (self.m.state, self.m.attempt, self.m.armed, len(self.m.timeline))
        assert self.m.handle(event) == []
        assert before == (self.m.state, self.m.attempt, self.m.armed, len(self.m.timeline))

    @invariant()
    def driver_and_machine_agree(self) -> None:
        assert set(self.m.armed) == self.timers
        assert self.m.socket == self.socket

    @invariant()
    def logical_time_never_goes_back(self) -> None:
        assert self.m.t >= self.last_t
        self.last_t = self.m.t

    @invariant()
    def state_matches_timers(self) -> None:
        s, armed = self.m.state, set(self.m.armed)
        assert 0 <= self.m.attempt <= self.policy.max_attempts
        if s in (State.DISCONNECTED, State.CLOSED):
            assert armed == set() and self.socket is None
        elif s is State.CONNECTING:
            assert armed == {"open"} and self.socket == "opening"
        elif s is State.RECONNECTING:
            assert armed in ({"reconnect"}, {"open"})
            assert (armed == {"open"}) == (self.socket == "opening")
        else:
            assert self.socket == "open" and len(armed & {"ping", "pong"}) == 1
            assert not armed & {"reconnect", "open"}

    @invariant()
    def timeline_entries_carry_the_state(self) -> None:
        if len(self.m.timeline):
            assert self.m.timeline[-1].state == self.m.state.value


TestMachineModel = MachineModel.TestCase
TestMachineModel.settings = settings(deadline=None, max_examples=120, stateful_step_count=40)


# -- one home for the give-up rule ---------------------------------------------------------


class _GiveUpEarly(BackoffPolicy):
    """A policy whose attempt limit differs from max_attempts."""

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= 2


def test_the_machine_asks_the_policies_when_to_give_up() -> None:
    """The machine restates no give-up rule: change the policies and the machine follows."""
    closes = ClosePolicy("custom", {4001: CloseAction.GIVE_UP}, application=CloseAction.RETRY)
    m = ConnectionMachine(_GiveUpEarly(), close_policy=closes)  # max_attempts is still 5
    m.handle(Connect())
    m.handle(Opened())
    m.handle(Closed(1001, "server stopped"))
    fail_attempts(m, 1)
    assert m.state is State.RECONNECTING and m.attempt == 2
    commands = fail_attempts(m, 1)
    assert m.state is State.DISCONNECTED
    assert commands[-1] == Notify("error", "WebSocket unavailable")
    m.handle(ReconnectRequested())
    m.handle(Opened())
    m.handle(Closed(4001, "go away"))  # this policy's "retrying cannot help" code
    assert m.state is State.DISCONNECTED and m.timeline[-1].kind == "gave-up"
    m.handle(ReconnectRequested())
    m.handle(Opened())
    m.handle(Closed(POLICY_VIOLATION, "bad topic"))  # not a give-up code for this policy
    assert m.state is State.RECONNECTING


def test_give_up_codes_live_with_the_close_policy() -> None:
    assert MODULE_07.codes(CloseAction.GIVE_UP) == (POLICY_VIOLATION,)
    assert MODULE_07.decide(POLICY_VIOLATION) is CloseAction.GIVE_UP
    assert MODULE_07.decide(1001) is CloseAction.RETRY
    assert MODULE_07.decide(None) is CloseAction.RETRY
    policy = BackoffPolicy()
    assert [policy.gives_up_after(k) for k in range(7)] == [False] * 5 + [True] * 2
