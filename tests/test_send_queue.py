"""Messages sent while offline: drop, unbounded, bounded with an overflow rule."""

from __future__ import annotations

import pytest

from wslearn.send_queue import Enqueued, SendQueue, SendQueueFull


def test_drop_loses_everything_but_counts_it() -> None:
    q = SendQueue[str](limit=0)
    assert q.push("a") is Enqueued.DROPPED
    assert q.flush() == [] and q.dropped == 1
    assert q.describe().startswith("drop")


def test_unbounded_keeps_everything() -> None:
    q = SendQueue[int](limit=None)
    for k in range(1000):
        q.push(k)
    assert len(q) == 1000 and q.high_water == 1000 and q.dropped == 0
    assert q.flush() == list(range(1000)) and len(q) == 0


def test_drop_oldest_keeps_the_newest() -> None:
    q = SendQueue[int](limit=3)
    results = [q.push(k) for k in range(5)]
    assert results[-1] is Enqueued.QUEUED_DROPPED_OLDEST
    assert q.flush() == [2, 3, 4] and q.dropped == 2 and q.high_water == 3


def test_drop_newest_keeps_the_oldest() -> None:
    q = SendQueue[int](limit=2, overflow="drop-newest")
    assert [q.push(k) for k in range(3)][-1] is Enqueued.DROPPED
    assert q.flush() == [0, 1] and q.dropped == 1


def test_reject_raises_and_keeps_the_queue() -> None:
    q = SendQueue[int](limit=1, overflow="reject")
    q.push(1)
    with pytest.raises(SendQueueFull, match="already waiting"):
        q.push(2)
    assert list(q) == [1]
    assert isinstance(SendQueueFull("x"), ConnectionError)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"limit": -1}, "limit"), ({"limit": True}, "limit"), ({"limit": 2.0}, "limit"),
    ({"overflow": "drop-all"}, "overflow"),
])
def test_bad_settings(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SendQueue(**kwargs)
