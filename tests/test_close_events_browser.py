"""What a browser's ``WebSocket`` reports when a connection ends (issue 17, chapter 01).

- A server close frame (1011 after an exception in the endpoint, or any code) gives the
  page ``close`` with ``wasClean === true`` and **no** ``error`` event.
- A TCP reset after open gives ``close`` 1006 with ``wasClean === false``, still without
  ``error`` in Chromium: the connection was closed (RFC 6455 section 7.1.5), not failed.
- A refused handshake *fails* the connection: ``error``, then ``close`` 1006. WHATWG
  WebSockets: ``error`` is fired only when the connection is failed.
- The page's own ``ws.close()`` without arguments sends a close frame with no code, so
  server and page both see 1005; ``ws.close(1000)`` sends 1000.

Shown in Debian's chromium against the real in-kernel server, so the chapter's sentences
are demonstrations, not quotes.
"""

from __future__ import annotations

import time

import pytest
from browser_support import WAIT_MS, Browser, require_chromium

import wslearn
from wslearn import App, WebSocket, topic_app
from wslearn.app import HttpRequest, HttpResponse

#: Open one socket to ``url`` (``server.url(path)``: it carries the server's key);
#: record its events in ``window.__events``.
OPEN_AND_RECORD = """(url) => {
  const events = window.__events = []
  const ws = window.__ws = new WebSocket(url)
  ws.onopen = () => events.push({ type: 'open' })
  ws.onmessage = (e) => events.push({ type: 'message', data: e.data })
  ws.onerror = () => events.push({ type: 'error' })
  ws.onclose = (e) => events.push({ type: 'close', code: e.code, reason: e.reason,
                                    wasClean: e.wasClean })
}"""

OPENED = "() => window.__events.some((e) => e.type === 'open')"

CLOSED = "() => window.__events.some((e) => e.type === 'close')"


def _wait_for(condition, timeout: float = 30.0) -> None:
    """Wait for a condition set from the server's thread (a condition, not a duration)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the server"
        time.sleep(0.01)


def with_page(app: App | None = None) -> App:
    """``app`` (default: a topic app) plus ``/page``, an empty HTML page of the server's own
    origin, so the Origin check passes. It gets the server's page policy (``connect-src
    'self'``); the server's other answers (``/style.css``, JSON) allow no connection at all."""
    app = topic_app() if app is None else app

    @app.http("/page")
    async def page(request: HttpRequest) -> HttpResponse:
        return HttpResponse(content_type="text/html; charset=utf-8",
                            body=b"<!doctype html><title>close events</title>")

    return app


@pytest.fixture(scope="module")
def browser():
    driver = Browser(require_chromium())
    yield driver
    driver.close()


def _events_until_close(browser, server, act, path="/ws"):
    """Open a socket from a page of ``server``'s own origin, run ``act()``, return the events."""
    page = browser.new_page()
    try:
        page.goto(server.http_url("/page"))
        page.evaluate(OPEN_AND_RECORD, server.url(path))
        page.wait_for_function(OPENED, timeout=WAIT_MS)
        act(page)
        page.wait_for_function(CLOSED, timeout=WAIT_MS)
        events = page.evaluate("() => window.__events")
        assert page.errors == []
        return events
    finally:
        page.context.close()


@pytest.mark.browser
def test_exception_in_the_endpoint_is_a_clean_1011_close_without_error_event(browser):
    buggy = App()

    @buggy.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        message = await websocket.receive_json()
        await websocket.send_json({"type": "hello", "user": message["user_id"]})  # KeyError

    with wslearn.serve(with_page(buggy)) as server:
        events = _events_until_close(
            browser,
            server,
            lambda page: page.evaluate("() => window.__ws.send(JSON.stringify({ type: 'hello' }))"),
        )
    kinds = [e["type"] for e in events]
    assert "error" not in kinds, events
    close = events[-1]
    assert close["type"] == "close" and close["code"] == 1011 and close["wasClean"] is True


@pytest.mark.browser
def test_server_close_with_1011_fires_close_with_wasclean_and_no_error(browser):
    with wslearn.serve(with_page()) as server:
        events = _events_until_close(browser, server, lambda page: server.drop_all(1011))
    assert [e["type"] for e in events if e["type"] != "message"] == ["open", "close"], events
    assert events[-1]["code"] == 1011 and events[-1]["wasClean"] is True


@pytest.mark.browser
def test_tcp_reset_after_open_is_close_1006_not_clean_and_still_no_error(browser):
    """No close frame: 1006 and ``wasClean === false`` -- yet no ``error`` either. The
    connection was *closed* (RFC 6455 section 7.1.5), not *failed*: ``error`` is for
    failures such as a refused handshake (next test)."""
    with wslearn.serve(with_page()) as server:
        events = _events_until_close(browser, server, lambda page: server.drop_all())
    assert [e["type"] for e in events if e["type"] != "message"] == ["open", "close"], events
    assert events[-1]["code"] == 1006 and events[-1]["wasClean"] is False


@pytest.mark.browser
def test_refused_handshake_fires_error_then_close_1006(browser):
    """A handshake answered with 404 (not 101) fails the connection: error, then close 1006."""
    with wslearn.serve(with_page()) as server:
        page = browser.new_page()
        try:
            page.goto(server.http_url("/page"))
            # with the key, so the refusal is the path's 404, not the key's 403
            page.evaluate(OPEN_AND_RECORD, server.url("/nope"))
            page.wait_for_function(CLOSED, timeout=WAIT_MS)
            events = page.evaluate("() => window.__events")
        finally:
            page.context.close()
    assert [e["type"] for e in events] == ["error", "close"], events
    assert events[-1]["code"] == 1006 and events[-1]["wasClean"] is False


@pytest.mark.browser
@pytest.mark.parametrize(("args", "code"), [("", 1005), ("1000", 1000), ("4000, 'done'", 4000)])
def test_browser_close_without_a_code_sends_none_so_the_server_sees_1005(browser, args, code):
    """``ws.close()`` with no argument sends a close frame with no status code (WHATWG:
    no body), which both ends report as 1005; ``ws.close(1000)`` is needed for 1000."""
    with wslearn.serve(with_page()) as server:
        seen: list[int] = []
        server.add_listener(lambda event, info: event == "disconnect" and seen.append(info["code"]))
        page = browser.new_page()
        try:
            page.goto(server.http_url("/page"))
            page.evaluate(OPEN_AND_RECORD, server.url("/ws"))
            page.wait_for_function(OPENED, timeout=WAIT_MS)
            page.evaluate(f"() => window.__ws.close({args})")
            page.wait_for_function(CLOSED, timeout=WAIT_MS)
            events = page.evaluate("() => window.__events")
            _wait_for(lambda: seen)
        finally:
            page.context.close()
    assert events[-1]["code"] == code and events[-1]["wasClean"] is True
    assert seen == [code]
