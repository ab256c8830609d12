"""Timeline: stable text, deterministic SVG, listeners that cannot break the caller."""

from __future__ import annotations

import re
import xml.dom.minidom

import pytest

from wslearn.backoff import BackoffPolicy
from wslearn.heartbeat import HeartbeatPolicy
from wslearn.machine import Closed, Connect, ConnectionMachine, Opened, OpenFailed, TimerFired
from wslearn.timeline import Entry, Timeline, fmt_seconds


def outage(policy: BackoffPolicy | None = None) -> Timeline:
    m = ConnectionMachine(policy or BackoffPolicy(), HeartbeatPolicy(interval=2, timeout=1))
    m.handle(Connect())
    m.handle(Opened())
    m.timeline.note("server stopped")
    m.handle(Closed(1001, "server stopped"))
    for _ in range(2):
        m.handle(TimerFired("reconnect"))
        m.handle(OpenFailed("connection refused"))
    m.handle(TimerFired("reconnect"))
    m.handle(Opened())
    m.handle(TimerFired("ping"))
    m.handle(TimerFired("pong"))
    return m.timeline


def test_text_is_one_aligned_line_per_entry() -> None:
    text = outage().to_text()
    lines = text.splitlines()
    assert lines[2] == "t=    0.0s  connected     server stopped"
    assert lines[-1] == (
        "t=   10.0s  reconnecting  no pong within 1.0s: connection presumed dead; "
        "attempt 1/5 in 1.0s"
    )
    assert all(re.match(r"t= *\d+\.\d+s  ", line) for line in lines)
    assert repr(outage()) == text == str(outage())


def test_empty_timeline() -> None:
    assert Timeline().to_text() == "(no entries)"
    assert "<svg" in Timeline().to_svg()


def test_seconds_format() -> None:
    values = (0, 1, 2.5, 0.734, 31)
    assert [fmt_seconds(x) for x in values] == ["0.0", "1.0", "2.5", "0.734", "31.0"]


def test_svg_is_deterministic_and_well_formed() -> None:
    svg = outage().to_svg()
    assert svg == outage().to_svg()
    xml.dom.minidom.parseString(svg)  # well-formed XML
    for needle in ("reconnecting", "server stopped", "stroke-dasharray", "#eb5757"):
        assert needle in svg
    jittered = outage(BackoffPolicy(jitter="full", seed=5)).to_svg()
    assert jittered == outage(BackoffPolicy(jitter="full", seed=5)).to_svg()


def test_html_shows_svg_and_text_unless_disabled() -> None:
    t = outage()
    assert t._repr_html_().startswith("<svg")
    assert "<pre>" in t._repr_html_()
    assert t.since(3)._repr_html_().startswith("<pre>")


def test_slicing_and_queries() -> None:
    t = outage()
    assert isinstance(t[0], Entry) and isinstance(t[1:3], Timeline)
    assert len(t[1:3]) == 2
    assert [e.attempt for e in t.where("failed")] == [1, 2]
    assert t.kinds()[:2] == ["connect", "connected"]


def test_listeners_and_errors_in_listeners() -> None:
    t = Timeline()
    seen: list[str] = []
    remove = t.add_listener(lambda e: seen.append(e.kind))

    def broken(entry: Entry) -> None:
        raise RuntimeError("view crashed")

    t.add_listener(broken)
    t.note("hello", t=1.0)  # must not raise
    assert seen == ["note", "error"]
    assert t[-1].text == "timeline listener broken raised RuntimeError: view crashed"
    remove()
    t.note("again")
    assert seen == ["note", "error"]
    assert t[-1].t == 1.0  # a note defaults to the last entry's time


def test_bad_entries() -> None:
    with pytest.raises(ValueError, match="unknown timeline entry kind"):
        Entry(0.0, "boom", "x")
    with pytest.raises(TypeError):
        Timeline().append("x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="width"):
        outage().to_svg(width=10)
