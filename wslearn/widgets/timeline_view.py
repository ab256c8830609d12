"""``TimelineView(client or timeline)``: the reconnect timeline as a picture, live.

The picture is the timeline's own SVG (``Timeline.to_svg()``: attempts on a time axis
with their delays, state bands, heartbeat pings and pongs, injected faults), shown in
an ``ipywidgets.HTML`` and re-rendered when entries arrive -- at most ``1/interval``
times a second. The SVG is drawn in *logical* time, so the same run draws the same
picture: ``view.to_svg()`` (or ``view.snapshot()``, an ``IPython.display.SVG``) is the
static version for stored outputs.
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as w
import traitlets as t

from ._base import LiveWidget
from ._threading import Marshal, Throttle


def _entries(timeline: Any) -> list[Any]:
    entries = getattr(timeline, "entries", None)
    if entries is None:
        try:
            entries = list(timeline)
        except TypeError:
            entries = []
    return list(entries)


class TimelineView(LiveWidget, w.VBox):
    """The timeline picture of a ``Client`` (its ``.timeline``) or of a ``Timeline``.

    Traits (not synced): ``entry_count`` (entries drawn so far), ``svg`` (the SVG
    currently shown). ``flush()`` draws pending entries now.
    """

    _shows = "the reconnect timeline"

    entry_count = t.Int(0)
    svg = t.Unicode("")

    def __init__(
        self, source: Any, *, interval: float = 0.1, title: str = "Timeline", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._init_live(Marshal())
        self.client = source if hasattr(source, "timeline") else None
        self.timeline = source.timeline if self.client is not None else source
        self._arg_text = "client" if self.client is not None else "timeline"
        self.picture = w.HTML()
        self.picture.layout.overflow = "auto"
        self._title_text = title
        self._title = w.HTML(f"<b>{escape(title)}</b>") if title else None
        self._own(self.picture, *([self._title] if self._title else []))
        self.children = [*([self._title] if self._title else []), self.picture]
        self.add_class("wslearn-timeline-view")
        self._throttle = Throttle(self._marshal, self.render, interval)
        self._on_close(self._throttle.close)
        self._listen(self.timeline, self._on_entry)
        self.render()

    def _on_entry(self, *args: Any) -> None:
        """Called wherever the timeline grows (the client's loop): only poke."""
        self._throttle.poke()

    def to_svg(self) -> str:
        """The current picture as an SVG string (deterministic: logical time only)."""
        return str(self.timeline.to_svg())

    def to_text(self) -> str:
        return str(self.timeline.to_text())

    def snapshot(self) -> Any:
        """A static picture of the timeline now, for stored outputs (drawn untrusted too)."""
        return self.timeline.picture()

    def static_html(self) -> str:
        from ..svg import img_html

        title = f"<div><b>{escape(self._title_text)}</b></div>" if self._title_text else ""
        return title + img_html(self.to_svg(), str(self.timeline.summary()),
                                css_class="wslearn-timeline")

    def render(self) -> None:
        if self.closed:
            return
        svg = self.to_svg()
        self.entry_count = len(_entries(self.timeline))
        if svg != self.svg:
            self.svg = svg
            self.picture.value = svg

    def flush(self) -> None:
        """Draw pending entries now instead of at the next throttle tick."""
        self._throttle.flush()

    def summary(self) -> str:
        return self.to_text()
