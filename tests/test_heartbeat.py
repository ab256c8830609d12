"""HeartbeatPolicy and how the machine runs it: ping, pong, missed pong."""

from __future__ import annotations

import math

import pytest

from wslearn.backoff import BackoffPolicy
from wslearn.heartbeat import HeartbeatPolicy
from wslearn.machine import (
    CancelTimer,
    CloseSocket,
    Connect,
    ConnectionMachine,
    Opened,
    PongReceived,
    SendPing,
    StartTimer,
    TimerFired,
)


def test_defaults_match_the_seed_plus_a_pong_timeout() -> None:
    hb = HeartbeatPolicy()
    assert (hb.interval, hb.timeout, hb.check_pong) == (30.0, 10.0, True)
    assert hb.detection_bound() == 40.0
    assert hb.describe() == "ping every 30s, pong within 10s"


def test_like_seed_never_checks_pongs() -> None:
    hb = HeartbeatPolicy.like_seed()
    assert hb.detection_bound() == math.inf
    assert "never checked" in hb.describe()


@pytest.mark.parametrize("kwargs", [{"interval": 0}, {"timeout": -1}, {"interval": math.nan}])
def test_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="> 0"):
        HeartbeatPolicy(**kwargs)
    with pytest.raises(TypeError):
        HeartbeatPolicy(interval="30")  # type: ignore[arg-type]


def connected(hb: HeartbeatPolicy) -> ConnectionMachine:
    m = ConnectionMachine(BackoffPolicy(), hb)
    m.handle(Connect())
    assert m.handle(Opened())[-1] == StartTimer("ping", hb.interval)
    return m


def test_pong_in_time_schedules_the_next_ping() -> None:
    m = connected(HeartbeatPolicy(interval=30, timeout=10))
    assert m.handle(TimerFired("ping")) == [SendPing(), StartTimer("pong", 10.0)]
    assert m.t == 30.0
    assert m.handle(PongReceived()) == [CancelTimer("pong"), StartTimer("ping", 30.0)]
    assert m.state == "connected" and m.pings == m.pongs == 1


def test_missed_pong_means_dead_within_interval_plus_timeout() -> None:
    hb = HeartbeatPolicy(interval=30, timeout=10)
    m = connected(hb)
    m.handle(TimerFired("ping"))
    commands = m.handle(TimerFired("pong"))
    assert CloseSocket(1006, "pong timeout") in commands  # abort: a frozen peer never answers
    assert commands[-1] == StartTimer("reconnect", 1.0)
    assert m.state == "reconnecting"
    assert m.t == hb.detection_bound()
    assert m.timeline[-1].text == (
        "no pong within 10.0s: connection presumed dead; attempt 1/5 in 1.0s"
    )


def test_seed_heartbeat_pings_forever_and_never_notices() -> None:
    m = connected(HeartbeatPolicy.like_seed(interval=30))
    for _ in range(5):
        assert m.handle(TimerFired("ping")) == [SendPing(), StartTimer("ping", 30.0)]
    assert m.state == "connected"  # a frozen server would never be detected
    assert "pong" not in m.armed


def test_late_pong_is_harmless() -> None:
    m = connected(HeartbeatPolicy(interval=5, timeout=1))
    assert m.handle(PongReceived()) == []  # nothing awaited: just recorded
    assert m.timeline[-1].text == "pong received (none was awaited)"
