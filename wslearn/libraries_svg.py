"""Chapter 11's picture and table: every library's retries on one outage, one row each.

A row is a time axis from the moment the connection was lost: a short red tick per
refused retry, a green dot where it reconnects, a cross where it gives up, and a dashed
line where it sits offline for good. The outage is shaded across all rows, so "who comes
back how long after the server did" reads straight down the picture.

Text is never measured (no fonts in a pure function): like ``timeline_svg`` it assumes a
monospace advance of 0.6 em, a little generously, and sizes the label column and places
each outcome label from that, so no label is cut; notes that would not fit beside a row go
under the axis, wrapped at word boundaries. Same outage and seed, same bytes: no ids,
ports or wall-clock times. Shown as an ``<img>`` (``wslearn.svg``: drawn even in an
untrusted notebook), followed by the table as plain HTML.
"""

from __future__ import annotations

import math
import random
import textwrap
from dataclasses import dataclass

from .libraries import (
    COURSE,
    LIBRARIES,
    OutageSchedule,
    ReconnectingWebSocketProfile,
    Row,
    _check_outage,
    _check_seed,
    _row,
    outage_schedule,
)
from .svg import INK, MUTED, STATES, Picture, coord, esc, img_html

__all__ = ["LibraryComparison", "show_libraries"]

_W = 780  # px: the picture's width
_FONT, _CW = 11, 6.7  # px: names and outcome labels; assumed advance of one character
_SMALL, _SCW = 10, 6.1  # px: variants, axis, key and notes
_ROW = 38  # px per library
_TOP = 46  # px: title and the outage label above the rows
_BAD = "#D55E00"
_OK = "#009E73"
_OK_TEXT = "#00704F"
_DOWN = STATES["disconnected"].tint
_HALO = 'paint-order="stroke" stroke="#fff" stroke-width="3" stroke-linejoin="round"'


def _s(t: float) -> str:
    """Seconds for a label: ``31``, ``67.087``."""
    return f"{t:.3f}".rstrip("0").rstrip(".")


def _nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= ``raw`` (axis ticks)."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)


def _outcome(s: OutageSchedule) -> str:
    refused = len(s.failed)
    if s.reconnected_at is not None:
        late = s.reconnected_at - s.outage
        return f"{refused} refused, back at {_s(s.reconnected_at)} s (+{_s(late)} s)"
    if not s.attempts:
        return "never retries: offline for good"
    assert s.gave_up_at is not None
    return f"{refused} refused, gives up at {_s(s.gave_up_at)} s"


@dataclass(frozen=True)
class LibraryComparison(Picture):
    """The side-by-side of chapter 11 (``show_libraries()``): picture, table and text."""

    outage: float
    seed: int
    schedules: tuple[OutageSchedule, ...]

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(_row(s) for s in self.schedules)

    # -- words -----------------------------------------------------------------------

    def notes(self) -> list[str]:
        """What the picture cannot say by itself (under its axis and in the text form)."""
        out = []
        for s in self.schedules:
            p = s.profile
            if isinstance(p, ReconnectingWebSocketProfile) and p.min_delay is None:
                page = p.for_page(random.Random(self.seed))
                assert isinstance(page, ReconnectingWebSocketProfile)
                out.append(
                    f"{p.label}: minReconnectionDelay is drawn once per page load "
                    f"(1000 + Math.random() * 4000 ms; {_s(page.min_delay or 0)} s with seed "
                    f"{self.seed}), then grows by {p.grow_factor:g} per retry."
                )
        out.append(
            "Connection timeouts never fire here: a refused connect fails at once. They "
            "matter for a server that accepts TCP and never answers (chapter 11)."
        )
        return out

    def alt(self) -> str:
        parts = [f"{s.profile.label}: {_outcome(s)}" for s in self.schedules]
        return f"One {_s(self.outage)} s outage, seed {self.seed}. " + "; ".join(parts) + "."

    def to_text(self) -> str:
        rows = self.rows
        head = ("library", "refused", "first", "last refused", "back at", "gives up")
        cells = [
            (r.library, str(r.retries_during_outage), _cell(r.first_retry),
             _cell(r.last_failed_retry), _cell(r.reconnected_at), r.gives_up)
            for r in rows
        ]
        widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]
        lines = [
            f"One {_s(self.outage)} s outage: the server is down from t=0 (connection lost) "
            f"to t={_s(self.outage)} s; seed {self.seed}",
            "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
        ]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in cells]
        lines.append("")
        lines.append("jitter / minUptime / connect timeout (version):")
        lines += [f"  {r.library}: {r.jitter} / {r.min_uptime} / {r.connect_timeout} "
                  f"({r.version})" for r in rows]
        lines.append("")
        lines.append("to retry like the course's client, set:")
        lines += [f"  {r.library}: {r.to_match}" for r in rows[1:]]
        lines.append("")
        lines += [f"note: {n}" for n in self.notes()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        head = ("library", "version", "refused during outage", "first retry",
                "last refused", "back at", "jitter", "gives up", "minUptime",
                "connect timeout", "to match the course's client")
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in (
                r.library, r.version, r.retries_during_outage, _cell(r.first_retry),
                _cell(r.last_failed_retry), _cell(r.reconnected_at), r.jitter, r.gives_up,
                r.min_uptime, r.connect_timeout, r.to_match)) + "</tr>"
            for r in self.rows
        )
        table = (
            '<table class="wslearn-libraries"><thead><tr>'
            + "".join(f"<th>{esc(h)}</th>" for h in head)
            + f"</tr></thead><tbody>{body}</tbody></table>"
        )
        notes = "".join(f"<p>{esc(n)}</p>" for n in self.notes())
        return img_html(self.to_svg(), self.alt()) + table + notes

    # -- the picture -----------------------------------------------------------------

    def to_svg(self) -> str:
        return _Drawing(self).render()


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{_s(value)} s"


class _Drawing:
    """One render of a comparison: layout first, then the SVG parts in drawing order."""

    def __init__(self, comparison: LibraryComparison) -> None:
        self.c = comparison
        self.schedules = comparison.schedules
        names = [f"{s.profile.name} {s.profile.version}" for s in self.schedules]
        variants = [s.profile.variant for s in self.schedules]
        self.x0 = 12 + max(
            max(len(n) for n in names) * _CW, max(len(v) for v in variants) * _SCW
        ) + 14
        self.x1 = _W - 16
        last = max([comparison.outage, *(t for s in self.schedules for t in s.attempts)])
        self.step = _nice_step(max(last, 1.0) / 8)
        self.end = self.step * math.ceil(max(last, 1.0) * 1.04 / self.step)
        self.out: list[str] = []

    def x(self, t: float) -> float:
        return self.x0 + (self.x1 - self.x0) * t / self.end

    def render(self) -> str:
        rows_h = _ROW * len(self.schedules)
        axis_y = _TOP + rows_h + 4
        chars = int((_W - 24) / _SCW)
        notes = [line for n in self.c.notes() for line in textwrap.wrap(n, chars)]
        key_y = axis_y + 40
        notes_y = key_y + 20
        height = notes_y + 13 * len(notes) + 6
        title = (f"One {_s(self.c.outage)} s outage: when each client retries "
                 f"(connection lost at 0 s, server back at {_s(self.c.outage)} s)")
        self.out += [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{height}" '
            f'viewBox="0 0 {_W} {height}" role="img" aria-label="{esc(self.c.alt())}" '
            f'font-family="monospace" font-size="{_FONT}" fill="{INK}">',
            f'<rect width="{_W}" height="{height}" fill="#fff"/>',
            f'<text x="12" y="18" font-weight="bold">{esc(title)}</text>',
        ]
        self._outage(axis_y)
        for i, s in enumerate(self.schedules):
            self._row(s, _TOP + i * _ROW)
        self._axis(axis_y)
        self._key(key_y)
        for i, line in enumerate(notes):
            self.out.append(f'<text x="12" y="{notes_y + 13 * i}" font-size="{_SMALL}" '
                            f'fill="{MUTED}">{esc(line)}</text>')
        self.out.append("</svg>")
        return "".join(self.out)

    def _outage(self, axis_y: float) -> None:
        xa, xb = self.x(0), self.x(self.c.outage)
        self.out += [
            f'<rect x="{coord(xa)}" y="{_TOP - 8}" width="{coord(xb - xa)}" '
            f'height="{axis_y - _TOP + 8}" fill="{_DOWN}"/>',
            f'<path d="M{coord(xb)},{_TOP - 8}V{coord(axis_y)}" stroke="{_OK}" '
            'stroke-dasharray="3 3"/>',
            f'<text x="{coord(xa + 4)}" y="{_TOP - 12}" font-size="{_SMALL}" fill="{MUTED}">'
            f"server down (connection refused)</text>",
        ]
        back = f"server back at {_s(self.c.outage)} s"
        if xb + 4 + len(back) * _SCW <= _W - 4:
            self.out.append(f'<text x="{coord(xb + 4)}" y="{_TOP - 12}" font-size="{_SMALL}" '
                            f'fill="{_OK_TEXT}">{esc(back)}</text>')

    def _row(self, s: OutageSchedule, top: float) -> None:
        p = s.profile
        mid = top + _ROW / 2
        self.out += [
            f'<text x="12" y="{coord(top + 15)}" font-weight="bold">'
            f'{esc(p.name)} <tspan font-weight="normal" fill="{MUTED}">{esc(p.version)}'
            "</tspan></text>",
            f'<text x="12" y="{coord(top + 28)}" font-size="{_SMALL}" fill="{MUTED}">'
            f"{esc(p.variant)}</text>",
            f'<path d="M{coord(self.x0)},{coord(mid)}H{coord(self.x1)}" stroke="#ddd"/>',
        ]
        if s.failed:
            ticks = "".join(f"M{coord(self.x(t))},{coord(mid - 7)}v14" for t in s.failed)
            self.out.append(f'<path d="{ticks}" stroke="{_BAD}" stroke-width="2"/>')
        if s.reconnected_at is not None:
            x = self.x(s.reconnected_at)
            self.out.append(f'<circle cx="{coord(x)}" cy="{coord(mid)}" r="5" fill="{_OK}"/>')
            colour = _OK_TEXT
        else:
            x = self.x(s.gave_up_at or 0.0)
            self.out.append(
                f'<path d="M{coord(x)},{coord(mid)}H{coord(self.x1)}" stroke="{INK}" '
                'stroke-dasharray="2 4"/>'
                f'<path d="M{coord(x - 5)},{coord(mid - 5)}l10,10m0,-10l-10,10" '
                f'stroke="{INK}" stroke-width="2"/>'
            )
            colour = INK
        self._label(_outcome(s), x, mid - 9, colour)

    def _label(self, text: str, x: float, y: float, colour: str) -> None:
        """Right of ``x`` when it fits inside the picture, else left of it: never cut."""
        width = len(text) * _CW
        if x + 8 + width <= _W - 4:
            at, anchor = x + 8, "start"
        else:
            at, anchor = max(x - 8, width + 4), "end"
        self.out.append(
            f'<text x="{coord(at)}" y="{coord(y)}" text-anchor="{anchor}" fill="{colour}" '
            f"{_HALO}>{esc(text)}</text>"
        )

    def _axis(self, y: float) -> None:
        n = round(self.end / self.step)
        ticks = [self.step * i for i in range(n + 1)]
        d = f"M{coord(self.x0)},{coord(y)}H{coord(self.x1)}" + "".join(
            f"M{coord(self.x(t))},{coord(y)}v4" for t in ticks)
        self.out.append(f'<path d="{d}" stroke="{INK}"/>')
        self.out.append(f'<g font-size="{_SMALL}">')
        for t in ticks:
            self.out.append(f'<text x="{coord(self.x(t))}" y="{coord(y + 15)}" '
                            f'text-anchor="middle">{_s(t)}</text>')
        self.out.append(
            f'<text x="{coord(self.x0 - 8)}" y="{coord(y + 15)}" text-anchor="end" '
            f'fill="{MUTED}">seconds since the loss</text></g>'
        )

    def _key(self, y: float) -> None:
        x = 12.0
        parts = [f'<g font-size="{_SMALL}">']
        items = (
            ("tick", "refused retry"),
            ("dot", "reconnected"),
            ("cross", "gives up (then offline)"),
            ("shade", "server down"),
        )
        for symbol, text in items:
            c = y - 3.5
            if symbol == "tick":
                parts.append(f'<path d="M{coord(x + 5)},{coord(c - 6)}v12" stroke="{_BAD}" '
                             'stroke-width="2"/>')
            elif symbol == "dot":
                parts.append(f'<circle cx="{coord(x + 5)}" cy="{coord(c)}" r="5" fill="{_OK}"/>')
            elif symbol == "cross":
                parts.append(f'<path d="M{coord(x)},{coord(c - 5)}l10,10m0,-10l-10,10" '
                             f'stroke="{INK}" stroke-width="2"/>')
            else:
                parts.append(f'<rect x="{coord(x)}" y="{coord(c - 6)}" width="11" height="12" '
                             f'fill="{_DOWN}" stroke="#bbb" stroke-width="0.5"/>')
            parts.append(f'<text x="{coord(x + 16)}" y="{coord(y)}">{esc(text)}</text>')
            x += 16 + len(text) * _SCW + 18
        parts.append("</g>")
        self.out.append("".join(parts))


def show_libraries(outage: float = 60.0, seed: int = 0) -> LibraryComparison:
    """Chapter 11's side-by-side: the course's client, then each library, on one outage.

    ``outage`` is how long the server refuses connections (seconds, 0..3600); ``seed``
    fixes the libraries' jitter so the picture is the same on every run.
    """
    end = _check_outage(outage)
    fixed = _check_seed(seed)
    schedules = tuple(outage_schedule(p, end, fixed) for p in (COURSE, *LIBRARIES))
    return LibraryComparison(end, fixed, schedules)
