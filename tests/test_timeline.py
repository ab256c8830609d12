"""Timeline: stable text, deterministic SVG, listeners that cannot break the caller."""

from __future__ import annotations

import re
import xml.dom.minidom
import xml.etree.ElementTree as ET

import pytest

from wslearn.backoff import BackoffPolicy
from wslearn.heartbeat import HeartbeatPolicy
from wslearn.machine import (
    Closed,
    CloseRequested,
    Connect,
    ConnectionMachine,
    Opened,
    OpenFailed,
    PongReceived,
    TimerFired,
)
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
    for needle in ("reconnecting", "server stopped", "stroke-dasharray", "#D55E00"):
        assert needle in svg
    jittered = outage(BackoffPolicy(jitter="full", seed=5)).to_svg()
    assert jittered == outage(BackoffPolicy(jitter="full", seed=5)).to_svg()


def test_html_shows_svg_and_text_unless_disabled() -> None:
    t = outage()
    # the drawing as an <img> with a data: URI: JupyterLab draws it untrusted too
    assert t._repr_html_().startswith('<img class="wslearn-timeline" src="data:image/svg+xml;')
    assert "<pre style=" in t._repr_html_()
    assert t.since(3)._repr_html_().startswith("<pre style=")


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


# -- the SVG picture: layout --------------------------------------------------------------

SVG_NS = "{http://www.w3.org/2000/svg}"


def down_for_good(max_attempts: int | None = 5) -> Timeline:
    """Connected, the server stops, every retry is refused (the dashboard's story)."""
    m = ConnectionMachine(BackoffPolicy(max_attempts=max_attempts))
    m.handle(Connect())
    m.handle(Opened())
    m.timeline.note("server stopped")
    m.handle(Closed(1006))
    for _ in range(5 if max_attempts else 9):
        m.handle(TimerFired("reconnect"))
        m.handle(OpenFailed("connection refused"))
    m.timeline.note("server started")
    return m.timeline


def long_run() -> Timeline:
    """60+ entries up to t>100s: pings, a freeze caught by the heartbeat, an outage."""
    m = ConnectionMachine(BackoffPolicy(), HeartbeatPolicy(interval=2, timeout=1))
    m.handle(Connect())
    m.handle(Opened())
    while m.t < 30:
        m.handle(TimerFired("ping"))
        m.handle(PongReceived())
    m.timeline.note("server.freeze()")
    m.handle(TimerFired("ping"))
    m.handle(TimerFired("pong"))
    m.handle(TimerFired("reconnect"))
    m.handle(TimerFired("open"))  # attempt 1 hangs for open_timeout
    m.timeline.note("server.thaw() -- the server answers again after a very long freeze")
    m.handle(TimerFired("reconnect"))
    m.handle(Opened())
    while m.t < 80:
        m.handle(TimerFired("ping"))
        m.handle(PongReceived())
    m.timeline.append(Entry(m.t, "error", "handler for news.update raised ValueError: x" * 2,
                            state=m.state.value))
    m.timeline.note("server.stop()")
    m.handle(Closed(1006))
    for _ in range(5):
        m.handle(TimerFired("reconnect"))
        m.handle(OpenFailed("connection refused"))
    return m.timeline


def many_pings() -> Timeline:
    """A heartbeat every 30 s over a long connected stretch, then close()."""
    m = ConnectionMachine(BackoffPolicy(), HeartbeatPolicy(interval=30, timeout=5))
    m.handle(Connect())
    m.handle(Opened())
    for _ in range(40):
        m.handle(TimerFired("ping"))
        m.handle(PongReceived())
    m.handle(CloseRequested())
    return m.timeline


def closed_during_wait() -> Timeline:
    m = ConnectionMachine(BackoffPolicy())
    m.handle(Connect())
    m.handle(Opened())
    m.handle(Closed(1006))
    m.handle(TimerFired("reconnect"))
    m.handle(OpenFailed("connection refused"))
    m.handle(CloseRequested())
    return m.timeline


def single() -> Timeline:
    return Timeline([Entry(0.0, "note", "a lonely note")])


PICTURES = {
    "outage": outage,
    "jittered": lambda: outage(BackoffPolicy(jitter="full", seed=5)),
    "down": down_for_good,
    "forever": lambda: down_for_good(None),
    "long": long_run,
    "pings": many_pings,
    "closed": closed_during_wait,
    "single": single,
    "empty": Timeline,
}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def text_boxes(svg: str) -> list[tuple[str, float, float, float, float]]:
    """(text, x0, y0, x1, y1) for every <text>, from a 0.6 em monospace advance."""
    boxes = []

    def walk(node: ET.Element, size: float) -> None:
        size = float(node.get("font-size", size))
        if node.tag == SVG_NS + "text":
            text = "".join(node.itertext())
            x, y = float(node.get("x", 0)), float(node.get("y", 0))
            w = len(text) * 0.6 * size
            x0 = {"middle": x - w / 2, "end": x - w}.get(node.get("text-anchor", "start"), x)
            boxes.append((text, x0, y - 0.8 * size, x0 + w, y + 0.2 * size))
        for child in node:
            walk(child, size)

    walk(parse(svg), 16.0)
    return boxes


@pytest.mark.parametrize("width", [720, 640, 360])
@pytest.mark.parametrize("name", list(PICTURES))
def test_no_two_labels_overlap(name: str, width: int) -> None:
    boxes = text_boxes(PICTURES[name]().to_svg(width))
    for i, (t1, a0, b0, a1, b1) in enumerate(boxes):
        for t2, c0, d0, c1, d1 in boxes[i + 1:]:
            overlap = min(a1, c1) - max(a0, c0) > 0.5 and min(b1, d1) - max(b0, d0) > 0.5
            assert not overlap, f"{t1!r} overlaps {t2!r}"


@pytest.mark.parametrize("width", [720, 640, 360])
@pytest.mark.parametrize("name", list(PICTURES))
def test_everything_stays_inside_the_view_box(name: str, width: int) -> None:
    svg = PICTURES[name]().to_svg(width)
    root = parse(svg)
    w, h = float(root.get("width", 0)), float(root.get("height", 0))
    assert root.get("viewBox") == f"0 0 {int(w)} {int(h)}" and w == width
    for _, x0, y0, x1, y1 in text_boxes(svg):
        assert x0 >= -0.5 and x1 <= w + 0.5 and y0 >= 0 and y1 <= h
    for node in root.iter():
        tag = node.tag.removeprefix(SVG_NS)
        if tag == "rect":
            x, y = float(node.get("x", 0)), float(node.get("y", 0))
            assert x >= 0 and x + float(node.get("width", 0)) <= w
            assert y >= 0 and y + float(node.get("height", 0)) <= h
        elif tag == "circle":
            assert 0 <= float(node.get("cx", 0)) <= w and 0 <= float(node.get("cy", 0)) <= h
        elif tag == "path":  # absolute moves and lines only: relative ones are small
            for cmd, x, y in re.findall(r"([ML])(-?[\d.]+),(-?[\d.]+)", node.get("d", "")):
                assert 0 <= float(x) <= w and 0 <= float(y) <= h, (cmd, x, y)


def test_attempt_labels_sit_above_the_axis_and_its_labels() -> None:
    svg = down_for_good().to_svg()
    boxes = text_boxes(svg)
    ticks = [b for b in boxes if re.fullmatch(r"\d+(\.\d+)?s", b[0])]
    attempts = [b for b in boxes if re.match(r"(#\d+|connect) ", b[0])]
    assert [b[0] for b in attempts] == [
        "connect \u2713", "#1 \u2717", "#2 \u2717", "#3 \u2717", "#4 \u2717",
        "#5 \u2717 gave up",
    ]
    assert [b[0] for b in ticks][:3] == ["0s", "5s", "10s"]
    axis_top = min(b[2] for b in ticks)
    assert max(b[4] for b in attempts) + 20 < axis_top  # the events lane lies between
    # delays label the waits: the story reads 1, 2, 4, 8, 16
    assert [b[0] for b in boxes if b[0].startswith("+")] == ["+1s", "+2s", "+4s", "+8s", "+16s"]


def test_success_and_failure_differ_by_shape_and_label() -> None:
    svg = outage().to_svg()
    root = parse(svg)
    texts = ["".join(t.itertext()) for t in root.iter(SVG_NS + "text")]
    assert "#1 \u2717" in texts and "#2 \u2717" in texts and "#3 \u2713" in texts
    filled = [c for c in root.iter(SVG_NS + "circle") if c.get("fill") == "#009E73"]
    crosses = [p for p in root.iter(SVG_NS + "path") if p.get("stroke") == "#D55E00"]
    assert filled and crosses
    # the heartbeat caught a dead connection: a pending wait leads to the next attempt
    assert "#1 next" in texts


def test_svg_is_self_contained_accessible_and_id_free() -> None:
    for name, make in PICTURES.items():
        svg = make().to_svg()
        assert svg == make().to_svg(), name
        root = parse(svg)
        assert root.get("role") == "img" and root.get("aria-label"), name
        assert root[0].tag == SVG_NS + "title" and root[0].text == root.get("aria-label")
        assert " id=" not in svg and "<style" not in svg and "url(" not in svg, name
        assert "href" not in svg and svg.count("http") == 1, name  # the xmlns only
    assert "no entries yet" in Timeline().to_svg()
    assert "final state disconnected" in parse(down_for_good().to_svg()).get("aria-label", "")


def test_long_timelines_stay_small() -> None:
    assert len(long_run()) >= 60 and long_run()[-1].t >= 100
    assert len(long_run().to_svg()) < 20_000
    assert len(many_pings().to_svg()) < 12_000  # pings share one path


def test_note_text_is_escaped_and_never_cut() -> None:
    t = outage()
    nasty = 'a <b>"bold"</b> & \x00 claim that goes on and on, far past any sensible label'
    t.note(nasty)
    svg = t.to_svg()
    assert "<b>" not in svg
    root = parse(svg)  # still well-formed, even with a NUL in the note
    labels = ["".join(x.itertext()) for x in root.iter(SVG_NS + "text")]
    whole = nasty.replace("\x00", "\N{REPLACEMENT CHARACTER}")
    # beside its mark or, where a busy window has no room, in a numbered footnote: whole
    assert any(x == whole or x.endswith("s " + whole) for x in labels), labels
    assert not any(x.endswith("\u2026") for x in labels)
    titles = ["".join(x.itertext()) for x in root.iter(SVG_NS + "title")]
    assert any("far past any sensible label" in x for x in titles)


def test_notes_near_the_right_edge_are_not_clipped() -> None:
    svg = down_for_good().to_svg()
    texts = {b[0]: b for b in text_boxes(svg)}
    assert "server started" in texts  # whole, right-aligned at the last instant
    assert texts["server started"][3] <= 720


def test_closed_and_cancelled_wait_are_drawn() -> None:
    svg = closed_during_wait().to_svg()
    texts = ["".join(x.itertext()) for x in parse(svg).iter(SVG_NS + "text")]
    assert any(x.startswith("closed by the client during the backoff wait") for x in texts)
    assert 'fill="#555555"' in svg  # the closed band


def test_a_busy_instant_cuts_no_label_and_numbers_what_does_not_fit() -> None:
    t = Timeline([Entry(0.0, "connected", "connected", state="connected"),
                  Entry(40.0, "ping", "ping sent", state="connected")])
    for i in range(9):
        t.note(f"fault number {i} injected while the server was busy restarting")
    texts = ["".join(x.itertext()) for x in parse(t.to_svg()).iter(SVG_NS + "text")]
    assert not any(x.endswith("\u2026") for x in texts)
    for i in range(9):
        label = f"fault number {i} injected while the server was busy restarting"
        assert any(x == label or x.endswith("s " + label) for x in texts), (i, texts)
    assert any(x.startswith("[") and x.endswith("]") for x in texts)  # footnote numbers


def test_everything_at_one_instant_is_drawn_in_order() -> None:
    t = Timeline([
        Entry(0.0, "connect", "connect: opening the socket", state="connecting"),
        Entry(0.0, "connected", "connected", state="connected"),
        Entry(0.0, "closed", "closed by the client", state="closed"),
    ])
    texts = ["".join(x.itertext()) for x in parse(t.to_svg()).iter(SVG_NS + "text")]
    assert "connected" in texts and "closed" in texts  # each state has room for its name
    assert any("drawn one step apart" in x for x in texts)
    assert "t=    0.0s" in "".join(
        "".join(x.itertext()) for x in parse(t.to_svg()).iter(SVG_NS + "title")
    )
