"""ipywidgets views of a live client and server: see ``docs/widgets.md``.

- ``ConnectionBadge(client)``: state as colour + text label; attempt and next retry.
- ``ReconnectNotice(client)``: "WebSocket unavailable" + Reconnect after the last attempt
  (part of the badge).
- ``TimelineView(client or timeline)``: the reconnect timeline as a live SVG picture.
- ``MessageLog(client)``: the last N frames in and out, filterable by type and direction.
- ``ServerControls(server)``: Stop, Start, Freeze, Thaw, Drop all, Refuse, Accept + counters.
- ``Dashboard(client, server)``: all of the above in one panel (chapter 09).

Every widget: a stable ``text/plain`` (nbval-safe), ``summary()`` / ``str()`` for the
current state as text, ``close()`` that removes its listeners and cancels its timers
and tasks. Updates from the server thread are marshalled onto the loop the widget was
built on (the kernel's); nothing prints from a listener.
"""

from __future__ import annotations

from .badge import ConnectionBadge, ReconnectNotice, badge_look
from .dashboard import Dashboard
from .message_log import MessageLog
from .server_controls import ServerControls
from .timeline_view import TimelineView

__all__ = [
    "ConnectionBadge",
    "Dashboard",
    "MessageLog",
    "ReconnectNotice",
    "ServerControls",
    "TimelineView",
    "badge_look",
]
