"""What every stored picture shares: escaping, number formatting, the palette, and how
a picture reaches the page.

Why pictures are shown as ``<img src="data:image/svg+xml;base64,...">`` inside
``text/html`` (and not as ``image/svg+xml`` or inline ``<svg>``): JupyterLab draws the
active output of a notebook only once the notebook is *trusted*, and a chapter a learner
has just opened is not. Untrusted, an ``image/svg+xml`` output falls back to its text and
inline SVG in HTML is stripped by the sanitizer down to run-together label text. The
sanitizer keeps ``<img>`` with a ``data:`` URI (JupyterLab checks URL schemes on ``href``
only), so the same picture is drawn trusted or not, on the first open, with no signing
step that a re-executed notebook would invalidate. An SVG inside ``<img>`` cannot run
scripts or fetch anything, which is exactly why the sanitizer lets it through. The cost:
no hover tooltips; every picture therefore also carries its spoken summary as ``alt``
and a text form (``text/plain``).

One palette: :data:`STATES` colours a connection state the same way in the timeline's
bands, the state badge and any chart of states (:func:`state_colour`); :data:`SERIES`
colours series that have no meaning of their own. Both are Okabe-Ito colours, safe for
the common colour-vision deficiencies, and nothing is told by colour alone.
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any, Final, NamedTuple

__all__ = [
    "INK",
    "MUTED",
    "SERIES",
    "STATES",
    "Picture",
    "StateColour",
    "coord",
    "esc",
    "img_html",
    "number",
    "state_colour",
]

INK: Final = "#222"
MUTED: Final = "#666"


class StateColour(NamedTuple):
    fill: str  # band, bar, badge border and dot
    ink: str  # text written on ``fill``
    tint: str  # a light background of the same hue (the badge)


#: A connection state's colour, everywhere it is drawn.
STATES: Final[dict[str, StateColour]] = {
    "connecting": StateColour("#F0E442", INK, "#fdf9d0"),
    "connected": StateColour("#009E73", "#fff", "#d6f5ea"),
    "reconnecting": StateColour("#E69F00", INK, "#fdf0d5"),
    "disconnected": StateColour("#D55E00", "#fff", "#fbe3d4"),
    "closed": StateColour("#555555", "#fff", "#ececec"),
}
#: A state the course does not know (drawn neutral).
UNKNOWN_STATE: Final = StateColour("#C8C8C8", INK, "#f6f8fa")
#: Colours for series without a meaning of their own, in order.
SERIES: Final = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def state_colour(state: object) -> StateColour:
    """The colours of a connection state (a ``State`` enum or its value)."""
    key = str(getattr(state, "value", state))
    return STATES.get(key, UNKNOWN_STATE)


def esc(text: object) -> str:
    """Text or attribute content for SVG/HTML: escaped, minus what XML 1.0 cannot carry."""
    return html.escape(_XML_INVALID.sub("\N{REPLACEMENT CHARACTER}", str(text)), quote=True)


def coord(value: float) -> str:
    """A coordinate: one decimal, never ``-0.0`` (short, byte-stable SVG)."""
    return f"{round(value, 1) + 0.0:.1f}"


def number(value: float) -> str:
    """A value for a label, compact and stable (no ``0.30000000000000004``)."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def img_html(svg: str, alt: str, *, css_class: str = "wslearn-picture") -> str:
    """An SVG as an ``<img>`` with a ``data:`` URI: drawn by JupyterLab even untrusted.

    The width/height come from the SVG's own attributes (so the picture keeps its size);
    ``max-width:100%`` lets it shrink in a narrow output area instead of overflowing.
    """
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    size = ""
    for name in ("width", "height"):
        found = re.search(rf'<svg[^>]*?\s{name}=["\'](\d+(?:\.\d+)?)["\']', svg)
        if found:
            size += f' {name}="{found.group(1)}"'
    return (
        f'<img class="{css_class}" src="data:image/svg+xml;base64,{data}" alt="{esc(alt)}"'
        f'{size} style="max-width:100%;height:auto"/>'
    )


class Picture:
    """Mixin for objects that draw themselves: ``to_svg()``, ``to_text()``, ``alt()``.

    Jupyter shows the drawing (``text/html``, see the module docstring for why not
    ``image/svg+xml``) and keeps the text form as ``text/plain``.
    """

    def to_svg(self) -> str:  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    def to_text(self) -> str:  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    def alt(self) -> str:
        """The picture in one sentence (the ``<img>`` alt text); default: first text line."""
        return self.to_text().split("\n", 1)[0]

    def _repr_html_(self) -> str:
        return img_html(self.to_svg(), self.alt())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/html": self._repr_html_(), "text/plain": self.to_text()}
