"""``ConnectionBadge(client)`` and ``ReconnectNotice(client)``: the state you can read.

The badge shows the connection state as a coloured pill **with a text label and a
symbol** (colour alone fails colour-blind readers and terminals): "Connected",
"Reconnecting — attempt 2/5, next in 2 s", "Disconnected — WebSocket unavailable".

After the last attempt the notice appears: the seed's FAQ answer ("Що робити якщо 5
attempts failed? Show error toast, button Reconnect") -- a visible "WebSocket
unavailable" message and a Reconnect button that starts over (attempts reset).

Colours come from the one palette of states (``wslearn.svg.STATES``): a state looks the
same on the badge, in the timeline's bands and in a chart of states.

A client in step-by-step mode (``paused``) changes state only on ``client.step()``: a
server fault then has no effect on the badge yet, so the badge says so ("paused") rather
than show a state that is no longer true.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import ipywidgets as w
import traitlets as t

from ..svg import STATES
from ._base import LiveWidget, button_row, html_text
from ._threading import Marshal, running_loop


class Look(NamedTuple):
    label: str
    colour: str  # CSS colour of the dot and border
    background: str  # light tint behind the text
    symbol: str  # a shape, so the state reads without colour too


GREEN, AMBER, RED = (STATES[s].fill for s in ("connected", "reconnecting", "disconnected"))
YELLOW, DARK = STATES["connecting"].fill, STATES["closed"].fill
GREY = "#6e7781"  # not a state colour: "not connected yet"
_TINT = {s.fill: s.tint for s in STATES.values()} | {GREY: "#f6f8fa"}


def _seconds(delay: float) -> str:
    """``2.0 -> "2 s"``, ``0.5 -> "0.5 s"``, ``1.37 -> "1.4 s"`` (no noise from jitter)."""
    return f"{round(delay, 1):g} s"


def badge_look(
    state: str,
    attempt: int | None = None,
    max_attempts: int | None = None,
    next_delay: float | None = None,
    *,
    gave_up: bool = True,
) -> Look:
    """The badge's label, colours and symbol for a state (pure: easy to test and to reuse).

    ``attempt`` is the reconnect attempt in flight or scheduled next, ``next_delay``
    the planned wait before it (``None`` once it is in flight). ``gave_up=False``
    with ``disconnected`` means "not connected yet" rather than "WebSocket unavailable".
    """
    state = str(state)
    of = f"/{max_attempts}" if max_attempts else ""
    if state == "connected":
        return Look("Connected", GREEN, _TINT[GREEN], "●")
    if state == "connecting":
        return Look("Connecting…", YELLOW, _TINT[YELLOW], "◐")
    if state == "reconnecting":
        if attempt and next_delay is not None:
            text = f"Reconnecting — attempt {attempt}{of}, next in {_seconds(next_delay)}"
        elif attempt:
            text = f"Reconnecting — attempt {attempt}{of} in progress"
        else:
            text = "Reconnecting…"
        return Look(text, AMBER, _TINT[AMBER], "↻")
    if state == "disconnected":
        if gave_up:
            return Look("Disconnected — WebSocket unavailable", RED, _TINT[RED], "✕")
        return Look("Disconnected — not connected yet", GREY, _TINT[GREY], "○")
    if state == "closed":
        return Look("Closed", DARK, _TINT[DARK], "○")
    return Look(state.capitalize() or "Unknown", GREY, _TINT[GREY], "○")


@dataclass
class ReconnectProgress:
    """Where a reconnect cycle is, folded from timeline entries (see :func:`follow`)."""

    attempt: int = 0  # the attempt in flight or scheduled next (0 = none)
    next_delay: float | None = None  # the planned wait before it, while waiting
    gave_up: bool = False  # the last attempt failed (or the server said "do not retry")
    reason: str = ""  # the gave-up entry's text

    def follow(self, entry: Any) -> None:
        """Update from one ``wslearn.timeline.Entry`` (kinds of ``timeline.KINDS``)."""
        kind = getattr(entry, "kind", "")
        delay = getattr(entry, "delay", None)
        attempt = getattr(entry, "attempt", None)
        if kind in {"failed", "lost"} and delay is not None:  # a retry was scheduled
            self.attempt = (attempt or 0) + 1 if kind == "failed" else 1
            self.next_delay = delay
            self.gave_up = False
        elif kind == "attempt":  # the wait is over, the attempt is in flight
            self.attempt = attempt or self.attempt
            self.next_delay = None
        elif kind == "gave-up":
            self.attempt = attempt or 0
            self.next_delay = None
            self.gave_up = True
            self.reason = str(getattr(entry, "text", ""))
        elif kind in {"connect", "connected", "closed"}:
            self.attempt, self.next_delay, self.gave_up, self.reason = 0, None, False, ""


#: What the badge adds while the client is in step-by-step mode.
PAUSED_TEXT = "paused (step mode): the state changes only on client.step() or client.resume()"


def _pill_html(look: Look, paused: bool = False) -> str:
    style = (
        f"display:inline-block;padding:2px 10px;border-radius:12px;"
        f"border:2px solid {look.colour};background:{look.background};"
        f"color:#1f2328;font-weight:600;font-family:system-ui,sans-serif"
    )
    dot = f'<span style="color:{look.colour}">{look.symbol}</span> '
    pill = f'<span class="wslearn-badge" style="{style}">{dot}{html_text(look.label)}</span>'
    if paused:
        pill += (
            ' <span class="wslearn-paused" style="color:#57606a;font-size:12px">'
            f"{html_text(PAUSED_TEXT)}</span>"
        )
    return pill


def _state_of(client: Any) -> str:
    state = getattr(client, "state", "")
    return str(getattr(state, "value", state) or "")


def _max_attempts(client: Any) -> int | None:
    for holder in (getattr(client, "policy", None), getattr(client, "machine", None)):
        value = getattr(holder, "max_attempts", None)
        if value is None and holder is not None:
            value = getattr(getattr(holder, "policy", None), "max_attempts", None)
        if isinstance(value, int):
            return value
    return None


class _ClientWatcher:
    """Follows a client's state and reconnect progress through its listener API."""

    def _watch(self, client: Any) -> None:
        self.client = client
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self.progress = ReconnectProgress()
        for entry in getattr(getattr(client, "timeline", None), "entries", ()):
            self.progress.follow(entry)  # built mid-outage: catch up
        self._listen(client, self._on_client_event)  # type: ignore[attr-defined]

    def _on_client_event(self, kind: str, payload: Any) -> None:
        # Called on the client's loop (and must not raise): hop to the owner thread.
        if self._client_loop is None:
            self._client_loop = running_loop()
        if kind in {"state", "entry"}:
            self._marshal.call(self._client_changed, kind, payload)  # type: ignore[attr-defined]

    def _client_changed(self, kind: str, payload: Any) -> None:
        if kind == "entry":
            self.progress.follow(payload)
        self._update()

    def _given_up(self) -> bool:
        return _state_of(self.client) == "disconnected" and self.progress.gave_up

    def _update(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class ReconnectNotice(_ClientWatcher, LiveWidget, w.HBox):
    """The "WebSocket unavailable" notice + a Reconnect button, shown once the client gave up.

    Visible only in ``disconnected`` *after* a ``gave-up`` timeline entry (the last
    attempt failed, or the server closed with a code that retrying cannot fix) -- not
    in the ``disconnected`` of a client that never connected. Clicking Reconnect
    schedules ``client.reconnect()`` on the client's loop; the task is kept
    (``reconnect_task``) and cancelled by ``close()``.
    """

    _shows = "'WebSocket unavailable' + Reconnect, when all attempts failed"
    _arg_text = "client"

    visible = t.Bool(False)
    message = t.Unicode("")

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._init_live(Marshal())
        self.reconnect_task: asyncio.Future[Any] | concurrent.futures.Future[Any] | None = None
        self.text = w.HTML()
        self.button = w.Button(
            description="Reconnect",
            button_style="primary",
            tooltip="Start over: attempts reset to 1",
            layout=w.Layout(width="auto"),
        )
        self.button.on_click(lambda _b: self.reconnect())
        self._own(self.text, self.button)
        self.children = [self.text, self.button]
        self.layout.align_items = "center"
        self.add_class("wslearn-reconnect-notice")
        self._on_close(self._cancel_task)
        self._watch(client)
        self._update()

    def _update(self) -> None:
        if self.closed:
            return
        shown = self._given_up()
        self.visible = shown
        self.layout.display = "" if shown else "none"
        self.text.value = html_text(
            "⚠ " + self._notice_text(), style=f"color:{RED};font-weight:600"
        )

    def _notice_text(self) -> str:
        progress = self.progress
        if progress.attempt:
            why = f"all {progress.attempt} reconnect attempts failed"
        elif progress.reason:
            why = progress.reason
        else:
            why = "the server cannot be reached"
        text = f"WebSocket unavailable — {why}."
        if self.message:
            text += f" ({self.message})"
        return text

    def reconnect(self) -> asyncio.Future[Any] | concurrent.futures.Future[Any] | None:
        """Start over (what the button does). Returns the task running ``client.reconnect()``."""
        if self.closed:
            return None
        if self.reconnect_task is not None and not self.reconnect_task.done():
            return self.reconnect_task
        # The client's loop: where its listener events arrive (normally the kernel's,
        # which is also the widget's).
        loop = self._client_loop or self._marshal.loop
        if loop is None or loop.is_closed():
            self.message = "no event loop to reconnect on"
            self._update()
            return None
        # a paused client takes the request but moves only on step(): say so, at once
        self.message = PAUSED_TEXT if getattr(self.client, "paused", False) else ""
        coro = self.client.reconnect()
        task: asyncio.Future[Any] | concurrent.futures.Future[Any]
        if running_loop() is loop:
            task = loop.create_task(coro, name="wslearn-reconnect")
        else:  # the client runs on another thread's loop
            task = asyncio.run_coroutine_threadsafe(coro, loop)
        task.add_done_callback(lambda done: self._marshal.call(self._reconnect_done, done))
        self.reconnect_task = task
        if self.message:
            self._update()
        return task

    def _reconnect_done(self, task: asyncio.Future[Any] | concurrent.futures.Future[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not self.closed:  # shown, never printed
            self.message = f"reconnect failed: {type(exc).__name__}: {exc}"
            self._update()

    def _cancel_task(self) -> None:
        task = self.reconnect_task
        if task is not None and not task.done():
            with contextlib.suppress(RuntimeError):  # its loop is already closed
                task.cancel()

    async def aclose(self) -> None:
        """``close()`` and wait until the reconnect task (if any) has finished."""
        task = self.reconnect_task
        self.close()
        if task is not None:
            if isinstance(task, concurrent.futures.Future):
                task = asyncio.wrap_future(task)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def summary(self) -> str:
        if not self.visible:
            return "(no notice: not given up)"
        return f"{self._notice_text()} [Reconnect]"

    def static_html(self) -> str:
        if not self.visible:
            return ""
        return self.text.value + button_row([("Reconnect", False)])


class ConnectionBadge(_ClientWatcher, LiveWidget, w.VBox):
    """The connection state as a coloured pill with a text label, plus the notice.

    Traits (not synced; observe them in tests): ``state``, ``label``, ``colour``,
    ``symbol``, ``attempt`` (the reconnect attempt in flight or scheduled next; 0 =
    none), ``max_attempts`` (0 = unknown), ``next_delay`` (the planned wait before
    ``attempt``; ``None`` when no wait is running). ``notice`` is the
    :class:`ReconnectNotice` (``notice=False`` leaves it out).
    """

    _shows = "the connection state"
    _arg_text = "client"

    state = t.Unicode("")
    label = t.Unicode("")
    colour = t.Unicode("")
    symbol = t.Unicode("")
    attempt = t.Int(0)
    max_attempts = t.Int(0)
    next_delay = t.Float(None, allow_none=True)
    paused = t.Bool(False)

    def __init__(self, client: Any, *, notice: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._init_live(Marshal())
        self.pill = w.HTML()
        self._own(self.pill)
        self.notice: ReconnectNotice | None = None
        children: list[w.Widget] = [self.pill]
        if notice:
            self.notice = ReconnectNotice(client)
            self._own(self.notice)
            children.append(self.notice)
        self.children = children
        self.add_class("wslearn-connection-badge")
        self._watch(client)
        self._update()

    @property
    def reconnect_button(self) -> w.Button | None:
        return self.notice.button if self.notice is not None else None

    def _update(self) -> None:
        if self.closed:
            return
        state = _state_of(self.client)
        waiting = state == "reconnecting"
        attempt = self.progress.attempt if waiting else 0
        delay = self.progress.next_delay if waiting else None
        max_attempts = _max_attempts(self.client)
        look = badge_look(state, attempt, max_attempts, delay, gave_up=self.progress.gave_up)
        paused = bool(getattr(self.client, "paused", False)) and state != "closed"
        with self.hold_trait_notifications():
            self.paused = paused
            self.attempt = attempt or 0
            self.max_attempts = max_attempts or 0
            self.next_delay = delay
            self.colour = look.colour
            self.symbol = look.symbol
            self.label = look.label
            self.state = state
        self.pill.value = _pill_html(look, paused)

    async def aclose(self) -> None:
        """``close()`` and wait for a Reconnect the notice started, if any."""
        notice = self.notice
        self.close()
        if notice is not None:
            await notice.aclose()

    def summary(self) -> str:
        return f"[{self.symbol}] {self.label}"

    def static_html(self) -> str:
        notice = self.notice.static_html() if self.notice is not None else ""
        return f"<div>{self.pill.value}</div>" + (f"<div>{notice}</div>" if notice else "")
