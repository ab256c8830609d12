"""Small, deterministic charts for notebooks: bar charts and histograms as SVG + text.

Why not matplotlib: it is a heavy dependency for two chart types, and its SVG output
embeds ids and metadata that change between runs -- stored outputs must be byte-for-byte
stable for nbval. These charts render the same input to the same bytes, always, and carry
a readable text version (``repr``) for terminals and for nbval's ``text/plain``.

Every chart object displays as a picture in Jupyter (``text/html`` with the SVG as an
``<img>``, drawn even in an untrusted notebook: see ``wslearn.svg``) and as text
elsewhere. Colours are paired with labels and numbers, never carrying meaning alone: bars
share one colour, except bars named after a connection state, which take that state's
colour from the one palette (``wslearn.svg.STATES``), as in the timeline and the badge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .svg import SERIES, STATES, Picture, coord, number
from .svg import esc as escape

__all__ = ["BarChart", "Histogram", "bar_chart", "histogram"]

#: Colour-blind-safe palette (Okabe-Ito), in series order (``wslearn.svg.SERIES``).
PALETTE = SERIES

_FONT = "font-family='system-ui, sans-serif'"
_num = number
_fmt = coord


def bar_colour(label: str, colours: Mapping[str, str] | None = None) -> str:
    """A bar's colour: ``colours[label]``, else its state's colour, else the one bar colour."""
    if colours and label in colours:
        return colours[label]
    state = STATES.get(label)
    return state.fill if state is not None else SERIES[0]


@dataclass(frozen=True)
class BarChart(Picture):
    """Horizontal bars, one per label: counts you want compared at a glance."""

    data: tuple[tuple[str, float], ...]
    title: str = ""
    unit: str = ""
    width: int = 520
    colours: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return self.to_text()

    def to_text(self, bar_width: int = 30) -> str:
        """Text bars, e.g. ``infinite retry  ###########  600 attempts``."""
        top = max((v for _, v in self.data), default=0) or 1
        label_w = max((len(k) for k, _ in self.data), default=0)
        lines = [self.title] if self.title else []
        for label, value in self.data:
            n = round(bar_width * value / top) if value > 0 else 0
            unit = f" {self.unit}" if self.unit else ""
            lines.append(f"{label:<{label_w}}  {'#' * n:<{bar_width}}  {_num(value)}{unit}")
        return "\n".join(lines)

    def to_svg(self) -> str:
        row_h, label_w, pad = 26, 170, 10
        top_y = 30 if self.title else 8
        height = top_y + row_h * len(self.data) + pad
        plot_w = self.width - label_w - 140  # room for the value label
        top = max((v for _, v in self.data), default=0) or 1
        parts = [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{self.width}' height='{height}' "
            f"viewBox='0 0 {self.width} {height}' role='img' aria-label='{escape(self.title)}'>",
            f"<rect width='{self.width}' height='{height}' fill='white'/>",
        ]
        if self.title:
            parts.append(f"<text x='{pad}' y='20' {_FONT} font-size='14' font-weight='bold'>"
                         f"{escape(self.title)}</text>")
        for i, (label, value) in enumerate(self.data):
            y = top_y + i * row_h
            w = plot_w * max(value, 0) / top
            w = max(w, 2.0) if value > 0 else 0.0  # a small count stays visible
            colour = bar_colour(label, dict(self.colours))
            unit = f" {self.unit}" if self.unit else ""
            parts += [
                f"<text x='{label_w - 6}' y='{y + 17}' text-anchor='end' {_FONT} "
                f"font-size='12'>{escape(label)}</text>",
                f"<rect x='{label_w}' y='{y + 4}' width='{_fmt(w)}' height='{row_h - 8}' "
                f"fill='{colour}'/>",
                f"<text x='{_fmt(label_w + w + 6)}' y='{y + 17}' {_FONT} font-size='12'>"
                f"{escape(_num(value) + unit)}</text>",
            ]
        parts.append("</svg>")
        return "".join(parts)

    def alt(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        values = "; ".join(f"{k}: {_num(v)}{unit}" for k, v in self.data)
        return f"{self.title}: {values}" if self.title else values


def bar_chart(data: Mapping[str, float] | Sequence[tuple[str, float]], *, title: str = "",
              unit: str = "", width: int = 520,
              colours: Mapping[str, str] | None = None) -> BarChart:
    """A horizontal bar chart of ``{label: value}`` (order kept).

    Bars share one colour; a bar named after a connection state (``"connected"``) takes
    the state's colour; ``colours={label: "#hex"}`` sets others on purpose.
    """
    items = tuple((str(k), float(v)) for k, v in (
        data.items() if isinstance(data, Mapping) else data))
    return BarChart(items, title=title, unit=unit, width=width,
                    colours=tuple((colours or {}).items()))


@dataclass(frozen=True)
class Histogram(Picture):
    """One or more series binned on a shared axis, drawn as small multiples (one row each).

    Small multiples rather than overlaid bars: "with jitter" and "without jitter" are
    easier to compare stacked on the same x axis than drawn through each other.
    """

    series: tuple[tuple[str, tuple[int, ...]], ...]
    start: float
    bin_width: float
    title: str = ""
    xlabel: str = ""
    width: int = 560

    @property
    def bins(self) -> int:
        return len(self.series[0][1]) if self.series else 0

    def __repr__(self) -> str:
        return self.to_text()

    def to_text(self) -> str:
        """Each series as a row of counts per bin, plus its peak: stable and greppable."""
        lines = [self.title] if self.title else []
        edges = [self.start + i * self.bin_width for i in range(self.bins)]
        lines.append(f"bins of {_num(self.bin_width)} {self.xlabel}".rstrip()
                     + f", from {_num(edges[0]) if edges else 0}")
        for name, counts in self.series:
            peak = max(counts, default=0)
            lines.append(f"{name}: peak {peak} in one bin; counts {list(counts)}")
        return "\n".join(lines)

    def to_svg(self) -> str:
        pad, label_h, row_h, axis_h = 40, 18, 90, 34
        top_y = 28 if self.title else 8
        n = len(self.series)
        height = top_y + n * (row_h + label_h) + axis_h
        plot_w = self.width - pad - 16
        peak = max((max(c, default=0) for _, c in self.series), default=0) or 1
        bar_w = plot_w / max(self.bins, 1)
        parts = [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{self.width}' height='{height}' "
            f"viewBox='0 0 {self.width} {height}' role='img' aria-label='{escape(self.title)}'>",
            f"<rect width='{self.width}' height='{height}' fill='white'/>",
        ]
        if self.title:
            parts.append(f"<text x='10' y='19' {_FONT} font-size='14' font-weight='bold'>"
                         f"{escape(self.title)}</text>")
        for s, (name, counts) in enumerate(self.series):
            y0 = top_y + s * (row_h + label_h)
            base = y0 + label_h + row_h
            colour = PALETTE[s % len(PALETTE)]
            parts.append(f"<text x='{pad}' y='{y0 + 13}' {_FONT} font-size='12'>"
                         f"{escape(name)} (peak {max(counts, default=0)})</text>")
            parts.append(f"<line x1='{pad}' y1='{base}' x2='{pad + plot_w}' y2='{base}' "
                         "stroke='#444'/>")
            for i, c in enumerate(counts):
                if not c:
                    continue
                h = row_h * c / peak
                parts.append(f"<rect x='{_fmt(pad + i * bar_w)}' y='{_fmt(base - h)}' "
                             f"width='{_fmt(max(bar_w - 1, 1))}' height='{_fmt(h)}' "
                             f"fill='{colour}'/>")
        axis_y = top_y + n * (row_h + label_h)
        ticks = 5
        for t in range(ticks + 1):
            i = round(t * self.bins / ticks)
            x = pad + i * bar_w
            value = self.start + i * self.bin_width
            parts.append(f"<text x='{_fmt(x)}' y='{axis_y + 14}' text-anchor='middle' {_FONT} "
                         f"font-size='11'>{escape(_num(value))}</text>")
        if self.xlabel:
            parts.append(f"<text x='{pad + plot_w / 2:.1f}' y='{axis_y + 30}' "
                         f"text-anchor='middle' {_FONT} font-size='12'>"
                         f"{escape(self.xlabel)}</text>")
        parts.append("</svg>")
        return "".join(parts)


def histogram(series: Mapping[str, Sequence[float]] | Sequence[float], *, bin_width: float,
              start: float = 0.0, stop: float | None = None, title: str = "",
              xlabel: str = "", width: int = 560) -> Histogram:
    """Bin one series (a sequence) or several (``{name: values}``) on one shared axis.

    ``stop`` defaults to the largest value; values outside ``[start, stop]`` are clamped
    into the first or last bin so no sample silently disappears.
    """
    if bin_width <= 0 or not math.isfinite(bin_width):
        raise ValueError(f"histogram(bin_width={bin_width!r}): use a positive number")
    named = dict(series) if isinstance(series, Mapping) else {"values": series}
    values = [float(v) for vs in named.values() for v in vs]
    top = stop if stop is not None else (max(values) if values else start + bin_width)
    # - 1e-9: a stop on a bin edge closes the last bin instead of opening an extra one
    bins = max(1, math.ceil((top - start) / bin_width - 1e-9))
    rows = []
    for name, vs in named.items():
        counts = [0] * bins
        for v in vs:
            # + 1e-9: 1.0 // 0.1 is 9.0 in floats; a value on an edge belongs to the bin it opens
            i = min(max(math.floor((float(v) - start) / bin_width + 1e-9), 0), bins - 1)
            counts[i] += 1
        rows.append((str(name), tuple(counts)))
    return Histogram(tuple(rows), start=start, bin_width=bin_width, title=title,
                     xlabel=xlabel, width=width)
