"""``MessageLog(client)``: the last N frames in and out, with their types and topics.

A filter by message type (the types seen so far) and by direction. The frames come
from the client's ``"frame"`` events; a burst (a publish loop) re-renders at most
every ``interval`` seconds.
"""

from __future__ import annotations

from collections import deque
from html import escape
from typing import Any

import ipywidgets as w
import traitlets as t

from ._base import LiveWidget
from ._threading import Marshal, Throttle

ALL = "all"
_ARROW = {"in": "←", "out": "→"}


def _field(frame: Any, name: str) -> str:
    value = getattr(frame, name, None)
    if value is None and isinstance(frame, dict):
        value = frame.get(name)
    return "" if value is None else str(value)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class MessageLog(LiveWidget, w.VBox):
    """The last ``n`` frames (of the chosen type and direction), newest last.

    ``keep`` frames are remembered, so filtering by a rare type still finds its last
    ``n``. Traits (not synced): ``type_filter`` (``"all"`` or a type),
    ``direction_filter`` (``"all"``, ``"in"``, ``"out"``), ``types`` (seen so far,
    sorted), ``total`` (frames seen since the log was made).
    """

    _shows = "the last frames in and out"
    _arg_text = "client"

    type_filter = t.Unicode(ALL)
    direction_filter = t.Unicode(ALL)
    types = t.List(t.Unicode())
    total = t.Int(0)

    def __init__(
        self,
        client: Any,
        n: int = 15,
        *,
        keep: int = 500,
        text_width: int = 70,
        interval: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._init_live(Marshal())
        self.client = client
        self.n = n
        self.text_width = text_width
        self._frames: deque[tuple[int, Any]] = deque(maxlen=max(keep, n))

        self.type_select = w.Dropdown(
            options=[ALL], value=ALL, description="type", layout=w.Layout(width="240px")
        )
        self.direction_select = w.ToggleButtons(
            options=[("all", ALL), ("← in", "in"), ("→ out", "out")],
            value=ALL,
            style={"button_width": "60px"},
        )
        self.table = w.HTML()
        self._title = w.HTML("<b>Messages</b>")
        header = w.HBox([self._title, self.type_select, self.direction_select])
        header.layout.align_items = "center"
        self._own(self.type_select, self.direction_select, self.table, self._title, header)
        self.children = [header, self.table]
        self.add_class("wslearn-message-log")

        # widget -> trait, and trait -> widget (a test may set either)
        self.type_select.observe(lambda c: setattr(self, "type_filter", c["new"]), "value")
        self.direction_select.observe(
            lambda c: setattr(self, "direction_filter", c["new"]), "value"
        )
        self.observe(self._filters_changed, ["type_filter", "direction_filter"])

        self._throttle = Throttle(self._marshal, self.render, interval)
        self._on_close(self._throttle.close)
        for frame in list(getattr(client, "frames", ()) or ()):
            self._remember(frame)
        self._listen(client, self._on_client_event)
        self.render()

    # -- client loop ----------------------------------------------------------------

    def _on_client_event(self, kind: str, payload: Any) -> None:
        if kind == "frame":
            self._marshal.call(self._add, payload)

    # -- owner thread ---------------------------------------------------------------

    def _remember(self, frame: Any) -> None:
        self.total += 1
        self._frames.append((self.total, frame))

    def _add(self, frame: Any) -> None:
        if self.closed:
            return
        self._remember(frame)
        self._throttle.poke()

    def _filters_changed(self, change: dict[str, Any]) -> None:
        if change["name"] == "type_filter":
            if change["new"] not in self.type_select.options:
                self.type_select.options = [*self.type_select.options, change["new"]]
            self.type_select.value = change["new"]
        else:
            self.direction_select.value = change["new"]
        self.render()

    def rows(self) -> list[tuple[int, str, str, str, str]]:
        """The shown rows: ``(number, direction, type, topic, text)``, oldest first."""
        rows = []
        for number, frame in self._frames:
            direction, kind = _field(frame, "direction"), _field(frame, "type")
            if self.type_filter != ALL and kind != self.type_filter:
                continue
            if self.direction_filter != ALL and direction != self.direction_filter:
                continue
            rows.append((number, direction, kind, _field(frame, "topic"), _field(frame, "text")))
        return rows[-self.n :] if self.n else []

    def render(self) -> None:
        """Re-render now (the throttle calls it; so do filter changes)."""
        if self.closed:
            return
        seen = sorted({_field(f, "type") for _, f in self._frames} - {""})
        if seen != list(self.types):
            self.types = seen
            options = [ALL, *seen]
            if self.type_filter not in options:
                options.append(self.type_filter)
            self.type_select.options = options
            self.type_select.value = self.type_filter
        cell = "padding:1px 8px;text-align:left;white-space:nowrap"
        head = "".join(
            f'<th style="{cell}">{h}</th>' for h in ("#", "dir", "type", "topic", "frame")
        )
        body = []
        for number, direction, kind, topic, text in self.rows():
            colour = "#0969da" if direction == "out" else "#1f2328"
            body.append(
                f'<tr style="color:{colour}"><td style="{cell}">{number}</td>'
                f'<td style="{cell}">{_ARROW.get(direction, "")} {escape(direction)}</td>'
                f'<td style="{cell}"><b>{escape(kind)}</b></td>'
                f'<td style="{cell}">{escape(topic) or "–"}</td>'
                f'<td style="{cell};font-family:monospace">'
                f"{escape(_shorten(text, self.text_width))}</td></tr>"
            )
        if not body:
            body.append(f'<tr><td colspan="5" style="{cell};color:#6e7781">no frames yet</td></tr>')
        self.table.value = (
            '<table style="border-collapse:collapse;font-size:12px">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def flush(self) -> None:
        """Render pending frames now instead of at the next throttle tick."""
        self._throttle.flush()

    def static_html(self) -> str:
        filters = []
        if self.type_filter != ALL:
            filters.append(f"type={self.type_filter}")
        if self.direction_filter != ALL:
            filters.append(f"direction={self.direction_filter}")
        shown = f" ({escape(', '.join(filters))})" if filters else ""
        return f"<div><b>Messages</b>{shown}</div>{self.table.value}"

    def summary(self) -> str:
        rows = self.rows()
        filters = []
        if self.type_filter != ALL:
            filters.append(f"type={self.type_filter}")
        if self.direction_filter != ALL:
            filters.append(f"direction={self.direction_filter}")
        title = f"messages: {self.total} seen" + (f" ({', '.join(filters)})" if filters else "")
        lines = [title]
        for number, direction, kind, topic, text in rows:
            lines.append(
                f"{number:>4} {_ARROW.get(direction, ' ')} {direction:<3} {kind:<18} "
                f"{topic or '-':<12} {_shorten(text, self.text_width)}"
            )
        if not rows:
            lines.append("  (no frames yet)")
        return "\n".join(lines)
