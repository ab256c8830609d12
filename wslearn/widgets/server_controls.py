"""``ServerControls(server)``: break the in-kernel server on purpose, and watch its counters.

Buttons call the server's fault methods (they block the click briefly: each is a
thread-safe call into the server's own loop). The counters -- live connections and
handshake attempts -- are read from the server; the server's listener fires on the
*server thread*, so it only pokes a throttled refresh that runs on the kernel's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import traitlets as t

from ._base import LiveWidget, button_row, html_text
from ._threading import Marshal, Throttle

#: Close codes offered by "Drop all" (1006 = the TCP connection just dies).
DROP_CODES: tuple[tuple[str, int], ...] = (
    ("1006 abnormal", 1006),
    ("1001 going away", 1001),
    ("1011 internal error", 1011),
    ("1012 restart", 1012),
)

# (action, button label, tooltip)
_BUTTONS: tuple[tuple[str, str, str], ...] = (
    ("stop", "Stop", "Close the listener and every connection (1001); the port stays reserved"),
    ("start", "Start", "Listen again on the same port"),
    ("freeze", "Freeze", "Half-open: sockets stay open but nothing is read or answered"),
    ("thaw", "Thaw", "Undo Freeze: read, answer and deliver held frames again"),
    ("drop_all", "Drop all", "Drop every connection with the chosen close code"),
    ("refuse", "Refuse", "Answer new handshakes with HTTP 503"),
    ("accept_again", "Accept", "Undo Refuse: accept handshakes again"),
)

#: Server events that change nothing this widget shows (a publish loop is busy).
_QUIET_EVENTS = frozenset({"publish", "http"})

#: What each action means, as recorded in a timeline ("fault" entries).
FAULT_TEXT: dict[str, str] = {
    "stop": "server stopped",
    "start": "server started",
    "freeze": "server frozen (half-open)",
    "thaw": "server thawed",
    "drop_all": "server dropped all connections",
    "refuse": "server refuses handshakes (503)",
    "accept_again": "server accepts handshakes again",
}


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ServerControls(LiveWidget, w.VBox):
    """Stop, Start, Freeze, Thaw, Drop all, Refuse (and Accept) + the live counters.

    Traits (not synced to the browser; observe them in tests):
    ``connection_count``, ``handshake_attempts``, ``status`` (``"running"``,
    ``"stopped"``, ``"frozen"``, ``"refusing"``, ``"frozen, refusing"``),
    ``last_action``, ``message`` (what the last action did, or its error), ``busy``
    (an action is running; the buttons are disabled meanwhile).
    """

    _shows = "server buttons and counters"
    _arg_text = "server"

    connection_count = t.Int(0)
    handshake_attempts = t.Int(0)
    status = t.Unicode("")
    last_action = t.Unicode("")
    message = t.Unicode("")
    busy = t.Bool(False)

    def __init__(self, server: Any, *, refresh_interval: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._init_live(Marshal())
        self.server = server
        self._frozen = False
        self._refusing = False
        self._action_listeners: list[Callable[[str, str], None]] = []
        self._pending: asyncio.Future[None] | None = None

        self.buttons: dict[str, w.Button] = {}
        for action, label, tip in _BUTTONS:
            button = w.Button(
                description=label,
                tooltip=tip,
                button_style="warning" if action in {"freeze", "drop_all", "refuse"} else "",
                layout=w.Layout(width="auto"),
            )
            button.on_click(lambda _b, a=action: self.do(a))
            self.buttons[action] = button
        self.buttons["stop"].button_style = "danger"
        self.drop_code = w.Dropdown(
            options=DROP_CODES,
            value=1006,
            description="code",
            tooltip="Close code for Drop all (1006: the TCP connection just dies)",
            layout=w.Layout(width="190px"),
        )
        self.drop_code.style.description_width = "initial"
        self._counters = w.HTML()
        self._message_view = w.HTML()
        self._title = w.HTML("<b>Server</b>")
        row = w.HBox(
            [*self.buttons.values(), self.drop_code], layout=w.Layout(flex_flow="row wrap")
        )
        self._own(*self.buttons.values(), self.drop_code, self._counters, self._message_view)
        self._own(self._title, row)
        self.children = [self._title, row, self._counters, self._message_view]
        self.add_class("wslearn-server-controls")

        self._throttle = Throttle(self._marshal, self.refresh, refresh_interval)
        self._on_close(self._throttle.close)
        self._listen(server, self._on_server_event)
        self.refresh()

    # -- server thread ------------------------------------------------------------

    def _on_server_event(self, event: str, info: Any = None) -> None:
        """Called on the server thread: never touch a widget here, only poke."""
        if event not in _QUIET_EVENTS:
            self._throttle.poke()

    # -- owner thread -------------------------------------------------------------

    def on_action(self, fn: Callable[[str, str], None]) -> Callable[[], None]:
        """Call ``fn(action, text)`` after each successful action; returns an unsubscriber."""
        self._action_listeners.append(fn)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._action_listeners.remove(fn)

        return remove

    def do(self, action: str) -> asyncio.Future[None] | None:
        """Run one action by name, as its button does (``"stop"``, ``"freeze"``, ...).

        With an event loop (a kernel, a test's loop) the server call runs in a short
        worker thread and ``do`` returns an ``asyncio.Future`` to await: the server's
        calls wait for the server loop -- ``stop()`` and a clean ``drop_all`` wait for
        the clients' close handshake, and a client on *this* loop could not answer while
        the loop is blocked. Buttons are disabled until the action is done. Without a
        loop it runs inline and returns ``None``.
        """
        if self.closed or self.busy:
            return self._pending
        if action not in FAULT_TEXT:
            raise ValueError(f"unknown action {action!r}; expected one of {list(FAULT_TEXT)}")
        code = int(self.drop_code.value)
        text = FAULT_TEXT[action] + (f" ({code})" if action == "drop_all" else "")
        self.last_action = action
        self.message = text + " …"
        for fn in list(self._action_listeners):  # the cause goes on the timeline first
            with contextlib.suppress(Exception):
                fn(action, text)
        loop = self._marshal.loop
        if loop is None:
            self._finish(action, text, self._call_server(action, code))
            return None
        self.busy = True
        self.refresh()
        future: asyncio.Future[None] = loop.create_future()
        self._pending = future

        def work() -> None:
            error = self._call_server(action, code)
            self._marshal.call(self._finish, action, text, error, future)
            # and end the future even if the widget closed meanwhile (_finish dropped)
            with contextlib.suppress(RuntimeError):  # the loop itself is gone
                loop.call_soon_threadsafe(_resolve, future)

        threading.Thread(target=work, name=f"wslearn-controls-{action}", daemon=True).start()
        return future

    async def run(self, action: str) -> None:
        """``await controls.run("stop")``: :meth:`do` and wait until the server is done."""
        future = self.do(action)
        if future is not None:
            await future

    async def aclose(self) -> None:
        """``close()`` and wait for a server action still running (its worker thread)."""
        pending = self._pending
        self.close()
        if pending is not None:
            await pending

    async def wait_for_connections(self, n: int, timeout: float = 10.0) -> int:
        """Wait until the server has ``n`` open connections, then refresh the view.

        The server registers a connection on its own thread a moment after the client
        sees it open: wait for this before printing a ``summary()`` that a notebook
        stores. ``timeout`` is in real seconds; raises ``TimeoutError``.
        """
        await self.server.wait_for_connections(n, timeout)
        self.refresh()
        return n

    def _call_server(self, action: str, code: int) -> BaseException | None:
        """The blocking part (worker thread or inline): call the server, return the error."""
        try:
            if action == "drop_all":
                self.server.drop_all(code)
            else:
                getattr(self.server, action)()
        except Exception as exc:
            return exc
        return None

    def _finish(
        self,
        action: str,
        text: str,
        error: BaseException | None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.busy = False
        self._pending = None
        if error is not None:  # shown in the widget, never printed
            self.message = f"{action} failed: {type(error).__name__}: {error}"
            for fn in list(self._action_listeners):
                with contextlib.suppress(Exception):
                    fn("failed", self.message)
        else:
            if action == "freeze":
                self._frozen = True
            elif action == "thaw":
                self._frozen = False
            elif action == "refuse":
                self._refusing = True
            elif action == "accept_again":
                self._refusing = False
            elif action in {"stop", "start"}:
                self._frozen = self._refusing = False
            self.message = text
        self.refresh()
        if future is not None:
            _resolve(future)

    def refresh(self) -> None:
        """Read the server's counters now and update the view (owner thread)."""
        if self.closed:
            return
        server = self.server
        running = bool(getattr(server, "running", True))
        frozen = bool(getattr(server, "frozen", self._frozen))
        refusing = bool(getattr(server, "refusing", self._refusing))
        if not running:
            status = "stopped"
        elif frozen or refusing:
            status = ", ".join(s for s, on in (("frozen", frozen), ("refusing", refusing)) if on)
        else:
            status = "running"
        self.connection_count = int(getattr(server, "connection_count", 0))
        self.handshake_attempts = int(getattr(server, "handshake_attempts", 0))
        self.status = status
        enabled = {
            "stop": running,
            "start": not running,
            "freeze": running and not frozen,
            "thaw": running and frozen,
            "drop_all": running,
            "refuse": running and not refusing,
            "accept_again": running and refusing,
        }
        for action, button in self.buttons.items():
            button.disabled = self.busy or not enabled[action]
        colour = {"running": "#1a7f37", "stopped": "#cf222e"}.get(status, "#9a6700")
        self._counters.value = (
            "server: "
            + html_text(status, style=f"color:{colour};font-weight:bold")
            + f" &middot; connections: <b>{self.connection_count}</b>"
            + f" &middot; handshake attempts: <b>{self.handshake_attempts}</b>"
        )
        self._message_view.value = html_text(self.message, style="color:#57606a")

    def static_html(self) -> str:
        if not self.closed and self._marshal.on_owner_thread():
            self.refresh()
        buttons = [(b.description, not b.disabled) for b in self.buttons.values()]
        return (
            "<div><b>Server</b></div>" + button_row(buttons)
            + f"<div>{self._counters.value}</div><div>{self._message_view.value}</div>"
        )

    def summary(self) -> str:
        if not self.closed and self._marshal.on_owner_thread():
            self._throttle.close()
            self.refresh()
        text = (
            f"server: {self.status}; connections: {self.connection_count}; "
            f"handshake attempts: {self.handshake_attempts}"
        )
        if self.message:
            text += f"\nlast action: {self.message}"
        return text
