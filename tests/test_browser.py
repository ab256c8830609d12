"""The browser lab (issue 7): the page's files, its Python helpers, and the page itself in
Debian's chromium driven by Playwright against the real in-kernel server.

The browser tests share one chromium per module (launching it per test would cost more
than the tests). The Playwright driver and its threads are started by the module-scoped
``browser`` fixture, i.e. before the first test's leak snapshot and stopped after the
last test's leak check, so the autouse leak guard still checks every test's *own*
threads and sockets (servers, connections): no test needs ``allow_leaks``.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from browser_support import (
    WAIT_MS,
    Browser,
    cache_row,
    jupyter_lab,
    lab_pages,
    log_types,
    planned_delays,
    require_chromium,
    run_all_cells,
    screenshot,
    state_history,
    states_seen,
    timeline,
)

from wslearn import page as lab

# ---------------------------------------------------------------- the files, no browser


def test_respond_serves_the_three_files_at_their_paths():
    for path, kind in [
        ("/", "text/html"),
        ("/lab", "text/html"),
        ("/lab?topics=analysis&speed=20", "text/html"),
        ("/client.js", "text/javascript"),
        ("/style.css", "text/css"),
    ]:
        answer = lab.respond(path)
        assert answer is not None, path
        content_type, body = answer
        assert content_type.startswith(kind) and "charset=utf-8" in content_type
        assert body
    # /lab/ would make the page's relative URLs resolve under /lab/: not served on purpose
    for path in ["/lab/", "/nope", "/api/topics/x", "/../pyproject.toml", "/__init__.py"]:
        assert lab.respond(path) is None, path


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.refs += [value for name, value in attrs if name in {"src", "href"} and value]


def test_the_page_loads_nothing_from_elsewhere():
    """Offline and proxy-friendly: every reference is relative (or data:), no CDN."""
    parser = _Refs()
    parser.feed(lab.source("index.html"))
    assert parser.refs and set(parser.refs) >= {"client.js", "style.css"}
    for ref in parser.refs:
        assert ref.startswith("data:") or not re.match(r"^([a-z]+:)?//|^/", ref), ref
    js = lab.source("client.js")
    assert not re.search(r"""(fetch|WebSocket|import)\(\s*['"`](https?|wss?):""", js)
    assert "new URL('ws', location.href)" in js  # the socket URL comes from the page's own
    assert "'api/topics/'" in js  # and so does the cache's HTTP URL
    assert "@import" not in lab.source("style.css") and "url(" not in lab.source("style.css")


def test_source_parts_follow_the_seed_hook():
    names = lab.parts()
    assert names == [
        "settings", "timers", "connection", "heartbeat", "recovery", "messages", "cache", "page",
        "mount",
    ]
    whole = lab.source()
    assert all(lab.source(part=name) in whole for name in names)
    heartbeat = lab.source(part="heartbeat")
    assert heartbeat.startswith("// ---- heartbeat:") and "pong timeout" in heartbeat
    assert "// ---- messages" not in heartbeat
    with pytest.raises(ValueError, match="parts: settings"):
        lab.source(part="nope")
    with pytest.raises(ValueError, match=r"client\.js"):
        lab.source("secret.txt")


def _fake_server(port: int = 45678) -> SimpleNamespace:
    return SimpleNamespace(
        host="127.0.0.1", port=port, http_url=lambda path="/": f"http://127.0.0.1:{port}{path}"
    )


def test_lab_url_carries_the_page_settings(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    server = _fake_server()
    assert lab.lab_url(server) == "http://127.0.0.1:45678/lab"
    url = lab.lab_url(
        server, topics=["analysis", "proposals"], speed=20, pong_timeout=10, max_attempts=5
    )
    assert url == (
        "http://127.0.0.1:45678/lab?topics=analysis,proposals&speed=20&pongTimeout=10&maxAttempts=5"
    )
    assert lab.lab_url(server, proxy="/") == "/proxy/45678/lab"
    assert lab.lab_url(server, proxy="/user/ada", topics="analysis") == (
        "/user/ada/proxy/45678/lab?topics=analysis"
    )
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    assert lab.lab_url(server) == "/user/ada/proxy/45678/lab"  # JupyterHub: through the proxy
    assert lab.lab_url(server, proxy=False) == "http://127.0.0.1:45678/lab"
    with pytest.raises(TypeError, match="pongtimeout"):
        lab.lab_url(server, pongtimeout=3)


def test_open_lab_is_an_iframe_and_a_link_with_a_port_free_text(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    texts = set()
    for port in (45678, 45679):
        view = lab.open_lab(_fake_server(port), height=300, speed=4)
        try:
            bundle = view._repr_mimebundle_()
            texts.add(bundle["text/plain"])
            assert "application/vnd.jupyter.widget-view+json" in bundle
            # nbval compares text/html: the static picture keeps ports out of it
            assert "4567" not in bundle["text/html"] and "wslearn-static" in bundle["text/html"]
            assert f'<iframe src="http://127.0.0.1:{port}/lab?speed=4"' in view.value
            assert 'height="300"' in view.value
            assert f'<a href="http://127.0.0.1:{port}/lab?speed=4" target="_blank"' in view.value
        finally:
            view.close()
    assert texts == {
        "Browser lab: the page in an iframe and a link to open it in its own tab"
        " (server on 127.0.0.1)"
    }
    assert "4567" not in texts.pop()


def test_missing_chromium_skips_by_hand_and_fails_under_ci(monkeypatch):
    import browser_support

    monkeypatch.setattr(browser_support, "find_chromium", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="sudo apt-get install chromium"):
        browser_support.require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install chromium.*CI=true"):
        browser_support.require_chromium()


# ---------------------------------------------------------------- the page in chromium


@pytest.fixture(scope="module")
def browser():
    chromium = require_chromium()
    driver = Browser(chromium)
    yield driver
    driver.close()


@pytest.fixture
def server():
    from wslearn.server import serve

    with serve() as running:
        yield running


@pytest.fixture
def open_page(browser, server):
    """Open the lab of ``server`` with page settings; closed before the server stops."""
    with lab_pages(browser) as opener:
        yield lambda **params: opener(server, **params)


def expect_text(locator, text, timeout=WAIT_MS):
    from playwright.sync_api import expect

    expect(locator).to_have_text(text, timeout=timeout)


def contains_text(locator, text, timeout=WAIT_MS):
    from playwright.sync_api import expect

    expect(locator).to_contain_text(text, timeout=timeout)


@pytest.mark.browser
def test_page_connects_and_shows_events_of_its_topics_only(server, open_page):
    requests: list[str] = []
    page = open_page(topics="analysis,proposals", ping=600)
    page.on("request", lambda request: requests.append(request.url))
    expect_text(page.locator("#state"), "connected")
    contains_text(page.locator("#log"), "welcome")  # the server registered our topics
    assert server.publish("knowledge", "knowledge.added", id=1) == 0
    assert server.publish("analysis", "analysis.done", id=2) == 1
    assert server.publish("proposals", "proposal.created", id=7) == 1
    contains_text(page.locator("#log"), "proposal.created")
    assert log_types(page, "in") == ["welcome", "analysis.done", "proposal.created"]
    assert "knowledge" not in page.locator("#log").inner_text()
    expect_text(page.locator("#topics"), "analysis, proposals")
    assert page.locator("#notice").is_hidden() and page.locator("#reconnect").is_hidden()
    # Everything the page loaded came from its own server (no CDN, offline).
    origin = server.http_url("/").rstrip("/")
    page.reload()
    expect_text(page.locator("#state"), "connected")
    assert requests and all(url.startswith(origin + "/") for url in requests), requests
    assert {urlsplit(url).path for url in requests} >= {"/lab", "/client.js", "/style.css"}


@pytest.mark.browser
def test_subscribe_and_unsubscribe_without_reconnecting(server, open_page):
    page = open_page(topics="analysis", ping=600)
    expect_text(page.locator("#state"), "connected")
    contains_text(page.locator("#log"), "welcome")
    page.fill("#topic", "knowledge")
    page.press("#topic", "Enter")  # the form submits = Subscribe
    expect_text(page.locator("#topics"), "analysis, knowledge")
    expect_text(cache_row(page, "topics/knowledge").locator("td").nth(4), "fresh")
    server.publish("knowledge", "knowledge.added", id=3)
    contains_text(page.locator("#log"), "knowledge.added")
    page.fill("#topic", "analysis")
    page.click("#unsubscribe")
    expect_text(page.locator("#topics"), "knowledge")
    assert cache_row(page, "topics/analysis").count() == 0  # its query went with it
    assert log_types(page, "out") == ["subscribe", "unsubscribe"]
    assert server.handshake_attempts == 1  # one connection the whole time
    # A bad topic is refused by the server with an error frame; the socket stays open.
    page.fill("#topic", "Not A Topic")
    page.click("#subscribe")
    contains_text(page.locator("#timeline"), "server error bad-topic")
    expect_text(page.locator("#state"), "connected")


@pytest.mark.browser
def test_push_invalidates_and_refetches_the_cache_entry(server, open_page):
    page = open_page(topics="analysis", ping=600)
    cells = cache_row(page, "topics/analysis").locator("td")
    expect_text(cells, ["topics/analysis", "0", "", "1", "fresh"])  # first fetch over HTTP
    server.publish("analysis", "analysis.done", id=1, score=0.9)
    expect_text(cells, ["topics/analysis", "1", "analysis.done", "2", "fresh"])
    server.publish("analysis", "analysis.updated", id=1)
    expect_text(cells, ["topics/analysis", "2", "analysis.updated", "3", "fresh"])
    fetched = page.evaluate("() => lab.queries.get('topics/analysis').data")
    assert fetched["topic"] == "analysis" and fetched["version"] == 2
    assert fetched["last"]["type"] == "analysis.updated"


@pytest.mark.browser
def test_a_reconnect_refetches_what_it_missed(server, open_page):
    page = open_page(topics="analysis", ping=600, speed=5, max_attempts=7)  # up to 25 s refused
    cells = cache_row(page, "topics/analysis").locator("td")
    expect_text(cells.nth(3), "1")
    server.refuse()
    server.drop_all(1012)
    expect_text(page.locator("#state"), "reconnecting")
    assert server.publish("analysis", "analysis.done", id=1) == 0  # nobody hears it
    server.accept_again()
    expect_text(page.locator("#state"), "connected")
    expect_text(cells, ["topics/analysis", "1", "analysis.done", "2", "fresh"])
    assert "analysis.done" not in log_types(page, "in")  # the refetch, not a push, brought it
    assert any("closed 1012" in line for line in timeline(page))


@pytest.mark.browser
def test_stopped_server_backoff_then_unavailable_then_reconnect_button(server, open_page):
    page = open_page(topics="analysis", ping=600, speed=20)  # 1+2+4+8+16 s in 1.55 s
    expect_text(page.locator("#state"), "connected")
    state_history(page)
    server.stop()
    expect_text(page.locator("#state"), "disconnected")
    assert states_seen(page) == ["connected", "reconnecting", "disconnected"]
    assert planned_delays(page) == [1, 2, 4, 8, 16]
    assert any("attempt 5/5 in 16s" in line for line in timeline(page))
    assert timeline(page)[-1].endswith("disconnected: WebSocket unavailable")
    contains_text(page.locator("#notice"), "WebSocket unavailable")
    reconnect = page.get_by_role("button", name="Reconnect")
    assert reconnect.is_visible()
    assert page.get_by_role("status").inner_text() == "disconnected"
    screenshot(page, "browser-lab-unavailable.png")
    server.start()  # the same port again
    reconnect.click()
    expect_text(page.locator("#state"), "connected")
    assert page.locator("#notice").is_hidden()
    contains_text(page.locator("#timeline"), "Reconnect clicked: attempts reset")
    path = screenshot(page, "browser-lab-reconnect.png")
    assert path.stat().st_size > 10_000


@pytest.mark.browser
def test_frozen_server_is_detected_by_the_heartbeat(server, open_page):
    # ping every 0.5 s, pong timeout 1 s, handshake timeout 1 s (speed 4)
    page = open_page(topics="analysis", speed=4, ping=2, pong_timeout=4, open_timeout=4)
    expect_text(page.locator("#state"), "connected")
    contains_text(page.locator("#log"), "pong")  # the heartbeat works while all is well
    before = len(timeline(page))
    server.freeze()  # socket open, nothing answered: a half-open connection
    contains_text(page.locator("#timeline"), "closed 1006 (pong timeout)")  # a local abnormal close
    assert any("pong timeout" in line for line in timeline(page)[before:])
    server.thaw()
    expect_text(page.locator("#state"), "connected")
    assert server.handshake_attempts >= 2
    screenshot(page, "browser-lab-heartbeat.png")


@pytest.mark.browser
def test_cleanup_closes_and_never_reconnects(server, open_page):
    page = open_page(topics="analysis", speed=20, ping=600)
    expect_text(page.locator("#state"), "connected")
    page.click("#cleanup")
    expect_text(page.locator("#state"), "closed")
    contains_text(page.locator("#timeline"), "closed: cleanup: timers cleared, socket closed")
    contains_text(page.locator("#timeline"), "closed 1000 (cleanup)")
    # The seed's bug would schedule a reconnect here (its onclose sets a timer nobody
    # clears). Its onclose has run (the line above), and no timer at all is armed: nothing
    # is left that could reopen the socket -- a condition, not a fixed wait.
    assert page.evaluate("() => lab.armed") == []
    expect_text(page.locator("#state"), "closed")
    assert server.handshake_attempts == 1
    assert page.evaluate("() => lab.attempt") == 0


@pytest.mark.browser
def test_a_failing_handler_does_not_kill_the_socket(server, open_page):
    page = open_page(topics="analysis", ping=600)
    expect_text(page.locator("#state"), "connected")
    page.evaluate("() => { lab.handlers['analysis.bad'] = () => { throw new Error('bug') } }")
    server.publish("analysis", "analysis.bad")
    server.publish("analysis", "analysis.done")
    contains_text(page.locator("#log"), "analysis.done")
    contains_text(page.locator("#timeline"), 'handler "analysis.bad" failed: Error: bug')
    expect_text(page.locator("#state"), "connected")


@pytest.mark.browser
def test_page_works_behind_a_proxy_path(browser):
    """JupyterHub + jupyter-server-proxy serve the page at /user/NAME/proxy/PORT/: the page
    must build its socket and fetch URLs from its own location (here: https -> wss)."""
    prefix = "/user/ada/proxy/8765"
    seen: dict[str, list[str]] = {"http": [], "ws": []}

    def http(route):
        url = urlsplit(route.request.url)
        seen["http"].append(url.path)
        path = url.path.removeprefix(prefix)
        if path.startswith("/api/topics/"):
            topic = path.rsplit("/", 1)[1]
            body = json.dumps({"topic": topic, "version": 0, "last": None})
            return route.fulfill(status=200, content_type="application/json", body=body)
        answer = lab.respond(path)
        if answer is None:
            return route.fulfill(status=404, body="")
        return route.fulfill(status=200, content_type=answer[0], body=answer[1])

    def socket(ws):
        seen["ws"].append(ws.url)
        ws.send(json.dumps({"type": "welcome", "topics": ["analysis"]}))

    page = browser.new_page()
    try:
        page.context.route("https://hub.test/**", http)
        page.route_web_socket(re.compile(r".*/ws(\?.*)?$"), socket)
        page.goto(f"https://hub.test{prefix}/lab?topics=analysis&ping=600")
        expect_text(page.locator("#state"), "connected")
        expect_text(cache_row(page, "topics/analysis").locator("td").nth(4), "fresh")
        assert seen["ws"] == [f"wss://hub.test{prefix}/ws?topics=analysis"]
        assert f"{prefix}/api/topics/analysis" in seen["http"]
        assert all(path.startswith(prefix + "/") for path in seen["http"]), seen["http"]
        assert page.errors == []
    finally:
        page.context.close()


LAB_NOTEBOOK = [
    """\
from wslearn import serve
from wslearn.page import open_lab
from wslearn.widgets import ServerControls

server = serve()
ServerControls(server)""",
    "open_lab(server, height=380, topics=['analysis'], speed=20, ping=600)",
]


@pytest.mark.browser
@pytest.mark.slow
def test_notebook_iframe_reacts_to_server_controls(browser, tmp_path):
    """Chapter 09's setup in a real JupyterLab: the lab in an iframe below ServerControls;
    Stop in the notebook -> the page gives up; Start + the page's Reconnect -> connected."""
    with jupyter_lab(tmp_path, LAB_NOTEBOOK) as url:
        page = browser.new_page(width=1100, height=1000)
        try:
            run_all_cells(page, url)
            frame = page.frame_locator('iframe[title="wslearn browser lab"]')
            expect_text(frame.locator("#state"), "connected", timeout=60_000)
            link = page.get_by_role("link", name="Open the browser lab in its own tab")
            src = page.locator('iframe[title="wslearn browser lab"]').get_attribute("src")
            assert link.get_attribute("href") == src and link.get_attribute("target") == "_blank"
            assert src.startswith("http://127.0.0.1:") and re.search(
                r"/lab\?topics=analysis&speed=20&ping=600&key=[\w-]+$", src)  # + the key
            controls = page.locator(".wslearn-server-controls")
            controls.get_by_role("button", name="Stop", exact=True).click()
            expect_text(frame.locator("#state"), "disconnected")
            controls.get_by_role("button", name="Start", exact=True).click()
            controls.get_by_text("server started").wait_for(timeout=WAIT_MS)
            frame.get_by_role("button", name="Reconnect").click()
            expect_text(frame.locator("#state"), "connected")
            assert page.get_by_text("Error displaying widget").count() == 0
            screenshot(page, "browser-lab-in-jupyterlab.png")
            assert page.errors == []
        finally:
            page.context.close()
