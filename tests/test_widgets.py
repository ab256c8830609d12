"""The widgets, headless: buttons are clicked with ``Button.click()``, traits are read.

ipywidgets work without a kernel (the comm is a dummy), so these run in plain pytest.
The first half uses small fakes to pin each widget's own logic (fast, no sockets);
the second half drives the widgets against a real ``wslearn.server`` and a real
``Client`` on a sped-up clock -- the scenarios of issue 4.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from types import SimpleNamespace
from typing import Any

import ipywidgets as w
import pytest
from support import arun

from wslearn.svg import STATES
from wslearn.timeline import Entry, Timeline
from wslearn.waiting import until
from wslearn.widgets import (
    ConnectionBadge,
    Dashboard,
    MessageLog,
    ReconnectNotice,
    ServerControls,
    TimelineView,
    badge_look,
)

GREEN, AMBER, RED = (STATES[s].fill for s in ("connected", "reconnecting", "disconnected"))
YELLOW, DARK = STATES["connecting"].fill, STATES["closed"].fill

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


# -- fakes ----------------------------------------------------------------------------


class FakeClient:
    """The documented listener API of ``wslearn.client.Client``, nothing else.

    Its timeline is a real ``Timeline``; its entries are forwarded as ``"entry"`` events
    like the real client does. ``fail(n)``, ``lose()``, ``give_up()`` write the entries
    the state machine writes (same kinds, attempts and delays).
    """

    def __init__(self) -> None:
        self.state = "disconnected"
        self.timeline = Timeline()
        self.timeline.add_listener(lambda entry: self.emit("entry", entry))
        self.frames: deque[Any] = deque(maxlen=100)
        self.policy = SimpleNamespace(max_attempts=5)
        self.listeners: list[Any] = []
        self.reconnects = 0
        self.t = 0.0

    def add_listener(self, fn):
        self.listeners.append(fn)
        return lambda: self.remove_listener(fn)

    def remove_listener(self, fn):  # the one listener style (wslearn.listeners)
        if fn in self.listeners:
            self.listeners.remove(fn)

    def emit(self, kind: str, payload: Any) -> None:
        for fn in list(self.listeners):
            fn(kind, payload)

    def record(self, kind: str, text: str, state: str, **fields: Any) -> None:
        self.state = state
        self.emit("state", state)
        self.timeline.append(Entry(self.t, kind, text, state=state, **fields))

    def connect(self) -> None:
        self.record("connect", "connect: opening the socket", "connecting", attempt=0)
        self.record("connected", "connected", "connected", attempt=0)

    def lose(self) -> None:
        self.record("lost", "connection lost; attempt 1/5 in 1.0s", "reconnecting", delay=1.0)

    def attempt(self, n: int) -> None:
        self.t += 2.0 ** (n - 1)
        self.record("attempt", f"attempt {n}/5: opening the socket", "reconnecting", attempt=n)

    def fail(self, n: int) -> None:
        delay = 2.0**n
        self.record("failed", f"attempt {n}/5 failed", "reconnecting", attempt=n, delay=delay)

    def give_up(self) -> None:
        self.record("gave-up", "attempt 5/5 failed; giving up", "disconnected", attempt=5)

    def frame(self, direction: str, type: str, topic: str | None = None) -> None:
        text = f'{{"type":"{type}"}}'
        frame = SimpleNamespace(direction=direction, type=type, topic=topic, text=text)
        self.frames.append(frame)
        self.emit("frame", frame)

    async def reconnect(self) -> None:
        self.reconnects += 1
        await asyncio.sleep(0)
        self.connect()


class FakeServer:
    def __init__(self) -> None:
        self.running = True
        self.connection_count = 0
        self.handshake_attempts = 0
        self.calls: list[Any] = []
        self.listeners: list[Any] = []

    def add_listener(self, fn):
        self.listeners.append(fn)
        return lambda: self.remove_listener(fn)

    def remove_listener(self, fn):  # the one listener style (wslearn.listeners)
        if fn in self.listeners:
            self.listeners.remove(fn)

    def emit_from_thread(self, event: str) -> None:
        def run() -> None:
            for fn in list(self.listeners):
                fn(event, {})

        thread = threading.Thread(target=run, name="fake-server")
        thread.start()
        thread.join()

    def stop(self) -> None:
        self.calls.append("stop")
        self.running = False
        self.connection_count = 0

    def start(self) -> None:
        self.calls.append("start")
        self.running = True

    def freeze(self) -> None:
        self.calls.append("freeze")

    def thaw(self) -> None:
        self.calls.append("thaw")

    def drop_all(self, code: int = 1006) -> None:
        self.calls.append(("drop_all", code))

    def refuse(self) -> None:
        self.calls.append("refuse")

    def accept_again(self) -> None:
        self.calls.append("accept_again")


# -- stable text fallback -------------------------------------------------------------


def _all_widgets(client: Any, server: Any) -> list[Any]:
    return [
        ConnectionBadge(client),
        ReconnectNotice(client),
        TimelineView(client),
        TimelineView(client.timeline),
        MessageLog(client),
        ServerControls(server),
        Dashboard(client, server),
    ]


def test_text_plain_is_stable_while_the_state_changes() -> None:
    client, server = FakeClient(), FakeServer()
    widgets = _all_widgets(client, server)
    try:
        before = [x._repr_mimebundle_() for x in widgets]
        for bundle in before:
            assert WIDGET_MIME in bundle  # still a live widget in JupyterLab
            assert "[live widget:" in bundle["text/plain"]
            assert "0x" not in bundle["text/plain"]  # no object ids
            assert len(bundle["text/plain"]) < 110  # ipywidgets would truncate it
        client.connect()
        client.frame("in", "welcome")
        client.lose()
        client.attempt(1)
        client.fail(1)
        server.connection_count = 3
        widgets[5].do("freeze")
        after = [x._repr_mimebundle_() for x in widgets]
        assert [b["text/plain"] for b in before] == [b["text/plain"] for b in after]
        assert [repr(x) for x in widgets] == [b["text/plain"] for b in after]
        # the only state-dependent part is the static picture (text/html), which nbval
        # compares by its marker (conftest.py); the widget view and text stay put
        assert all(set(b) == {"text/plain", "text/html", WIDGET_MIME} for b in after)
        assert all(b["text/html"].startswith('<div class="wslearn-static"') for b in after)
    finally:
        for x in widgets:
            x.close()
    assert client.listeners == [] and server.listeners == []


def test_plain_text_names_the_widget() -> None:
    client, server = FakeClient(), FakeServer()
    dash = Dashboard(client, server)
    try:
        assert dash.plain_text().startswith("Dashboard(client, server)  [live widget:")
        assert repr(dash.badge) == "ConnectionBadge(client)  [live widget: the connection state]"
        view = TimelineView(client.timeline)
        assert repr(view).startswith("TimelineView(timeline)  [live widget:")
        view.close()
    finally:
        dash.close()


# -- badge ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "attempt", "delay", "label", "colour"),
    [
        ("connecting", 0, None, "Connecting…", YELLOW),
        ("connected", 0, None, "Connected", GREEN),
        ("reconnecting", 2, 2.0, "Reconnecting — attempt 2/5, next in 2 s", AMBER),
        ("reconnecting", 1, 0.5, "Reconnecting — attempt 1/5, next in 0.5 s", AMBER),
        ("reconnecting", 3, 1.37, "Reconnecting — attempt 3/5, next in 1.4 s", AMBER),
        ("reconnecting", 2, None, "Reconnecting — attempt 2/5 in progress", AMBER),
        ("reconnecting", 0, None, "Reconnecting…", AMBER),
        ("disconnected", 5, None, "Disconnected — WebSocket unavailable", RED),
        ("closed", 0, None, "Closed", DARK),
    ],
)
def test_badge_look(state, attempt, delay, label, colour) -> None:
    look = badge_look(state, attempt, 5, delay)
    assert (look.label, look.colour) == (label, colour)
    assert look.symbol  # a shape as well as a colour


def test_badge_look_before_the_first_connect_is_not_an_error() -> None:
    look = badge_look("disconnected", gave_up=False)
    assert look.label == "Disconnected — not connected yet" and look.colour == "#6e7781"


def test_badge_follows_the_client_and_the_notice_appears_after_the_last_attempt() -> None:
    async def main() -> None:
        client = FakeClient()
        badge = ConnectionBadge(client)
        seen: list[str] = []
        badge.observe(lambda c: seen.append(c["new"]), "label")
        assert badge.label == "Disconnected — not connected yet"
        assert not badge.notice.visible  # disconnected, but nothing was given up
        client.connect()
        assert badge.state == "connected" and badge.colour == GREEN
        client.lose()
        assert badge.label == "Reconnecting — attempt 1/5, next in 1 s"
        assert (badge.attempt, badge.max_attempts, badge.next_delay) == (1, 5, 1.0)
        client.attempt(1)
        assert badge.label == "Reconnecting — attempt 1/5 in progress"
        assert badge.next_delay is None
        client.fail(1)
        assert badge.label == "Reconnecting — attempt 2/5, next in 2 s"
        assert badge.notice.visible is False
        assert badge.notice.layout.display == "none"
        for n in range(2, 5):
            client.attempt(n)
            client.fail(n)
        assert badge.label == "Reconnecting — attempt 5/5, next in 16 s"
        client.attempt(5)
        client.give_up()
        assert badge.label == "Disconnected — WebSocket unavailable"
        assert badge.colour == RED
        assert badge.notice.visible and badge.notice.layout.display == ""
        assert "WebSocket unavailable — all 5 reconnect attempts failed" in badge.notice.text.value
        badge.reconnect_button.click()
        await badge.notice.reconnect_task
        assert client.reconnects == 1
        assert badge.label == "Connected" and not badge.notice.visible
        assert seen[-1] == "Connected"
        assert "Reconnecting — attempt 2/5, next in 2 s" in seen
        assert "Connecting…" in seen
        assert str(badge) == "[●] Connected"
        await badge.aclose()
        assert client.listeners == []

    arun(main())


def test_a_badge_built_mid_outage_catches_up_from_the_timeline() -> None:
    client = FakeClient()
    client.connect()
    client.lose()
    client.attempt(1)
    client.fail(1)
    badge = ConnectionBadge(client)
    assert badge.label == "Reconnecting — attempt 2/5, next in 2 s"
    client.attempt(2)
    client.fail(2)
    client.give_up()
    badge2 = ConnectionBadge(client)
    assert badge2.notice.visible and badge.notice.visible
    badge.close()
    badge2.close()


def test_badge_close_cancels_a_pending_reconnect() -> None:
    async def main() -> None:
        client = FakeClient()
        started = asyncio.Event()

        async def slow_reconnect() -> None:
            started.set()
            await asyncio.sleep(60)

        client.reconnect = slow_reconnect  # type: ignore[method-assign]
        badge = ConnectionBadge(client)
        client.give_up()
        task = badge.notice.reconnect()
        assert badge.notice.reconnect() is task  # a second click does not start a second one
        await started.wait()
        await badge.aclose()
        assert task.cancelled()

    arun(main())


def test_reconnect_error_is_shown_not_raised() -> None:
    async def main() -> None:
        client = FakeClient()

        async def broken() -> None:
            raise RuntimeError("boom")

        client.reconnect = broken  # type: ignore[method-assign]
        notice = ReconnectNotice(client)
        client.give_up()
        task = notice.reconnect()
        with pytest.raises(RuntimeError):
            await task
        await asyncio.sleep(0)
        assert "reconnect failed: RuntimeError: boom" in notice.text.value
        notice.close()

    arun(main())


# -- server controls ------------------------------------------------------------------


def test_server_controls_buttons_call_the_server() -> None:
    server = FakeServer()
    controls = ServerControls(server)
    actions: list[tuple[str, str]] = []
    controls.on_action(lambda a, text: actions.append((a, text)))
    try:
        labels = [b.description for b in controls.buttons.values()]
        for label in ("Stop", "Start", "Freeze", "Thaw", "Drop all", "Refuse"):
            assert label in labels
        assert controls.buttons["start"].disabled and not controls.buttons["stop"].disabled
        controls.buttons["freeze"].click()
        assert controls.status == "frozen"
        assert controls.buttons["freeze"].disabled and not controls.buttons["thaw"].disabled
        controls.buttons["thaw"].click()
        controls.drop_code.value = 1012
        controls.buttons["drop_all"].click()
        controls.buttons["refuse"].click()
        assert controls.status == "refusing"
        controls.buttons["accept_again"].click()
        controls.buttons["stop"].click()
        assert controls.status == "stopped" and controls.buttons["stop"].disabled
        controls.buttons["start"].click()
        assert controls.status == "running"
        assert server.calls == [
            "freeze",
            "thaw",
            ("drop_all", 1012),
            "refuse",
            "accept_again",
            "stop",
            "start",
        ]
        assert actions[2] == ("drop_all", "server dropped all connections (1012)")
    finally:
        controls.close()


def test_server_controls_show_an_error_instead_of_raising() -> None:
    server = FakeServer()

    def broken() -> None:
        raise OSError("address already in use")

    server.start = broken  # type: ignore[method-assign]
    server.running = False
    controls = ServerControls(server)
    try:
        controls.buttons["start"].click()
        assert controls.message == "start failed: OSError: address already in use"
        assert controls.status == "stopped"
    finally:
        controls.close()


def test_server_events_from_another_thread_are_marshalled_to_the_loop() -> None:
    async def main() -> None:
        server = FakeServer()
        controls = ServerControls(server, refresh_interval=0.01)
        main_thread = threading.get_ident()
        updates: list[int] = []
        controls.observe(lambda c: updates.append(threading.get_ident()), "connection_count")
        server.connection_count = 2
        server.emit_from_thread("connect")
        assert controls.connection_count == 0  # not touched from the server thread
        with contextlib.suppress(TimeoutError):
            await until(lambda: controls.connection_count == 2, 2.0)
        assert controls.connection_count == 2
        assert updates == [main_thread]
        controls.close()
        assert server.listeners == []
        server.emit_from_thread("disconnect")  # after close: ignored, no error
        await asyncio.sleep(0.02)

    arun(main())


def test_server_events_after_the_loop_closed_are_dropped() -> None:
    server = FakeServer()

    async def build() -> ServerControls:
        return ServerControls(server)

    controls = arun(build())
    server.emit_from_thread("connect")  # the loop is gone: dropped, no exception
    controls.close()


# -- message log and timeline ---------------------------------------------------------


def test_message_log_filters_by_type_and_direction() -> None:
    client = FakeClient()
    client.frame("in", "welcome")  # already there before the log: shown too
    log = MessageLog(client, 3, interval=0)
    try:
        client.frame("out", "ping")
        client.frame("in", "pong")
        client.frame("in", "proposal.created", "proposals")
        client.frame("out", "ping")
        client.frame("in", "pong")
        assert log.total == 6
        assert [r[2] for r in log.rows()] == ["proposal.created", "ping", "pong"]
        assert log.types == ["ping", "pong", "proposal.created", "welcome"]
        assert list(log.type_select.options) == ["all", *log.types]
        log.type_select.value = "ping"
        assert log.type_filter == "ping"
        assert [r[0] for r in log.rows()] == [2, 5]
        log.type_filter = "all"
        log.direction_filter = "in"
        assert log.direction_select.value == "in"
        assert [r[2] for r in log.rows()] == ["pong", "proposal.created", "pong"]
        text = log.summary()
        assert "proposals" in text and "direction=in" in text
        assert "proposal.created" in log.table.value
    finally:
        log.close()


def test_message_log_escapes_html_and_throttles() -> None:
    async def main() -> None:
        client = FakeClient()
        log = MessageLog(client, interval=0.05)
        for _ in range(50):
            client.frame("in", "<script>")
        assert "no frames yet" in log.table.value  # not re-rendered 50 times
        log.flush()
        assert "<script>" not in log.table.value and "&lt;script&gt;" in log.table.value
        client.frame("in", "late")
        log.close()  # cancels the pending render
        await asyncio.sleep(0.1)
        assert "late" not in log.table.value

    arun(main())


def test_timeline_view_from_a_client_or_a_timeline() -> None:
    async def main() -> None:
        client = FakeClient()
        view = TimelineView(client, interval=0.02)
        bare = TimelineView(client.timeline, interval=0)
        assert view.timeline is client.timeline
        client.connect()
        assert bare.entry_count == 2 and bare.picture.value == client.timeline.to_svg()
        with contextlib.suppress(TimeoutError):
            await until(lambda: view.entry_count == 2, 1.0)
        assert view.entry_count == 2
        assert view.picture.value == view.to_svg() == view.svg
        assert view.picture.value.startswith("<svg")
        assert view.snapshot().to_svg() == view.to_svg()
        assert "data:image/svg+xml;base64," in view.snapshot()._repr_html_()
        assert view.summary() == client.timeline.to_text()
        view.close()
        bare.close()
        assert client.timeline._listeners == [client.timeline._listeners[0]]  # the fake's own

    arun(main())


def test_dashboard_records_faults_in_the_timeline_and_closes_everything() -> None:
    client, server = FakeClient(), FakeServer()
    dash = Dashboard(client, server)
    client.connect()
    dash.controls.buttons["freeze"].click()
    assert client.timeline.entries[-1].kind == "note"
    assert client.timeline.entries[-1].text == "server frozen (half-open)"
    text = dash.summary()
    assert text.startswith("state: [●] Connected")
    assert "server: frozen" in text and "server frozen" in text
    parts = [dash.badge, dash.notice, dash.controls, dash.timeline, dash.messages]
    dash.close()
    assert all(p.closed for p in parts)
    assert client.listeners == [] and server.listeners == []
    assert len(client.timeline._listeners) == 1  # the fake's own forwarder
    assert all(b.comm is None for b in dash.controls.buttons.values())
    assert isinstance(dash, w.VBox)


def test_a_displayed_widget_leaves_a_static_picture_when_it_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import IPython.display

    shown: list[tuple[dict[str, str], str]] = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda bundle, raw, display_id: shown.append((bundle, display_id)))
    updates: list[tuple[dict[str, str], str]] = []
    monkeypatch.setattr(IPython.display, "update_display",
                        lambda bundle, raw, display_id: updates.append((bundle, display_id)))
    client, server = FakeClient(), FakeServer()
    dash = Dashboard(client, server)
    client.connect()
    dash._ipython_display_()  # what IPython calls for a cell's last expression
    (live, display_id), = shown
    assert WIDGET_MIME in live and live["text/html"].startswith('<div class="wslearn-static"')
    dash.controls.buttons["stop"].click()
    dash.close()
    (bundle, updated), = updates
    assert updated == display_id and set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == live["text/plain"]  # nbval's stable line
    html = bundle["text/html"]
    assert html.startswith('<div class="wslearn-static"') and "snapshot" in html
    assert "Connected" in html and "stopped" in html  # the last state, not the first
    assert "data:image/svg+xml;base64," in html  # the timeline as an <img>: no trust needed
    assert "<svg" not in html and "<script" not in html
    dash.close()
    assert len(updates) == 1  # once


def test_a_paused_client_says_so_on_its_badge() -> None:
    client = FakeClient()
    client.paused = True
    badge = ConnectionBadge(client)
    client.connect()
    assert badge.paused and "paused (step mode)" in badge.pill.value
    badge.close()


# -- against the real server ----------------------------------------------------------


async def _until(predicate, what: str, timeout: float = 20.0) -> None:
    """Wait for a condition with ``wslearn.until`` (never asserts how long it took)."""
    await until(predicate, timeout, what=what)


def test_server_controls_against_a_real_server() -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    from wslearn.server import serve

    async def main() -> None:
        server = serve()
        controls = ServerControls(server, refresh_interval=0.01)
        try:
            assert controls.status == "running" and controls.connection_count == 0
            async with connect(server.url(), proxy=None) as ws:
                await ws.recv()  # welcome
                await _until(lambda: controls.connection_count == 1, "1 connection")
                assert controls.handshake_attempts == 1

                controls.buttons["refuse"].click()
                assert controls.busy and all(b.disabled for b in controls.buttons.values())
                await controls.run("refuse")  # already running: waits for the same one
                assert controls.status == "refusing" and not controls.busy
                with pytest.raises(InvalidStatus):
                    await connect(server.url(), proxy=None)
                await _until(lambda: controls.handshake_attempts == 2, "a refused handshake")
                await controls.run("accept_again")
                assert controls.status == "running"

                await controls.run("freeze")
                assert controls.status == "frozen" and controls.buttons["thaw"].disabled is False
                await controls.run("thaw")

                # Stop from a button while the client on *this* loop must answer the
                # close handshake: the action runs in a worker thread, the loop stays free.
                controls.buttons["stop"].click()
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            await controls.run("stop")
            assert controls.status == "stopped" and controls.connection_count == 0
            assert controls.buttons["start"].disabled is False
            await controls.run("start")
            assert controls.status == "running"
            assert controls.message == "server started"
            assert "handshake attempts: 2" in controls.summary()
        finally:
            controls.close()
            server.stop()
        assert server._listeners == []

    arun(main())


def _labels(badge: ConnectionBadge) -> list[str]:
    """Every label the badge shows from now on (fast transitions are not missed)."""
    seen = [badge.label]
    badge.observe(lambda change: seen.append(change["new"]), "label")
    return seen


def test_stop_reconnecting_then_unavailable_then_reconnect_connects() -> None:
    """Issue 4: Stop -> the badge shows reconnecting, then disconnected after 5
    attempts (sped-up clock); Reconnect -> connected, attempts start over."""
    from wslearn.client import Client
    from wslearn.clock import SpedUpClock
    from wslearn.server import serve

    async def main() -> None:
        server = serve()
        client = Client(server.url(topics=["analysis"]), clock=SpedUpClock(50))
        dash = None
        try:
            await client.connect()
            dash = Dashboard(client, server)
            badge, notice = dash.badge, dash.notice
            assert badge.label == "Connected" and not notice.visible
            labels = _labels(badge)

            server.publish("analysis", "analysis.done", id=1)
            await _until(lambda: dash.messages.total >= 2, "welcome + one event")
            dash.messages.flush()
            assert [r[2] for r in dash.messages.rows()][-1] == "analysis.done"

            dash.controls.buttons["stop"].click()
            await client.wait_for("disconnected", timeout=120)  # clock seconds
            await dash.controls.run("stop")  # the click's action has finished too
            assert badge.label == "Disconnected — WebSocket unavailable"
            assert badge.colour == RED and badge.state == "disconnected"
            assert notice.visible and notice.layout.display == ""
            assert "all 5 reconnect attempts failed" in notice.text.value
            assert labels[:2] == ["Connected", "Reconnecting — attempt 1/5, next in 1 s"]
            for n, delay in [(2, 2), (3, 4), (4, 8), (5, 16)]:
                assert f"Reconnecting — attempt {n}/5, next in {delay} s" in labels
            assert labels[-1] == "Disconnected — WebSocket unavailable"
            assert dash.controls.status == "stopped"

            dash.flush()
            attempts = [e for e in dash.timeline.timeline.entries if e.kind == "attempt"]
            assert [e.attempt for e in attempts] == [1, 2, 3, 4, 5]
            assert dash.timeline.entry_count == len(client.timeline)
            assert dash.timeline.picture.value == client.timeline.to_svg()
            assert "server stopped" in dash.timeline.summary()  # the fault, as a note
            assert dash.timeline.summary().index("server stopped") < dash.timeline.summary().index(
                "attempt 1/5"
            )

            await dash.controls.run("start")
            labels.clear()
            notice.button.click()
            await notice.reconnect_task
            await client.wait_for("connected", timeout=60)
            assert badge.label == "Connected" and not notice.visible
            assert labels == ["Connecting…", "Connected"]
            assert await dash.controls.wait_for_connections(1) == 1
            assert dash.controls.connection_count == 1
            summary = dash.summary()
            assert summary.startswith("state: [●] Connected")
            assert "reconnect requested" in summary
        finally:
            if dash is not None:
                await dash.aclose()
            await client.close()
            server.stop()
        assert client._listeners == [] and server._listeners == []

    arun(main(), timeout=90)


def test_freeze_makes_the_heartbeat_detection_visible_in_the_timeline() -> None:
    """Issue 4: Freeze -> no pong -> the heartbeat notices, on the timeline."""
    from wslearn.client import Client
    from wslearn.clock import SpedUpClock
    from wslearn.heartbeat import HeartbeatPolicy
    from wslearn.server import serve

    async def main() -> None:
        server = serve()
        client = Client(
            server.url(),
            clock=SpedUpClock(50),
            heartbeat=HeartbeatPolicy(interval=5, timeout=2),
        )
        dash = None
        try:
            await client.connect()
            dash = Dashboard(client, server)
            await _until(lambda: "pong" in client.timeline.kinds(), "a first pong")
            with pytest.raises(TimeoutError):
                await dash.controls.wait_for_connections(2, timeout=0.05)
            labels = _labels(dash.badge)
            await dash.controls.run("freeze")
            assert dash.controls.status == "frozen"
            await client.wait_for("reconnecting", timeout=120)
            await dash.controls.run("thaw")
            await client.wait_for("connected", timeout=120)
            dash.flush()

            kinds = dash.timeline.timeline.kinds()
            frozen = kinds.index("note")
            after = dash.timeline.timeline.entries[frozen:]
            assert after[0].text == "server frozen (half-open)"
            assert [e.kind for e in after][:3] == ["note", "ping", "lost"]
            assert "no pong within 2.0s" in after[2].text
            assert "server thawed" in [e.text for e in after]
            assert labels[1] == "Reconnecting — attempt 1/5, next in 1 s"
            assert labels[-1] == "Connected"
            text = dash.timeline.summary()
            assert "ping sent; pong due within 2.0s" in text
            assert "no pong within 2.0s: connection presumed dead" in text
            # the picture draws what the text says: pings, pongs, the lost mark, the note
            svg = dash.timeline.picture.value
            assert svg == client.timeline.to_svg() and "server frozen" in svg
            sent = [f for f in client.frames if f.direction == "out" and f.type == "ping"]
            assert sent and "ping" in dash.messages.types and "pong" in dash.messages.types
        finally:
            if dash is not None:
                await dash.aclose()
            await client.close()
            server.stop()

    arun(main(), timeout=90)


def test_dashboard_without_a_server() -> None:
    client = FakeClient()
    dash = Dashboard(client)
    try:
        assert dash.controls is None
        assert dash.plain_text().startswith("Dashboard(client)  [live widget:")
        client.connect()
        client.lose()
        text = dash.summary()
        assert text.splitlines()[0] == "state: [↻] Reconnecting — attempt 1/5, next in 1 s"
        assert "server:" not in text
    finally:
        dash.close()
    assert client.listeners == []


def test_a_client_on_another_threads_loop_is_marshalled_and_reconnected_there() -> None:
    async def main() -> None:
        client = FakeClient()
        badge = ConnectionBadge(client)
        owner = threading.get_ident()
        threads: set[int] = set()
        badge.observe(lambda _c: threads.add(threading.get_ident()), "label")
        other = asyncio.new_event_loop()
        thread = threading.Thread(target=other.run_forever, name="other-loop")
        thread.start()
        try:

            async def outage() -> None:
                client.connect()
                client.lose()
                for n in range(1, 6):
                    client.attempt(n)
                    if n < 5:
                        client.fail(n)
                client.give_up()

            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(outage(), other))
            await _until(lambda: badge.notice.visible, "the notice")
            assert badge.label == "Disconnected — WebSocket unavailable"
            task = badge.notice.reconnect()  # runs on the client's loop, not ours
            await asyncio.wrap_future(task)
            await _until(lambda: badge.label == "Connected", "connected again")
            assert client.reconnects == 1
            assert threads == {owner}  # every trait change happened on the owner thread
        finally:
            badge.close()
            other.call_soon_threadsafe(other.stop)
            thread.join()
            other.close()

    arun(main())


def test_server_controls_aclose_waits_for_a_running_action() -> None:
    async def main() -> None:
        server = FakeServer()
        release = threading.Event()
        started = threading.Event()

        def slow_freeze() -> None:
            started.set()
            release.wait(10)
            server.calls.append("freeze")

        server.freeze = slow_freeze  # type: ignore[method-assign]
        controls = ServerControls(server)
        controls.buttons["freeze"].click()
        assert controls.busy and controls.message == "server frozen (half-open) …"
        controls.buttons["stop"].click()  # ignored while busy (and disabled anyway)
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        closing = asyncio.ensure_future(controls.aclose())
        await asyncio.sleep(0.05)
        assert not closing.done()  # still waiting for the worker thread
        release.set()
        await closing
        assert server.calls == ["freeze"]
        assert controls.closed

    arun(main())
