"""A record of what a client did, in logical time, rendered as stable text or SVG.

Why *logical* time: a timeline printed from wall-clock readings would differ on every
run (and between a laptop and a busy CI box), so a notebook could never store it and
a test could never compare it. Every entry carries the machine's logical time ``t``
instead -- the *planned* time of the last timer that fired -- plus attempt numbers
and planned delays. The same story therefore prints the same text under the real,
the sped-up and the virtual clock, and against the real server or the simulation.

One consequence to keep in mind when reading a timeline: ``t`` moves only when a
timer fires. Something that happens between two timers (the server stops, a message
arrives) is stamped with the time of the last timer: read ``t=30.0s`` as "after the
ping at 30 s, before the next timer".

The text form is one line per entry, e.g.::

    t=    3.0s  reconnecting  attempt 2/5 failed (connection refused); attempt 3/5 in 4.0s

The SVG form draws lanes over one time axis: the state bands; the attempts (✓ opened,
✗ failed) with the planned backoff wait that led to each (``+2s``); the heartbeat's
pings and pongs; and events such as "server stopped". Both are byte-identical for
identical entries: no ids, ports or wall times ever go in, and no fonts or CSS are
fetched.

No IO here; listeners are plain callbacks run synchronously by ``append``.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, overload

from .listeners import Listeners

#: Entry kinds, and what they mean. The SVG and the widgets key on these.
KINDS: dict[str, str] = {
    "connect": "a connection was requested (connect() or reconnect())",
    "attempt": "a reconnect attempt starts (the backoff wait is over)",
    "connected": "the socket opened",
    "failed": "an open attempt failed (refused, HTTP 503, timed out)",
    "lost": "an open connection closed or was found dead",
    "gave-up": "the last attempt failed: disconnected",
    "ping": "a heartbeat ping was sent",
    "pong": "a heartbeat pong arrived",
    "closed": "closed on purpose by the client",
    "note": "an annotation, e.g. a fault injected by the notebook",
    "error": "a handler raised, a frame was malformed, a listener failed",
    "info": "anything else worth a line (resubscribe, cache invalidation)",
}

def fmt_seconds(value: float) -> str:
    """``1.0``, ``2.5``, ``0.734``: one decimal unless the value needs more (jitter)."""
    if abs(value * 10 - round(value * 10)) < 1e-9:
        return f"{value:.1f}"
    return f"{value:.3f}".rstrip("0")


@dataclass(frozen=True)
class Entry:
    """One line of a timeline.

    ``t`` is logical seconds; ``state`` the client state *after* this entry;
    ``attempt`` the attempt it is about (0 = the connect you asked for, 1.. = retries);
    ``delay`` the planned wait that this entry scheduled, if any.
    """

    t: float
    kind: str
    text: str
    state: str | None = None
    attempt: int | None = None
    delay: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"unknown timeline entry kind {self.kind!r}; expected one of {list(KINDS)}"
            )

    def to_text(self) -> str:
        """``t=    3.0s  reconnecting  attempt 2/5 failed ...`` (stable, aligned)."""
        state = str(self.state) if self.state is not None else ""
        return f"t={fmt_seconds(self.t):>7}s  {state:<12}  {self.text}".rstrip()

    def __str__(self) -> str:
        return self.to_text()


class Timeline:
    """An append-only list of ``Entry`` with stable text and SVG renderings.

    ``repr()`` is the text itself, so a notebook cell ending in ``client.timeline``
    stores plain, comparable output; Jupyter shows the SVG drawing *and* the text
    through ``_repr_html_`` (``svg=False`` turns the drawing off, e.g. for the one- or
    two-line results of ``client.step()``).
    """

    def __init__(self, entries: Iterable[Entry] = (), *, svg: bool = True) -> None:
        self._entries: list[Entry] = list(entries)
        self._listeners: Listeners[Callable[[Entry], Any]] = Listeners("fn(entry)")
        self._reporting = False
        self.svg_in_html = svg

    # -- list-like -----------------------------------------------------------------

    def append(self, entry: Entry) -> Entry:
        """Add ``entry`` and tell the listeners (synchronously, in registration order).

        A listener that raises never breaks the caller (the state machine appends from
        inside its transition function): the error becomes an ``error`` entry of its
        own, and the other listeners still get every entry.
        """
        if not isinstance(entry, Entry):
            raise TypeError(f"Timeline.append() takes an Entry, got {type(entry).__name__}")
        self._entries.append(entry)
        for listener in list(self._listeners):
            try:
                listener(entry)
            except Exception as exc:
                if self._reporting:  # the error entry itself failed: do not loop
                    continue
                self._reporting = True
                try:
                    name = getattr(listener, "__name__", type(listener).__name__)
                    self.append(
                        Entry(entry.t, "error", f"timeline listener {name} raised "
                              f"{type(exc).__name__}: {exc}", state=entry.state)
                    )
                finally:
                    self._reporting = False
        return entry

    def note(self, text: str, t: float | None = None, state: str | None = None) -> Entry:
        """Annotate the timeline ("server stopped"); ``t`` defaults to the last entry's."""
        if t is None:
            t = self._entries[-1].t if self._entries else 0.0
        if state is None and self._entries:
            state = self._entries[-1].state
        return self.append(Entry(t, "note", text, state=state))

    def add_listener(self, fn: Callable[[Entry], Any]) -> Callable[[], None]:
        """Call ``fn(entry)`` for every new entry; returns a function that removes it.

        The same style as ``Client`` and ``Server`` (``wslearn.listeners``).
        """
        return self._listeners.add(fn)

    def remove_listener(self, fn: Callable[[Entry], Any]) -> None:
        """Stop calling ``fn`` (harmless if it is not registered)."""
        self._listeners.discard(fn)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries))

    @overload
    def __getitem__(self, index: int) -> Entry: ...
    @overload
    def __getitem__(self, index: slice) -> Timeline: ...

    def __getitem__(self, index: int | slice) -> Entry | Timeline:
        if isinstance(index, slice):
            return Timeline(self._entries[index], svg=self.svg_in_html)
        return self._entries[index]

    def since(self, start: int) -> Timeline:
        """The entries from index ``start`` on, as a text-only timeline."""
        return Timeline(self._entries[start:], svg=False)

    def kinds(self) -> list[str]:
        return [e.kind for e in self._entries]

    def where(self, kind: str) -> list[Entry]:
        """The entries of one kind (e.g. ``"attempt"``)."""
        return [e for e in self._entries if e.kind == kind]

    # -- rendering -----------------------------------------------------------------

    def to_text(self) -> str:
        """One line per entry; the empty timeline is ``(no entries)``."""
        if not self._entries:
            return "(no entries)"
        return "\n".join(e.to_text() for e in self._entries)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        text = f"<pre>{html.escape(self.to_text())}</pre>"
        if not self.svg_in_html or not self._entries:
            return text
        return self.to_svg() + text

    def to_svg(self, width: int = 720) -> str:
        """A deterministic SVG drawing (same entries -> byte-identical SVG)."""
        return _Svg(self._entries, width).render()


# -- the SVG drawing ---------------------------------------------------------------------
#
# Lanes, top to bottom: state bands, attempts (with the backoff waits that led to them),
# heartbeat, events (notes, errors, losses), then the time axis and a key. Colours are
# the Okabe-Ito palette, safe for the common colour-vision deficiencies, and nothing is
# told by colour alone: bands carry their state's name (or a legend swatch and a
# tooltip), attempts a shape and a ✓/✗ label, events a shape and their text.
#
# Text is never measured (no fonts in a pure function): a monospace advance of 0.6 em
# is assumed, a little generously, so labels are packed by estimated width.

#: state -> (band fill, colour of the state's name written on the band)
_STATE_STYLE: dict[str, tuple[str, str]] = {
    "connecting": ("#F0E442", "#222"),
    "connected": ("#009E73", "#fff"),
    "reconnecting": ("#E69F00", "#222"),
    "disconnected": ("#C8C8C8", "#222"),
    "closed": ("#555555", "#fff"),
}
_INK = "#222"
_MUTED = "#666"
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
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _esc(text: str) -> str:
    """Text or attribute content: escaped, minus the characters XML 1.0 cannot carry."""
    return html.escape(_XML_INVALID.sub("\N{REPLACEMENT CHARACTER}", text), quote=True)


def _n(value: float) -> str:
    """A coordinate: one decimal, never ``-0.0``."""
    return f"{round(value, 1) + 0.0:.1f}"


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
    """``text`` in at most ``chars`` characters, an ellipsis marking a cut."""
    if len(text) <= chars:
        return text
    return text[: max(chars - 1, 0)].rstrip() + "\N{HORIZONTAL ELLIPSIS}"


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

    def __init__(self, entries: list[Entry], width: int) -> None:
        if width < 200:
            raise ValueError(f"SVG width must be >= 200 px, got {width}")
        self.entries = list(entries)
        self.width = width
        self.x0 = float(self.LEFT)
        self.x1 = float(width - self.RIGHT)
        self._analyse()
        self.last = max((e.t for e in self.entries), default=0.0)
        self.end = max([self.last] + [w.stop for w in self.waits if w.status == "pending"])
        self.span = self.end if self.end > 0 else 1.0
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
        rows = _Rows(5, gap=8.0)
        labels: list[_Label | None] = []
        right, left = self.width - 3.0, self.x0 - 6
        for e in self.events:
            x = self.x(e.t)
            text = _clip(_event_label(e), _LABEL_CHARS)
            width = len(text) * _CW
            placed: _Label | None = None
            best: tuple[int, int, str] | None = None  # (chars, row, anchor)
            for row in range(rows.limit):
                if x + 5 + width <= right and rows.fits(row, x + 1, x + 5 + width):
                    placed = _Label(x + 5, "start", row, text)
                elif x - 5 - width >= left and rows.fits(row, x - 5 - width, x - 1):
                    placed = _Label(x - 5, "end", row, text)
                if placed is not None:
                    break
                for anchor, bound in (("start", right), ("end", left)):
                    chars = int((rows.room(row, x, bound) - 5) // _CW)
                    if best is None or chars > best[0]:
                        best = (chars, row, anchor)
            if placed is None and best is not None and best[0] >= 8:
                chars, row, anchor = best
                placed = _Label(x + 5 if anchor == "start" else x - 5, anchor, row,
                                _clip(text, chars))
            if placed is not None:
                w = len(placed.text) * _CW
                lo = placed.x if placed.anchor == "start" else placed.x - w
                rows.take(placed.row, min(lo, x - 1), max(lo + w, x + 1))
            labels.append(placed)
        self.event_rows = max(rows.used, 1)
        return labels

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
        self.key_y = self.axis_y + 32
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
            f"Connection timeline from t=0.0s to t={fmt_seconds(self.last)}s",
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
            if stop > self.last and self.end > self.last:  # planned, not happened: faded
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
        if self.pings:
            d = "".join(f"M{_n(self.x(e.t))},{_n(mid - 1)}v-8" for e in self.pings)
            self.out.append(
                f'<path d="{d}" stroke="{_BLUE}" stroke-width="1.5"><title>{len(self.pings)} '
                f"pings (ticks up)</title></path>"
            )
        if self.pongs:
            d = "".join(f"M{_n(self.x(e.t))},{_n(mid + 1)}v8" for e in self.pongs)
            self.out.append(
                f'<path d="{d}" stroke="{_OK}" stroke-width="1.5"><title>{len(self.pongs)} '
                f"pongs (ticks down)</title></path>"
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
        for t in ticks:
            text = _secs(t)
            x = min(self.x(t), self.width - 2 - len(text) * _SCW / 2)
            self.out.append(
                f'<text x="{_n(x)}" y="{_n(y + 14)}" text-anchor="middle">{text}</text>'
            )
        self.out.append("</g>")

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
                        f'<path d="M{_n(x + 5)},{_n(c + 1)}v-7" stroke="{_BLUE}" '
                        'stroke-width="1.5"/>'
                    )
                elif symbol == "pong":
                    parts.append(
                        f'<path d="M{_n(x + 5)},{_n(c - 4)}v7" stroke="{_OK}" stroke-width="1.5"/>'
                    )
                parts.append(f'<text x="{_n(x + 15)}" y="{_n(y)}">{_esc(text)}</text>')
        parts.append("</g>")
        self.out.append("".join(parts))


def _count(n: int, noun: str) -> str:
    """``1 ping``, ``2 pings``: the SVG's spoken summary should read like a sentence."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
