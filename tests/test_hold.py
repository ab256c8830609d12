"""The one hold-and-release rule (``wslearn.hold``), as plain data: no IO, a clock passed in.

The real server's sockets and event streams, the simulated link and an endpoint's outbox
all use it, so these cases are the rule for all four."""

from __future__ import annotations

import pytest

from wslearn.hold import Hold


def test_direct_path_only_when_nothing_is_held_and_no_fault() -> None:
    hold: Hold[str] = Hold()
    assert not hold.must_hold(frozen=False, delay=0)
    assert hold.must_hold(frozen=True, delay=0)
    assert hold.must_hold(frozen=False, delay=0.5)
    hold.push("a", now=0.0, delay=0.5)
    assert hold.must_hold(frozen=False, delay=0)  # a later frame must not overtake "a"


def test_release_in_order_when_due() -> None:
    hold: Hold[str] = Hold()
    hold.push("a", now=0.0, delay=1.0)
    hold.push("b", now=0.2, delay=1.0)
    assert hold.next_due() == 1.0
    assert hold.release(now=0.9) == []
    assert hold.release(now=1.0) == ["a"]
    assert hold.next_due() == pytest.approx(1.2)
    assert hold.release(now=5.0) == ["b"]
    assert not hold and hold.next_due() is None


def test_a_shorter_delay_never_overtakes() -> None:
    hold: Hold[str] = Hold()
    hold.push("slow", now=0.0, delay=2.0)
    hold.push("fast", now=0.1, delay=0.0)  # due at 0.1, but behind "slow"
    assert hold.release(now=1.0) == []
    assert hold.release(now=2.0) == ["slow", "fast"]


def test_nothing_leaves_while_frozen() -> None:
    hold: Hold[str] = Hold()
    hold.push("a", now=0.0)
    assert hold.next_due(frozen=True) is None
    assert hold.release(now=10.0, frozen=True) == []
    assert hold.release(now=10.0) == ["a"]


def test_bounded_by_bytes_and_clear_returns_what_is_lost() -> None:
    hold: Hold[bytes] = Hold(limit=8)
    assert hold.push(b"1234", now=0, size=4)
    assert hold.push(b"5678", now=0, size=4)
    assert not hold.push(b"9", now=0, size=1)  # refused: the driver closes the slow peer
    assert hold.held_bytes == 8 and len(hold) == 2
    assert hold.clear() == [b"1234", b"5678"]
    assert hold.held_bytes == 0 and not hold


def test_pop_and_iteration_for_an_outbox() -> None:
    hold: Hold[str] = Hold()
    for item in "abc":
        hold.push(item, now=0.0)
    assert list(hold) == ["a", "b", "c"]
    assert hold.pop() == "a" and list(hold) == ["b", "c"]


def test_bad_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        Hold(limit=0)
