"""The timeline as a picture: a deterministic SVG layout of :class:`wslearn.timeline.Entry`.

Lanes, top to bottom: state bands, attempts (with the backoff waits that led to them),
heartbeat, events (notes, errors, losses), then the time axis, any footnotes and a key.
Colours come from the one palette (:mod:`wslearn.svg`): a state has the same colour here,
on the badge and in a chart of states. Nothing is told by colour alone: bands carry their
state's name (or a legend swatch), attempts a shape and a ✓/✗ label, pings and pongs
different shapes, events a shape and their text.

Readable in busy windows: an event label is never cut. Labels are packed into rows by
estimated width; one that finds no room in full gets a number beside its mark instead,
and its whole text goes into a numbered footnote under the axis. Clipping (tooltips,
footnotes) cuts at a word boundary, never mid-word.

When everything happens at one instant (a connect and a close at ``t=0``), a time axis
would squeeze every state into nothing and read as the last state only: the entries are
then drawn one step apart, in order, and the axis says so.

Text is never measured (no fonts in a pure function): a monospace advance of 0.6 em is
assumed, a little generously. Same entries, same bytes: no ids, ports or wall times.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .svg import INK, MUTED, STATES
from .svg import coord as _n
from .svg import esc as _esc
from .timeline import Entry, fmt_seconds

__all__ = ["render", "summary"]

#: state -> (band fill, colour of the state's name written on the band)
_STATE_STYLE: dict[str, tuple[str, str]] = {name: (c.fill, c.ink) for name, c in STATES.items()}
_INK = INK
_MUTED = MUTED
_RULE = "#e2e2e2"
_GRID = "#efefef"
_OK = "#009E73"
_OK_TEXT = "#00704F"
_BAD = "#D55E00"
_BAD_TEXT = "#A84300"
_BLUE = "#0072B2"
_WAIT = "#8F5B00"
_NOTE = "#9A3F7A"
_ERROR = "#B83C00"

_FONT = 11  # px: labels, lane names
_CW = 6.7  # px: assumed advance of one monospace character at _FONT
_SMALL = 10  # px: axis, legends, delays, state names
_SCW = 6.1
_ROW = 13  # px between two rows of labels
_LABEL_CHARS = 44  # the longest event label drawn; the full line is in the tooltip
_EVENT_KINDS = ("note", "error", "info", "lost", "gave-up", "closed")



def _secs(value: float) -> str:
    """``2s``, ``0.5s``, ``1.484s`` (delays, axis ticks)."""
    if abs(value - round(value)) < 1e-9:
        return f"{round(value)}s"
    return fmt_seconds(value) + "s"


def _nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 x 10^k that is >= ``raw``."""
    base = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * base >= raw * (1 - 1e-9):
            return m * base
    return 10 * base  # pragma: no cover - the loop always returns


def _clip(text: str, chars: int) -> str:
    """``text`` in at most ``chars`` characters, cut at a word boundary, an ellipsis
    marking the cut (a single word longer than ``chars`` is the only thing cut inside)."""
    if len(text) <= chars:
        return text
    room = max(chars - 1, 0)
    cut = text[: room + 1].rfind(" ")
    head = text[:cut] if cut > room // 3 else text[:room]
    return head.rstrip(" ,;:") + "\N{HORIZONTAL ELLIPSIS}"


def _wrap(text: str, chars: int) -> list[str]:
    """``text`` in lines of at most ``chars`` characters, broken between words only."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > chars:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines or [""]


def _event_label(e: Entry) -> str:
    """A short label for the events lane (the tooltip has the whole line)."""
    text = " ".join(e.text.split())
    if e.kind == "lost":
        if text.startswith("no pong"):
            return "lost: " + text.split(":")[0]
        code = re.match(r"connection lost \((\d+)", text)
        if code:
            return f"connection lost ({code.group(1)})"
    if e.kind == "gave-up":
        if "giving up: " in text:
            return "gave up: " + text.split("giving up: ", 1)[1].split(";")[0]
        code = re.search(r"\((\d{4}) ", text)
        return f"gave up ({code.group(1)})" if code else "gave up"
    if e.kind in ("lost", "closed"):
        return text.split(";")[0]
    return text


class _Rows:
    """First-fit packing of horizontal label extents into at most ``limit`` rows."""

    def __init__(self, limit: int, gap: float = 6.0) -> None:
        self.limit = limit
        self.gap = gap
        self.rows: list[list[tuple[float, float]]] = []

    def fits(self, row: int, lo: float, hi: float) -> bool:
        taken = self.rows[row] if row < len(self.rows) else []
        return all(hi + self.gap <= a or lo >= b + self.gap for a, b in taken)

    def find(self, lo: float, hi: float) -> int | None:
        for row in range(self.limit):
            if self.fits(row, lo, hi):
                return row
        return None

    def room(self, row: int, x: float, bound: float) -> float:
        """Free width from ``x`` towards ``bound`` (either side) in ``row``."""
        lo, hi = min(x, bound), max(x, bound)
        for a, b in self.rows[row] if row < len(self.rows) else []:
            a, b = a - self.gap, b + self.gap
            if a <= x <= b:
                return 0.0
            if bound > x and x < a < hi:
                hi = a
            if bound < x and lo < b < x:
                lo = b
        return hi - lo

    def take(self, row: int, lo: float, hi: float) -> None:
        while len(self.rows) <= row:
            self.rows.append([])
        self.rows[row].append((lo, hi))

    @property
    def used(self) -> int:
        return len(self.rows)


@dataclass
class _Attempt:
    """One open attempt: ``start`` (connect/attempt), its outcome ``end`` if known."""

    number: int
    start: Entry
    end: Entry | None = None
    ok: bool | None = None  # True opened, False failed, None in flight / abandoned
    gave_up: bool = False


@dataclass(frozen=True)
class _Wait:
    """A planned backoff wait: scheduled by ``entry`` at ``start``, over at ``stop``."""

    start: float
    stop: float
    entry: Entry
    status: str  # "done" (its attempt ran), "pending" (still ahead), "cancelled"


def _real(e: Entry) -> Entry:
    return getattr(e, "real", e)


class _Step(Entry):
    """An entry drawn at step ``i`` (the ordinal layout); its text keeps its real ``t``."""

    def __init__(self, real: Entry, i: int) -> None:
        fields = {k: getattr(real, k) for k in ("kind", "text", "state", "attempt", "delay")}
        super().__init__(t=float(i), **fields)
        object.__setattr__(self, "real", real)

    def to_text(self) -> str:
        return self.real.to_text()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Label:
    x: float  # the text's anchor
    anchor: str  # "start", "middle" or "end"
    row: int
    text: str


class _Svg:
    """Draws a timeline. Layout is computed from entries only (no fonts measured)."""

    LEFT = 76  # the lane names' column
    RIGHT = 18
    CAP = 10  # px the current state's band runs past the end of the axis

    def __init__(self, entries: Sequence[Entry], width: int) -> None:
        if width < 200:
            raise ValueError(f"SVG width must be >= 200 px, got {width}")
        self.real = list(entries)
        #: everything at one instant: draw the entries one step apart (see module docs)
        self.ordinal = len(self.real) > 1 and all(e.t == self.real[0].t for e in self.real)
        self.entries = (
            [_Step(e, i) for i, e in enumerate(self.real)] if self.ordinal else list(self.real)
        )
        self.width = width
        self.x0 = float(self.LEFT)
        self.x1 = float(width - self.RIGHT)
        self._analyse()
        self.last = max((e.t for e in self.entries), default=0.0)
        self.end = max([self.last] + [w.stop for w in self.waits if w.status == "pending"])
        self.span = self.end if self.end > 0 else 1.0
        if self.ordinal:  # one step of room after the last entry, for its state
            self.end = self.span = float(len(self.entries))
        self.scale = (self.x1 - self.x0) / self.span
        self.out: list[str] = []

    def x(self, t: float) -> float:
        return self.x0 + t * self.scale

    # -- what to draw -------------------------------------------------------------------

    def _analyse(self) -> None:
        self.attempts: list[_Attempt] = []
        self.waits: list[_Wait] = []
        self.pings: list[Entry] = []
        self.pongs: list[Entry] = []
        self.timeouts: list[tuple[float | None, Entry]] = []  # (unanswered ping, lost)
        self.events = [e for e in self.entries if e.kind in _EVENT_KINDS]
        current: _Attempt | None = None
        wait: Entry | None = None
        ping: float | None = None  # the ping still waiting for its pong
        for e in self.entries:
            # attempts and their outcomes
            if e.kind in ("connect", "attempt"):
                current = _Attempt(e.attempt or 0, e)
                self.attempts.append(current)
            elif e.kind in ("connected", "failed") or (
                e.kind == "gave-up" and e.attempt is not None
            ):
                if current is None or current.end is not None:  # a hand-made timeline
                    current = _Attempt(e.attempt or 0, e)
                    self.attempts.append(current)
                current.end, current.ok = e, e.kind == "connected"
                current.gave_up = e.kind == "gave-up"
            elif e.kind == "closed" and current is not None and current.end is None:
                current.end = e  # abandoned: ok stays None
            # backoff waits
            if wait is not None:
                if e.kind == "attempt":
                    self.waits.append(_Wait(wait.t, e.t, wait, "done"))
                    wait = None
                elif e.kind in ("connect", "closed", "gave-up"):
                    self.waits.append(_Wait(wait.t, e.t, wait, "cancelled"))
                    wait = None
            if e.delay is not None and e.delay >= 0 and e.kind in ("failed", "lost"):
                if wait is not None:
                    self.waits.append(_Wait(wait.t, e.t, wait, "cancelled"))
                wait = e
            # heartbeat
            if e.kind == "ping":
                self.pings.append(e)
                ping = e.t
            elif e.kind == "pong":
                self.pongs.append(e)
                ping = None
            elif e.kind == "lost" and e.text.startswith("no pong"):
                self.timeouts.append((ping, e))
                ping = None
            elif e.kind in ("connected", "lost", "closed"):
                ping = None
        if wait is not None:
            assert wait.delay is not None
            self.waits.append(_Wait(wait.t, wait.t + wait.delay, wait, "pending"))

    def _spans(self) -> list[tuple[float, float, str]]:
        """(start, stop, state) per stretch of time in one state; the last runs to the end."""
        spans: list[tuple[float, float, str]] = []
        current: tuple[float, str] | None = None
        for e in self.entries:
            if e.state is None:
                continue
            if current is None:
                current = (e.t, e.state)
            elif e.state != current[1]:
                spans.append((current[0], e.t, current[1]))
                current = (e.t, e.state)
        if current is not None:
            spans.append((current[0], self.span, current[1]))
        return spans

    # -- label packing (x only; rows become y later) --------------------------------------

    def _attempt_marks(self) -> list[tuple[_Attempt, float, float]]:
        """Each attempt with the x of its start and of its outcome (or start)."""
        marks = []
        for a in self.attempts:
            start = self.x(a.start.t)
            marks.append((a, start, self.x(a.end.t) if a.end is not None else start))
        return marks

    def _pack_attempts(self) -> list[_Label]:
        rows = _Rows(3, gap=5.0)
        labels: list[_Label] = []
        pending = [w for w in self.waits if w.status == "pending"]
        items: list[tuple[float, list[str]]] = []
        for a, _, x in self._attempt_marks():
            mark = {True: " \N{CHECK MARK}", False: " \N{BALLOT X}", None: ""}[a.ok]
            name = "connect" if a.start.kind == "connect" else f"#{a.number}"
            texts = [name + mark + (" gave up" if a.gave_up else ""), name + mark, name]
            if name == "connect":
                texts.append(mark.strip())
            items.append((x, [s for s in dict.fromkeys(texts) if s]))
        for w in pending:  # the attempt that the pending wait leads to
            entry_attempt = (w.entry.attempt or 0) + 1 if w.entry.kind == "failed" else 1
            items.append((self.x(w.stop), [f"#{entry_attempt} next", f"#{entry_attempt}"]))
        for x, texts in items:
            for text in texts:
                width = len(text) * _CW
                lo = min(max(x - width / 2, self.x0 - 6), self.width - 2 - width)
                row = rows.find(lo, lo + width)
                if row is not None:
                    rows.take(row, lo, lo + width)
                    labels.append(_Label(lo + width / 2, "middle", row, text))
                    break
        self.attempt_rows = max(rows.used, 1)
        return labels

    def _pack_waits(self) -> list[_Label | None]:
        """The ``+2s`` over each wait's arrow, where it fits (about) over the arrow."""
        rows = _Rows(1, gap=4.0)
        labels: list[_Label | None] = []
        for w in self.waits:
            text = "+" + _secs(w.entry.delay or 0.0)
            a, b = self.x(w.start), self.x(w.stop)
            width = len(text) * _SCW
            lo = min((a + b - width) / 2, self.width - 2 - width)
            fits = w.status != "cancelled" and width <= b - a + 12 and rows.fits(0, lo, lo + width)
            if fits:
                rows.take(0, lo, lo + width)
            labels.append(_Label(lo + width / 2, "middle", 0, text) if fits else None)
        return labels

    def _pack_events(self) -> list[_Label | None]:
        """A label per event, in full beside its mark where a row has room. The others
        get footnote numbers (one label per instant: ``[2-5]``) and their full text in
        :attr:`footnotes`, drawn under the axis."""
        rows = _Rows(4, gap=8.0)
        labels: list[_Label | None] = []
        self.footnotes: list[tuple[str, str]] = []  # (number, text)
        right, left = self.width - 3.0, self.x0 - 6
        noted: dict[float, list[int]] = {}  # x -> indexes of the events sent to footnotes
        for i, e in enumerate(self.events):
            x = self.x(e.t)
            text = _event_label(e)
            placed = self._place(rows, x, text, right, left)
            if placed is None:
                self.footnotes.append(
                    (str(len(self.footnotes) + 1), f"t={fmt_seconds(_real(e).t)}s  {text}")
                )
                noted.setdefault(round(x, 1), []).append(i)
            else:
                self._take(rows, placed, x)
            labels.append(placed)
        # neighbouring footnoted events share one label: "[2-5]" (numbers run in time order)
        clusters: list[tuple[float, list[int]]] = []
        for x, indexes in noted.items():
            if clusters and x - clusters[-1][0] <= 24:
                clusters[-1][1].extend(indexes)
            else:
                clusters.append((x, list(indexes)))
        overflow = _Rows(3, gap=6.0)  # rows under the others, for numbers only
        first = 1
        for x, indexes in clusters:
            last = first + len(indexes) - 1
            text = f"[{first}]" if first == last else f"[{first}\N{EN DASH}{last}]"
            placed = self._place(rows, x, text, right, left)
            if placed is not None:
                self._take(rows, placed, x)
            else:
                spill = self._place(overflow, x, text, right, left) or _Label(
                    x + 5, "start", overflow.limit - 1, text)
                self._take(overflow, spill, x)
                placed = _Label(spill.x, spill.anchor, rows.limit + spill.row, text)
            labels[indexes[0]] = placed
            first = last + 1
        self.event_rows = max(rows.used, 1, *(lb.row + 1 for lb in labels if lb is not None))
        return labels

    @staticmethod
    def _take(rows: _Rows, placed: _Label, x: float) -> None:
        w = len(placed.text) * _CW
        lo = placed.x if placed.anchor == "start" else placed.x - w
        rows.take(placed.row, min(lo, x - 1), max(lo + w, x + 1))

    @staticmethod
    def _place(rows: _Rows, x: float, text: str, right: float, left: float) -> _Label | None:
        width = len(text) * _CW
        for row in range(rows.limit):
            if x + 5 + width <= right and rows.fits(row, x + 1, x + 5 + width):
                return _Label(x + 5, "start", row, text)
            if x - 5 - width >= left and rows.fits(row, x - 5 - width, x - 1):
                return _Label(x - 5, "end", row, text)
        return None

    # -- rendering ----------------------------------------------------------------------

    def render(self) -> str:
        attempt_labels = self._pack_attempts()
        wait_labels = self._pack_waits()
        event_labels = self._pack_events()
        states = self._legend([("swatch:" + s, s) for s in _STATE_STYLE], self.x0)
        keys = [("start", "attempt starts"), ("ok", "opened \N{CHECK MARK}"),
                ("bad", "failed \N{BALLOT X}"), ("wait", "planned backoff wait")]
        if self.pings or self.pongs or self.timeouts:
            keys += [("ping", "ping"), ("pong", "pong"), ("timeout", "no pong")]
        key = self._legend(keys, self.x0)

        # vertical layout
        y = 4.0
        self.legend_y = y
        y += 14 * len(states) + 4
        self.state_top = y
        y += 26
        self.attempt_top = y
        self.arrow_y = y + 17
        self.marker_y = y + 32
        self.attempt_label_y = y + 50
        y = self.attempt_label_y + _ROW * (self.attempt_rows - 1) + 7
        self.heart_top: float | None = None
        if self.pings or self.pongs or self.timeouts:
            self.heart_top = y
            y += 28
        self.event_top: float | None = None
        if self.events:
            self.event_top = y
            y += 24 + _ROW * (self.event_rows - 1) + 7
        self.axis_y = y + 2
        chars = int((self.width - self.x0 - 8) // (_SCW + 0.4))
        self.footnote_lines: list[tuple[str, str]] = []
        for number, text in self.footnotes:
            for i, line in enumerate(_wrap(text, chars - 5)):
                self.footnote_lines.append((f"[{number}]" if i == 0 else "", line))
        self.footnote_y = self.axis_y + 34
        self.key_y = self.footnote_y + 13 * len(self.footnote_lines) + (
            4 if self.footnote_lines else -2)
        self.height = math.ceil(self.key_y + 14 * len(key) - 4)

        summary = _esc(self._summary())
        self.out.append(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" role="img" '
            f'aria-label="{summary}" font-family="monospace" font-size="{_FONT}" '
            'style="max-width:100%;height:auto">'
            f"<title>{summary}</title>"
            f'<rect width="{self.width}" height="{self.height}" fill="#fff"/>'
        )
        self._frame()
        self._bands()
        self._guides()
        self._waits(wait_labels)
        self._attempts(attempt_labels)
        self._heartbeat()
        self._events(event_labels)
        self._axis()
        self._footnotes()
        self._draw_legend(states, self.legend_y + 9)
        self._draw_legend(key, self.key_y)
        self.out.append("</svg>")
        return "".join(self.out)

    def _summary(self) -> str:
        if not self.entries:
            return "Connection timeline: no entries yet."
        opened = sum(a.ok is True for a in self.attempts)
        failed = sum(a.ok is False for a in self.attempts)
        states = [e.state for e in self.entries if e.state is not None]
        parts = [
            f"Connection timeline from t=0.0s to t={fmt_seconds(max(e.t for e in self.real))}s",
            f"{_count(len(self.attempts), 'open attempt')} ({opened} opened, {failed} failed)",
        ]
        if self.pings or self.pongs:
            parts.append(f"{_count(len(self.pings), 'ping')}, {_count(len(self.pongs), 'pong')}")
        if self.events:
            parts.append(_count(len(self.events), "event"))
        if states:
            parts.append(f"final state {states[-1]}")
        return ": ".join(parts[:2]) + "; " + "; ".join(parts[2:]) + "." if parts[2:] else (
            ": ".join(parts) + "."
        )

    def _lane(self, top: float, name: str, baseline: float) -> None:
        self.out.append(
            f'<line x1="4" y1="{_n(top)}" x2="{self.width - 4}" y2="{_n(top)}" stroke="{_RULE}"/>'
            f'<text x="{_n(self.x0 - 12)}" y="{_n(baseline)}" text-anchor="end" '
            f'fill="{_MUTED}">{name}</text>'
        )

    def _ticks(self) -> list[float]:
        if self.ordinal:
            return [float(i) for i in range(len(self.entries))]
        step = _nice_step(self.span * 78 / (self.x1 - self.x0))
        count = math.floor(self.span / step + 1e-9)
        return [round(i * step, 9) for i in range(count + 1)]

    def _frame(self) -> None:
        """Lane rules and names, and the tick grid behind everything else."""
        self._lane(self.state_top, "state", self.state_top + 16)
        self._lane(self.attempt_top, "attempts", self.marker_y + 4)
        if self.heart_top is not None:
            self._lane(self.heart_top, "heartbeat", self.heart_top + 18)
        if self.event_top is not None:
            self._lane(self.event_top, "events", self.event_top + 11)
        grid = "".join(
            f"M{_n(self.x(t))},{_n(self.state_top + 2)}V{_n(self.axis_y)}" for t in self._ticks()
        )
        self.out.append(f'<path d="{grid}" stroke="{_GRID}"/>')
        if not self.entries:
            self.out.append(
                f'<text x="{_n((self.x0 + self.x1) / 2)}" y="{_n(self.marker_y + 4)}" '
                f'text-anchor="middle" fill="{_MUTED}">no entries yet</text>'
            )

    def _bands(self) -> None:
        top, height = self.state_top + 4, 20
        spans = self._spans()
        for i, (start, stop, state) in enumerate(spans):
            fill, ink = _STATE_STYLE.get(state, ("#e0e0e0", _INK))
            a, b = self.x(start), self.x(stop)
            if i == len(spans) - 1:  # the state now: runs a little past the axis
                b += self.CAP
            title = f"<title>{_esc(state)}: t={fmt_seconds(start)}s to {fmt_seconds(stop)}s</title>"
            planned = stop > self.last and self.end > self.last and not self.ordinal
            if planned:  # planned, not happened: faded
                mid = self.x(max(start, self.last))
                if mid > a:
                    self.out.append(
                        f'<rect x="{_n(a)}" y="{_n(top)}" width="{_n(mid - a)}" '
                        f'height="{height}" fill="{fill}">{title}</rect>'
                    )
                self.out.append(
                    f'<rect x="{_n(mid)}" y="{_n(top)}" width="{_n(max(b - mid, 2.0))}" '
                    f'height="{height}" fill="{fill}" fill-opacity="0.45">{title}</rect>'
                )
            else:
                self.out.append(
                    f'<rect x="{_n(a)}" y="{_n(top)}" width="{_n(max(b - a, 2.0))}" '
                    f'height="{height}" fill="{fill}">{title}</rect>'
                )
            if b - a >= len(state) * _SCW + 8:
                self.out.append(
                    f'<text x="{_n((a + b) / 2)}" y="{_n(top + 14)}" text-anchor="middle" '
                    f'font-size="{_SMALL}" fill="{ink}">{_esc(state)}</text>'
                )

    def _guides(self) -> None:
        """Dotted lines from each note or error up through the state band."""
        if self.event_top is None:
            return
        d = "".join(
            f"M{_n(self.x(e.t))},{_n(self.state_top + 2)}V{_n(self.event_top + 2)}"
            for e in self.events if e.kind in ("note", "error")
        )
        if d:
            self.out.append(
                f'<path d="{d}" stroke="{_NOTE}" stroke-opacity="0.55" stroke-dasharray="2,3"/>'
            )

    def _waits(self, labels: list[_Label | None]) -> None:
        y = self.arrow_y
        for w, label in zip(self.waits, labels, strict=True):
            a, b = self.x(w.start), self.x(w.stop)
            title = f"<title>{_esc(w.entry.to_text())}</title>"
            if w.status == "cancelled":
                self.out.append(
                    f'<g stroke="#999" fill="none">{title}<path d="M{_n(a)},{_n(y - 4)}v8'
                    f'M{_n(a)},{_n(y)}H{_n(max(b, a + 4))}" stroke-dasharray="2,2"/></g>'
                )
                continue
            dash = ' stroke-dasharray="4,3"' if w.status == "pending" else ""
            head = (
                f'<path d="M{_n(b)},{_n(y)}l-6,-3.5v7z" fill="{_WAIT}" stroke="none"/>'
                if b - a >= 9 else ""
            )
            self.out.append(
                f'<g stroke="{_WAIT}" fill="none" stroke-width="1.3">{title}'
                f'<path d="M{_n(a)},{_n(y - 4)}v8M{_n(a)},{_n(y)}H{_n(b - (3 if head else 0))}"'
                f"{dash}/>{head}"
            )
            if label is not None:
                self.out.append(
                    f'<text x="{_n(label.x)}" y="{_n(y - 5)}" text-anchor="middle" '
                    f'font-size="{_SMALL}" fill="{_WAIT}" stroke="none">{label.text}</text>'
                )
            self.out.append("</g>")
        for w in self.waits:
            if w.status == "pending":
                x = self.x(w.stop)
                self.out.append(
                    f'<circle cx="{_n(x)}" cy="{_n(self.marker_y)}" r="4.5" fill="#fff" '
                    f'stroke="{_BLUE}" stroke-width="1.3" stroke-dasharray="2,2">'
                    f"<title>next attempt planned at t={fmt_seconds(w.stop)}s</title></circle>"
                )

    def _attempts(self, labels: list[_Label]) -> None:
        y = self.marker_y
        for a, start, x in self._attempt_marks():
            title = f"<title>{_esc(a.start.to_text())}"
            if a.end is not None and a.end is not a.start:
                title += "\n" + _esc(a.end.to_text())
            title += "</title>"
            parts = [title]
            if x - start >= 1:  # the open took time (e.g. it timed out)
                parts.append(
                    f'<path d="M{_n(start)},{_n(y)}H{_n(x)}" stroke="{_BLUE}" stroke-width="1.5"/>'
                )
            if x - start >= 1 or a.ok is None:
                parts.append(
                    f'<circle cx="{_n(start)}" cy="{_n(y)}" r="4" fill="#fff" stroke="{_BLUE}" '
                    'stroke-width="1.5"/>'
                )
            if a.ok is True:
                parts.append(
                    f'<circle cx="{_n(x)}" cy="{_n(y)}" r="5.5" fill="{_OK}"/>'
                    f'<path d="M{_n(x - 2.8)},{_n(y)}l2,2.2l3.6,-4.4" stroke="#fff" '
                    'stroke-width="1.6" fill="none"/>'
                )
            elif a.ok is False:
                d = f"M{_n(x - 4.5)},{_n(y - 4.5)}l9,9M{_n(x - 4.5)},{_n(y + 4.5)}l9,-9"
                parts.append(
                    f'<path d="{d}" stroke="{_BAD}" stroke-width="2.4" stroke-linecap="round"/>'
                )
            self.out.append("<g>" + "".join(parts) + "</g>")
        for label in labels:
            color = _OK_TEXT if "\N{CHECK MARK}" in label.text else (
                _BAD_TEXT if "\N{BALLOT X}" in label.text else _BLUE
            )
            self.out.append(
                f'<text x="{_n(label.x)}" y="{_n(self.attempt_label_y + _ROW * label.row)}" '
                f'text-anchor="middle" fill="{color}">{_esc(label.text)}</text>'
            )

    def _heartbeat(self) -> None:
        if self.heart_top is None:
            return
        mid = self.heart_top + 14
        if self.pings:  # ping: a filled triangle pointing up, above the line
            d = "".join(f"M{_n(self.x(e.t) - 4.5)},{_n(mid - 1)}l4.5,-9l4.5,9z" for e in self.pings)
            self.out.append(
                f'<path d="{d}" fill="{_BLUE}"><title>{_count(len(self.pings), "ping")} '
                f"(triangles up)</title></path>"
            )
        if self.pongs:  # pong: a ring below the line
            rings = "".join(
                f'<circle cx="{_n(self.x(e.t))}" cy="{_n(mid + 6)}" r="4"/>' for e in self.pongs
            )
            self.out.append(
                f'<g fill="#fff" stroke="{_OK}" stroke-width="2"><title>'
                f'{_count(len(self.pongs), "pong")} (rings below)</title>{rings}</g>'
            )
        for ping, e in self.timeouts:
            x = self.x(e.t)
            parts = [f"<title>{_esc(e.to_text())}</title>"]
            if ping is not None and x - self.x(ping) >= 6:
                parts.append(
                    f'<path d="M{_n(self.x(ping))},{_n(mid)}H{_n(x - 4)}" stroke="{_BAD}" '
                    'stroke-dasharray="2,2"/>'
                )
            parts.append(
                f'<path d="M{_n(x - 4)},{_n(mid - 4)}l8,8M{_n(x - 4)},{_n(mid + 4)}l8,-8" '
                f'stroke="{_BAD}" stroke-width="2.2" stroke-linecap="round"/>'
            )
            self.out.append("<g>" + "".join(parts) + "</g>")

    def _events(self, labels: list[_Label | None]) -> None:
        if self.event_top is None:
            return
        y = self.event_top + 7
        for e, label in zip(self.events, labels, strict=True):
            x = self.x(e.t)
            color = {"note": _NOTE, "error": _ERROR, "info": _MUTED}.get(e.kind, _INK)
            if e.kind == "note":
                mark = f'<path d="M{_n(x - 4.5)},{_n(y - 4)}h9l-4.5,7z" fill="{color}"/>'
            elif e.kind == "error":
                mark = f'<path d="M{_n(x)},{_n(y - 5)}l5,5l-5,5l-5,-5z" fill="{color}"/>'
            elif e.kind == "info":
                mark = f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3" fill="{color}"/>'
            else:
                mark = (
                    f'<rect x="{_n(x - 1.5)}" y="{_n(y - 5)}" width="3" height="10" '
                    f'fill="{color}"/>'
                )
            parts = [f"<title>{_esc(e.to_text())}</title>", mark]
            if label is not None:
                base = self.event_top + 22 + _ROW * label.row
                if label.row:
                    parts.append(
                        f'<path d="M{_n(x)},{_n(y + 5)}V{_n(base - 3)}" stroke="{color}" '
                        'stroke-opacity="0.5"/>'
                    )
                anchor = "" if label.anchor == "start" else ' text-anchor="end"'
                parts.append(
                    f'<text x="{_n(label.x)}" y="{_n(base)}"{anchor} fill="{color}">'
                    f"{_esc(label.text)}</text>"
                )
            self.out.append("<g>" + "".join(parts) + "</g>")

    def _axis(self) -> None:
        y = self.axis_y
        ticks = self._ticks()
        d = f"M{_n(self.x0)},{_n(y)}H{_n(self.x1)}" + "".join(
            f"M{_n(self.x(t))},{_n(y)}v4" for t in ticks
        )
        self.out.append(f'<path d="{d}" stroke="{_INK}"/>')
        self.out.append(
            f'<g font-size="{_SMALL}" fill="{_INK}">'
            f'<text x="{_n(self.x0 - 12)}" y="{_n(y + 14)}" text-anchor="end" fill="{_MUTED}" '
            f'font-size="{_FONT}">time</text>'
        )
        if self.ordinal:
            at = fmt_seconds(self.real[0].t)
            self.out.append(
                f'<text x="{_n(self.x0)}" y="{_n(y + 14)}">all {len(self.real)} entries at '
                f"t={at}s, drawn one step apart in their order (no time passed)</text></g>"
            )
            return
        for t in ticks:
            text = _secs(t)
            x = min(self.x(t), self.width - 2 - len(text) * _SCW / 2)
            self.out.append(
                f'<text x="{_n(x)}" y="{_n(y + 14)}" text-anchor="middle">{text}</text>'
            )
        self.out.append("</g>")

    def _footnotes(self) -> None:
        if not self.footnote_lines:
            return
        parts = [f'<g font-size="{_SMALL}" fill="{_NOTE}">']
        for i, (number, line) in enumerate(self.footnote_lines):
            y = self.footnote_y + 13 * i
            if number:
                parts.append(f'<text x="{_n(self.x0 - 6)}" y="{_n(y)}" text-anchor="end">'
                             f"{number}</text>")
            parts.append(f'<text x="{_n(self.x0)}" y="{_n(y)}" fill="{_INK}">{_esc(line)}</text>')
        parts.append("</g>")
        self.out.append("".join(parts))

    # -- legends ------------------------------------------------------------------------

    def _legend(
        self, items: list[tuple[str, str]], x0: float
    ) -> list[list[tuple[float, str, str]]]:
        """Flow ``(symbol, text)`` items into rows that fit the width."""
        rows: list[list[tuple[float, str, str]]] = [[]]
        x = x0
        for symbol, text in items:
            width = 16 + len(text) * _SCW
            if rows[-1] and x + width > self.width - 4:
                rows.append([])
                x = x0
            rows[-1].append((x, symbol, text))
            x += width + 14
        return rows

    def _draw_legend(self, rows: list[list[tuple[float, str, str]]], baseline: float) -> None:
        parts = [f'<g font-size="{_SMALL}" fill="{_INK}">']
        for i, row in enumerate(rows):
            y = baseline + 14 * i
            for x, symbol, text in row:
                c = y - 3.5  # the symbol's vertical centre
                if symbol.startswith("swatch:"):
                    fill = _STATE_STYLE[symbol[7:]][0]
                    parts.append(
                        f'<rect x="{_n(x)}" y="{_n(c - 5)}" width="11" height="10" fill="{fill}" '
                        'stroke="#888" stroke-width="0.5"/>'
                    )
                elif symbol == "start":
                    parts.append(
                        f'<circle cx="{_n(x + 5)}" cy="{_n(c)}" r="3.5" fill="#fff" '
                        f'stroke="{_BLUE}" stroke-width="1.4"/>'
                    )
                elif symbol == "ok":
                    parts.append(f'<circle cx="{_n(x + 5)}" cy="{_n(c)}" r="4.5" fill="{_OK}"/>')
                elif symbol in ("bad", "timeout"):
                    parts.append(
                        f'<path d="M{_n(x + 1.5)},{_n(c - 3.5)}l7,7M{_n(x + 1.5)},{_n(c + 3.5)}'
                        f'l7,-7" stroke="{_BAD}" stroke-width="2" stroke-linecap="round"/>'
                    )
                elif symbol == "wait":
                    parts.append(
                        f'<path d="M{_n(x)},{_n(c - 3)}v6M{_n(x)},{_n(c)}h7" stroke="{_WAIT}"/>'
                        f'<path d="M{_n(x + 11)},{_n(c)}l-5,-3v6z" fill="{_WAIT}"/>'
                    )
                elif symbol == "ping":
                    parts.append(
                        f'<path d="M{_n(x + 0.5)},{_n(c + 4)}l4.5,-9l4.5,9z" fill="{_BLUE}"/>'
                    )
                elif symbol == "pong":
                    parts.append(
                        f'<circle cx="{_n(x + 5)}" cy="{_n(c)}" r="4" fill="#fff" '
                        f'stroke="{_OK}" stroke-width="2"/>'
                    )
                parts.append(f'<text x="{_n(x + 15)}" y="{_n(y)}">{_esc(text)}</text>')
        parts.append("</g>")
        self.out.append("".join(parts))


def _count(n: int, noun: str) -> str:
    """``1 ping``, ``2 pings``: the SVG's spoken summary should read like a sentence."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def render(entries: Sequence[Entry], width: int = 720) -> str:
    """The SVG of ``entries`` (deterministic: same entries -> byte-identical SVG)."""
    return _Svg(entries, width).render()


def summary(entries: Sequence[Entry]) -> str:
    """The drawing in one sentence: its SVG title and the ``alt`` of its ``<img>``."""
    return _Svg(entries, 720)._summary()
