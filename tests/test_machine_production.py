"""The machine's production rules (chapter 11): min uptime, close actions, the browser's signals.

Each test feeds events by hand and checks the commands, the state and the timeline, in
logical time -- exactly what the real and the simulated drivers (and the page) perform.
"""

from __future__ import annotations

import pytest

from wslearn.backoff import BackoffPolicy
from wslearn.close_policy import RECOMMENDED
from wslearn.machine import (
    CancelTimer,
    Closed,
    Connect,
    ConnectionMachine,
    Notify,
    Offline,
    Online,
    Opened,
    OpenFailed,
    OpenSocket,
    ReconnectRequested,
    RefreshCredentials,
    Resync,
    StartTimer,
    TimerFired,
    Visible,
)
from wslearn.states import State


def fire_next(m: ConnectionMachine) -> list:
    deadline = m.next_deadline()
    assert deadline is not None, "no timer armed"
    return m.handle(TimerFired(deadline[0]))


def flap(m: ConnectionMachine, times: int) -> list[float]:
    """A server that accepts and drops at once: return the logical times of the opens."""
    opens = []
    m.handle(Connect())
    for _ in range(times):
        if m.socket != "opening":
            break
        opens.append(m.t)
        m.handle(Opened())
        m.handle(Closed(1011, "flapping"))
        if m.next_deadline() is not None:
            fire_next(m)
    return opens


def test_reset_at_open_flaps_for_ever() -> None:
    """Module 07: every open resets the counter, so a flapping server is a 1 s loop."""
    m = ConnectionMachine(BackoffPolicy())
    opens = flap(m, 60)
    assert len(opens) == 60 and opens[-1] == 59.0  # one handshake per second, no end
    assert m.state is State.RECONNECTING and m.attempt == 1


def test_min_uptime_lets_backoff_and_the_limit_end_the_flapping() -> None:
    m = ConnectionMachine(BackoffPolicy(min_uptime=5))
    opens = flap(m, 60)
    assert opens == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]
    assert m.state is State.DISCONNECTED
    assert "giving up" in m.timeline[-1].text


def test_a_stable_connection_resets_the_attempts() -> None:
    m = ConnectionMachine(BackoffPolicy(min_uptime=5))
    m.handle(Connect())
    m.handle(Opened())
    m.handle(Closed(1011))
    fire_next(m)  # attempt 1 at t=1
    commands = m.handle(Opened())
    assert StartTimer("stable", 5.0) in commands and m.attempt == 1
    assert fire_next(m) == [] and m.attempt == 0  # stable at t=6
    assert "attempts reset (connected on attempt 1/5)" in m.timeline[-1].text
    m.handle(Closed(1012))
    assert m.armed == {"reconnect": 7.0}  # attempt 1 again, 1 s after the loss


def test_min_uptime_zero_keeps_module_07_texts() -> None:
    m = ConnectionMachine(BackoffPolicy())
    m.handle(Connect())
    assert m.handle(Opened()) == [CancelTimer("open")]
    assert m.timeline[-1].text == "connected"


@pytest.mark.parametrize(("code", "state", "notify"), [
    (1000, State.DISCONNECTED, "info"),
    (1008, State.DISCONNECTED, "error"),
    (4403, State.DISCONNECTED, "error"),
    (4000, State.DISCONNECTED, "error"),
    (1012, State.RECONNECTING, None),
    (1013, State.RECONNECTING, None),
    (1006, State.RECONNECTING, None),
])
def test_recommended_close_actions(code: int, state: State, notify: str | None) -> None:
    m = ConnectionMachine(BackoffPolicy(), close_policy=RECOMMENDED)
    m.handle(Connect())
    m.handle(Opened())
    commands = m.handle(Closed(code, "x"))
    assert m.state is state
    levels = [c.level for c in commands if isinstance(c, Notify)]
    assert levels == ([notify] if notify else [])
    if state is State.DISCONNECTED:
        assert m.armed == {} and m.timeline[-1].kind == "gave-up"


def test_4401_refreshes_and_connects_at_once_then_gives_up_on_a_second() -> None:
    m = ConnectionMachine(BackoffPolicy(min_uptime=5), close_policy=RECOMMENDED)
    m.handle(Connect())
    m.handle(Opened())
    fire_next(m)  # stable
    commands = m.handle(Closed(4401, "token expired"))
    assert commands[-3:] == [RefreshCredentials(), OpenSocket(0), StartTimer("open", 10.0)]
    assert m.state is State.RECONNECTING and m.refreshes == 1
    m.handle(Opened())
    commands = m.handle(Closed(4401, "token expired"))  # the fresh token is refused too
    assert m.state is State.DISCONNECTED
    assert commands[-1] == Notify(
        "error", "WebSocket unavailable: log in again (4401 unauthorized: token missing or "
        "expired: token expired)")


def test_4401_after_a_stable_connection_refreshes_again() -> None:
    m = ConnectionMachine(BackoffPolicy(min_uptime=5), close_policy=RECOMMENDED)
    m.handle(Connect())
    for _ in range(3):  # each token lives long enough: refresh every time
        m.handle(Opened())
        fire_next(m)
        m.handle(Closed(4401, "token expired"))
        assert m.state is State.RECONNECTING
    assert m.refreshes == 3


def test_module_07_backs_off_on_4401() -> None:
    m = ConnectionMachine(BackoffPolicy())
    m.handle(Connect())
    m.handle(Opened())
    assert m.handle(Closed(4401)) == [StartTimer("reconnect", 1.0)]


def test_offline_pauses_retrying_and_online_connects_now() -> None:
    m = ConnectionMachine(BackoffPolicy())
    m.handle(Connect())
    m.handle(Opened())
    m.handle(Closed(1006))
    assert m.handle(Offline()) == [CancelTimer("reconnect")]
    assert m.armed == {} and m.state is State.RECONNECTING
    commands = m.handle(Online())
    assert commands == [OpenSocket(0), StartTimer("open", 10.0)]
    assert "attempts reset" in m.timeline[-1].text


def test_failures_while_offline_spend_no_attempts() -> None:
    m = ConnectionMachine(BackoffPolicy())
    m.handle(Offline())
    m.handle(Connect())
    assert m.handle(OpenFailed("network down")) == [CancelTimer("open")]
    assert m.state is State.RECONNECTING and m.attempt == 0 and m.armed == {}
    assert m.timeline[-1].text.endswith("offline: waiting for the network")
    assert m.handle(Online())[0] == OpenSocket(0)


def test_online_does_not_undo_giving_up() -> None:
    m = ConnectionMachine(BackoffPolicy(), close_policy=RECOMMENDED)
    m.handle(Connect())
    m.handle(Opened())
    m.handle(Closed(1008))
    assert m.handle(Online()) == []
    assert m.state is State.DISCONNECTED


def test_visible_retries_a_pending_wait_now() -> None:
    m = ConnectionMachine(BackoffPolicy())
    m.handle(Connect())
    m.handle(Opened())
    m.handle(Closed(1006))
    m.handle(OpenFailed("refused"))  # stale: nothing is opening
    fire_next(m)
    m.handle(OpenFailed("refused"))  # attempt 1 failed: attempt 2 in 2 s
    assert m.armed == {"reconnect": 3.0}
    commands = m.handle(Visible())
    assert commands == [CancelTimer("reconnect"), OpenSocket(2), StartTimer("open", 10.0)]
    assert m.handle(Visible()) == []  # nothing pending any more


def test_no_open_timeout_waits_for_ever() -> None:
    m = ConnectionMachine(BackoffPolicy(), open_timeout=None)
    assert m.handle(Connect()) == [OpenSocket(0)]
    assert m.armed == {} and m.state is State.CONNECTING


def test_reconnect_clears_the_refresh_guard() -> None:
    m = ConnectionMachine(BackoffPolicy(min_uptime=5), close_policy=RECOMMENDED)
    m.handle(Connect())
    m.handle(Opened())
    m.handle(Closed(4401))
    m.handle(ReconnectRequested())
    m.handle(Opened())
    m.handle(Closed(4401))  # a refresh again, not a give-up: the user started over
    assert m.state is State.RECONNECTING and m.refreshes == 2


def test_resync_after_refresh() -> None:
    m = ConnectionMachine(BackoffPolicy(), close_policy=RECOMMENDED)
    m.handle(Connect())
    m.handle(Opened())
    m.handle(Closed(4401))
    assert Resync() in m.handle(Opened())


@pytest.mark.parametrize("bad", [0, -1, float("nan"), True])
def test_bad_open_timeout(bad: object) -> None:
    with pytest.raises(ValueError, match="open_timeout"):
        ConnectionMachine(open_timeout=bad)  # type: ignore[arg-type]


def test_bad_close_policy() -> None:
    with pytest.raises(TypeError, match="ClosePolicy"):
        ConnectionMachine(close_policy={1000: "done"})  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, float("inf"), "5", True])
def test_bad_min_uptime(bad: object) -> None:
    with pytest.raises(ValueError, match="min_uptime"):
        BackoffPolicy(min_uptime=bad)  # type: ignore[arg-type]


def test_describe_mentions_min_uptime_only_when_set() -> None:
    assert BackoffPolicy().describe() == "1s, 2s, 4s, 8s, 16s (5 attempts, no jitter)"
    assert BackoffPolicy(min_uptime=5).describe().endswith("no jitter, reset after 5s up)")
