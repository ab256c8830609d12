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

The SVG form draws state bands on a time axis, attempts (failed / succeeded), the
planned backoff waits, pings and pongs, and notes such as "server stopped". Both are
byte-identical for identical entries: no ids, ports or wall times ever go in.

No IO here; listeners are plain callbacks run synchronously by ``append``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, overload

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

_STATE_COLORS = {
    "connecting": "#f2c94c",
    "connected": "#6fcf97",
    "reconnecting": "#f2994a",
    "disconnected": "#bdbdbd",
    "closed": "#828282",
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
        self._listeners: list[Callable[[Entry], Any]] = []
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
        """Call ``fn(entry)`` for every new entry; returns a function that removes it."""
        if not callable(fn):
            raise TypeError(f"add_listener() takes a function, got {type(fn).__name__}")
        self._listeners.append(fn)

        def remove() -> None:
            if fn in self._listeners:
                self._listeners.remove(fn)

        return remove

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


class _Svg:
    """Draws a timeline. Layout is computed from entries only (no fonts measured)."""

    LEFT = 16
    RIGHT = 16
    BAND_Y = 26
    BAND_H = 18
    MARK_Y = 62
    NOTE_Y = 94

    def __init__(self, entries: list[Entry], width: int) -> None:
        if width < 200:
            raise ValueError(f"SVG width must be >= 200 px, got {width}")
        self.entries = entries
        self.width = width
        self.end = max([e.t for e in entries] + [0.0])
        span = self.end if self.end > 0 else 1.0
        self.scale = (width - self.LEFT - self.RIGHT) / span
        self.notes = [e for e in entries if e.kind in ("note", "error")]
        self.height = self.NOTE_Y + 14 * max(1, len(self.notes)) + 10
        self.parts: list[str] = []

    def x(self, t: float) -> str:
        return f"{self.LEFT + t * self.scale:.1f}"

    def render(self) -> str:
        p = self.parts
        p.append(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" '
            'font-family="monospace" font-size="10">'
        )
        p.append(f'<rect width="{self.width}" height="{self.height}" fill="#ffffff"/>')
        self._bands()
        self._axis()
        self._marks()
        self._notes()
        p.append("</svg>")
        return "".join(p)

    def _bands(self) -> None:
        # A band per stretch of time spent in one state (the state after each entry).
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
            spans.append((current[0], self.end, current[1]))
        for start, stop, state in spans:
            w = max((stop - start) * self.scale, 1.0)
            color = _STATE_COLORS.get(state, "#e0e0e0")
            self.parts.append(
                f'<rect x="{self.x(start)}" y="{self.BAND_Y}" width="{w:.1f}" '
                f'height="{self.BAND_H}" fill="{color}"><title>{html.escape(state)} '
                f"from t={fmt_seconds(start)}s</title></rect>"
            )
        legend_x = self.LEFT
        for state, color in _STATE_COLORS.items():
            self.parts.append(
                f'<rect x="{legend_x}" y="6" width="10" height="10" fill="{color}"/>'
                f'<text x="{legend_x + 13}" y="15">{state}</text>'
            )
            legend_x += 13 + 7 * len(state) + 12

    def _axis(self) -> None:
        y = self.BAND_Y + self.BAND_H + 4
        self.parts.append(
            f'<line x1="{self.x(0)}" y1="{y}" x2="{self.x(self.end)}" y2="{y}" stroke="#333"/>'
        )
        marked = ("attempt", "lost", "gave-up", "connected")
        ticks = sorted({0.0, self.end} | {e.t for e in self.entries if e.kind in marked})
        last_x = -100.0
        for t in ticks:
            x = self.LEFT + t * self.scale
            self.parts.append(
                f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#333"/>'
            )
            if x - last_x >= 34:  # skip labels that would overlap
                self.parts.append(
                    f'<text x="{x:.1f}" y="{y + 14}" text-anchor="middle">{fmt_seconds(t)}s</text>'
                )
                last_x = x
        self.axis_y = y

    def _marks(self) -> None:
        y = self.MARK_Y + 12
        for e in self.entries:
            x = self.x(e.t)
            title = f"<title>{html.escape(e.to_text())}</title>"
            if e.delay is not None and e.delay > 0:  # the planned backoff wait
                w = e.delay * self.scale
                self.parts.append(
                    f'<rect x="{x}" y="{y - 3}" width="{w:.1f}" height="6" fill="none" '
                    f'stroke="#f2994a" stroke-dasharray="3,2">{title}</rect>'
                )
            if e.kind in ("failed", "gave-up"):
                x0, x1 = f"{float(x) - 4:.1f}", f"{float(x) + 4:.1f}"
                self.parts.append(
                    f'<g stroke="#eb5757" stroke-width="2">{title}'
                    f'<line x1="{x0}" y1="{y - 4}" x2="{x1}" y2="{y + 4}"/>'
                    f'<line x1="{x0}" y1="{y + 4}" x2="{x1}" y2="{y - 4}"/></g>'
                )
            elif e.kind == "connected":
                self.parts.append(
                    f'<circle cx="{x}" cy="{y}" r="4" fill="#27ae60">{title}</circle>'
                )
            elif e.kind in ("attempt", "connect"):
                self.parts.append(
                    f'<circle cx="{x}" cy="{y}" r="4" fill="none" stroke="#2f80ed" '
                    f'stroke-width="1.5">{title}</circle>'
                )
            elif e.kind == "ping":
                self.parts.append(
                    f'<line x1="{x}" y1="{y - 12}" x2="{x}" y2="{y - 6}" stroke="#2f80ed">'
                    f"{title}</line>"
                )
            elif e.kind == "pong":
                self.parts.append(
                    f'<line x1="{x}" y1="{y + 6}" x2="{x}" y2="{y + 12}" stroke="#27ae60">'
                    f"{title}</line>"
                )
            elif e.kind in ("lost", "closed"):
                self.parts.append(
                    f'<rect x="{float(x) - 3:.1f}" y="{y - 3}" width="6" height="6" '
                    f'fill="#333">{title}</rect>'
                )
            if e.kind == "attempt" and e.attempt:
                self.parts.append(
                    f'<text x="{x}" y="{y - 8}" text-anchor="middle">#{e.attempt}</text>'
                )

    def _notes(self) -> None:
        for i, e in enumerate(self.notes):
            x = self.x(e.t)
            y = self.NOTE_Y + 14 * i
            color = "#eb5757" if e.kind == "error" else "#9b51e0"
            self.parts.append(
                f'<line x1="{x}" y1="{self.BAND_Y}" x2="{x}" y2="{y - 4}" stroke="{color}" '
                'stroke-dasharray="2,2"/>'
                f'<text x="{x}" y="{y + 6}" fill="{color}">{html.escape(_short(e.text))}</text>'
            )


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
