"""Resume: the server's bounded replay buffer and the client's cursor (pure rules)."""

from __future__ import annotations

import pytest

from wslearn.protocol import MAX_TOPICS, ProtocolError, format_cursor, parse_cursor
from wslearn.resume import Observed, ReplayBuffer, ResumeCursor


def filled(limit: int = 3, n: int = 5, topic: str = "a") -> ReplayBuffer[str]:
    buf = ReplayBuffer[str](limit=limit)
    for k in range(1, n + 1):
        assert buf.append(topic, f"e{k}") == k
    return buf


def test_replay_gives_exactly_the_missed_events() -> None:
    buf = filled()
    assert buf.since("a", 2).items == ("e3", "e4", "e5")
    assert buf.since("a", 4).items == ("e5",)
    up_to_date = buf.since("a", 5)
    assert up_to_date.items == () and not up_to_date.resync and up_to_date.missed == 0


def test_a_gap_older_than_the_buffer_resyncs() -> None:
    replay = filled().since("a", 1)
    assert replay.resync and replay.items == () and replay.missed == 4


def test_a_position_from_the_future_resyncs() -> None:
    """The server restarted and forgot: the client's number is ahead of the head."""
    replay = filled().since("a", 9)
    assert replay.resync and replay.missed == 0
    assert ReplayBuffer[str]().since("never", 3).resync


def test_unknown_topic_at_zero_is_up_to_date() -> None:
    assert not ReplayBuffer[str]().since("new", 0).resync


def test_limit_zero_keeps_nothing_but_the_head() -> None:
    buf = filled(limit=0)
    assert len(buf) == 0 and buf.head("a") == 5
    assert buf.since("a", 4).resync and not buf.since("a", 5).resync


def test_the_owner_may_number_events() -> None:
    buf = ReplayBuffer[str]()
    assert buf.append("a", "x", seq=7) == 7
    with pytest.raises(ValueError, match="must grow"):
        buf.append("a", "y", seq=7)


def test_topics_are_bounded_least_recently_published_first() -> None:
    buf = ReplayBuffer[str](limit=2, max_topics=2)
    buf.append("a", "1")
    buf.append("b", "1")
    buf.append("a", "2")
    buf.append("c", "1")  # b is the least recently published
    assert buf.head("b") == 0 and buf.evicted == 1
    assert buf.since("b", 1).resync  # its clients resync: safe
    assert len(buf) == 3


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_bad_limits(bad: object) -> None:
    with pytest.raises(ValueError):
        ReplayBuffer(limit=bad)  # type: ignore[arg-type]


def test_cursor_follows_numbers() -> None:
    cur = ResumeCursor()
    cur.start({"a": 3, "b": 0})
    assert cur.observe("a", 4) is Observed.NEW
    assert cur.observe("a", 4) is Observed.DUPLICATE
    assert cur.observe("a", 2) is Observed.DUPLICATE
    assert cur.observe("a", 7) is Observed.GAP
    assert cur.observe("c", 9) is Observed.FIRST
    assert cur.query_value() == "a:7,b:0,c:9"
    cur.start({"a": 100})  # a welcome does not move a known position
    assert cur.positions["a"] == 7
    cur.resync("a", 100)
    assert cur.positions["a"] == 100
    cur.keep_only(["a"])
    assert cur.positions == {"a": 100}


def test_cursor_is_bounded_and_checked() -> None:
    cur = ResumeCursor({f"t{k}": 0 for k in range(MAX_TOPICS)})
    with pytest.raises(ValueError, match="at most"):
        cur.observe("one-more", 1)
    with pytest.raises(ProtocolError):
        ResumeCursor({"Bad Topic": 1})
    with pytest.raises(ValueError):
        ResumeCursor({"a": -1})


def test_cursor_wire_format_round_trips() -> None:
    positions = {"analysis": 12, "proposals": 0}
    assert parse_cursor(format_cursor(positions)) == positions
    assert parse_cursor("") == {} and parse_cursor(None) == {}


@pytest.mark.parametrize("bad", ["a", "a:", "a:-1", "a:1x", "a:１", "a:" + "9" * 17,
                                 "a:9007199254740992", "A:1", ":1"])
def test_bad_cursors_say_what_is_wrong(bad: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_cursor(bad)
    assert info.value.code in ("bad-resume", "bad-topic")


def test_a_cursor_has_at_most_max_topics() -> None:
    value = ",".join(f"t{k}:1" for k in range(MAX_TOPICS + 1))
    with pytest.raises(ProtocolError) as info:
        parse_cursor(value)
    assert info.value.code == "too-many-topics"
