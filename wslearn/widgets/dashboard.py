"""``Dashboard(client, server)``: badge + notice, server controls, timeline and log in one panel.

Chapter 09's live view of the whole client. Every server action taken with the
dashboard's buttons is also written into the client's timeline as a ``fault`` entry,
so the picture shows cause (the fault) next to effect (the reconnect attempts).
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as w

from ._base import LiveWidget
from ._threading import Marshal
from .badge import ConnectionBadge
from .message_log import MessageLog
from .server_controls import ServerControls
from .timeline_view import TimelineView


def record_fault(timeline: Any, text: str) -> bool:
    """Write ``text`` into ``timeline`` as a note (``Timeline.note``); ``True`` if it could."""
    note = getattr(timeline, "note", None)
    if not callable(note):
        return False
    note(text)
    return True


class Dashboard(LiveWidget, w.VBox):
    """All the views of one client (and, optionally, the server it talks to).

    Parts: ``badge`` (with its Reconnect ``notice``), ``controls`` (``None`` without a
    server), ``timeline``, ``messages``. ``close()`` closes them all.
    """

    _shows = "connection state, server controls, timeline, messages"

    def __init__(
        self,
        client: Any,
        server: Any = None,
        *,
        title: str = "WebSocket client dashboard",
        log_size: int = 12,
        record_faults: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._init_live(Marshal())
        self._arg_text = "client, server" if server is not None else "client"
        self.client = client
        self.server = server
        self.badge = ConnectionBadge(client)
        self.notice = self.badge.notice
        self.controls = ServerControls(server) if server is not None else None
        self.timeline = TimelineView(client)
        self.messages = MessageLog(client, log_size)
        self._title_html = f"<h3 style='margin:4px 0'>{escape(title)}</h3>"
        self._title = w.HTML(self._title_html)
        self._own(self._title, self.badge, self.timeline, self.messages)
        top: list[w.Widget] = [self.badge]
        if self.controls is not None:
            self._own(self.controls)
            top.append(self.controls)
            if record_faults:
                self._on_close(self.controls.on_action(self._fault))
        row = w.HBox(
            top,
            layout=w.Layout(
                justify_content="space-between", align_items="flex-start", flex_flow="row wrap"
            ),
        )
        self._own(row)
        self.children = [self._title, row, self.timeline, self.messages]
        self.layout.border = "1px solid #d0d7de"
        self.layout.padding = "6px 10px"
        self.add_class("wslearn-dashboard")

    def _fault(self, action: str, text: str) -> None:
        # Client.note stamps the machine's logical time; a bare timeline, its last entry's.
        note = getattr(self.client, "note", None)
        if callable(note):
            note(text)
        else:
            record_fault(self.client.timeline, text)

    def flush(self) -> None:
        """Draw everything pending now (timeline and log are throttled)."""
        self.timeline.flush()
        self.messages.flush()

    def static_html(self) -> str:
        controls = self.controls.static_html() if self.controls is not None else ""
        top = (
            '<div style="display:flex;flex-wrap:wrap;justify-content:space-between;gap:8px">'
            f"<div>{self.badge.static_html()}</div><div>{controls}</div></div>"
        )
        return (
            self._title_html + top + f"<div>{self.timeline.static_html()}</div>"
            + f"<div>{self.messages.static_html()}</div>"
        )

    async def aclose(self) -> None:
        """``close()`` and wait for a Reconnect or a server action still running."""
        self.close()
        await self.badge.aclose()
        if self.controls is not None:
            await self.controls.aclose()

    def summary(self) -> str:
        parts = [f"state: {self.badge.summary()}"]
        if self.notice is not None and self.notice.visible:
            parts.append(self.notice.summary())
        if self.controls is not None:
            parts.append(self.controls.summary())
        parts.append("timeline:\n" + self.timeline.summary())
        parts.append(self.messages.summary())
        return "\n".join(parts)
