"""The React lab end to end: React 19 (development, StrictMode) + TanStack Query 5 in
Debian's chromium against the real in-kernel server, with the network cut (every request
that would leave 127.0.0.1 is blocked and must not happen)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from support import with_key

from wslearn import react
from wslearn.react.mistakes import MISTAKES, fixed_hook, variant

ARTIFACTS = Path(__file__).parent / "artifacts"


# -- no browser needed ---------------------------------------------------------------------


def test_every_mistake_applies_to_the_fixed_hook() -> None:
    for name in MISTAKES:
        text = variant(name)
        assert text != fixed_hook() and text.startswith(f"// hook={name}:")
    assert variant("fixed") == fixed_hook()
    with pytest.raises(KeyError):
        variant("nope")


def test_the_fixed_hook_stays_readable() -> None:
    assert len(fixed_hook().splitlines()) <= 150


def test_my_work_copies_are_made_once_and_never_overwritten(tmp_path: Path) -> None:
    folder = react.my_work_folder(tmp_path / "my-work-root")
    assert sorted(p.name for p in folder.iterdir()) == react.templates()
    mine = folder / "useWebSocket.tsx"
    mine.write_text("// my edit\n")
    (folder / "App.tsx").unlink()
    react.my_work_folder(tmp_path / "my-work-root")
    assert mine.read_text() == "// my edit\n"  # the learner's edit survives
    assert (folder / "App.tsx").is_file()  # a missing file comes back


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_rest_api_and_files(tmp_path: Path) -> None:
    with react.ReactLab(tmp_path) as lab:
        base = lab.server.http_url("/")

        def api(path: str) -> tuple[int, str, bytes]:  # /api/... needs the server's key
            return _get(base + with_key(lab.server, path))

        status, kind, body = api("api/proposals")
        assert status == 200 and kind == "application/json"
        assert [p["id"] for p in json.loads(body)] == [1, 2, 3]
        assert json.loads(api("api/proposals/2")[2])["votes"] == 7
        assert api("api/proposals/99")[0] == 404
        assert api("api/proposals/x")[0] == 404
        assert lab.stats().list_fetches == 1 and lab.stats().detail_fetches == 3
        status, _, body = _get(base + "api/proposals")  # without the key: refused, uncounted
        assert status == 403 and json.loads(body)["error"] == "bad-key"
        assert lab.stats().list_fetches == 1
        assert _get(base + "react")[0] == 200
        assert _get(base + "react/vendor/react.js")[0] == 200
        assert _get(base + "react/src/App.tsx")[0] == 200
        assert _get(base + "react/hooks/no-cleanup.tsx")[0] == 200
        for bad in ("react/vendor/../__init__.py", "react/src/..%2F..%2Fetc.tsx",
                    "react/src/App.py", "react/hooks/unknown.tsx", "react/vendor/LICENSES"):
            assert _get(base + bad)[0] == 404, bad
        lab.update(2, votes=8)
        assert json.loads(api("api/proposals/2")[2])["votes"] == 8
        with pytest.raises(TypeError):
            lab.update(2, colour="red")
        with pytest.raises(ValueError):
            lab.url(hook="nope")


def test_only_the_react_page_may_run_its_blob_modules_and_import_map(tmp_path: Path) -> None:
    def csp(url: str) -> str:
        with urllib.request.urlopen(url, timeout=10) as r:
            return str(r.headers["Content-Security-Policy"])

    with react.ReactLab(tmp_path) as lab:
        page = csp(lab.url())
        script_src = next(d for d in page.split("; ") if d.startswith("script-src "))
        assert script_src.split()[1:] == ["'self'", "blob:", *react.page_script_hashes()]
        assert "unsafe" not in page and "frame-ancestors" in page
        assert len(react.page_script_hashes()) == 1  # the import map, nothing else inline
        # Its scripts and data keep the policy that allows nothing.
        assert csp(lab.server.http_url("/react/loader.js")) == "default-src 'none'"
        assert csp(lab.server.http_url(with_key(lab.server, "/api/proposals"))) == \
            "default-src 'none'"
        # Another HTML page of the same server does not get blob: or the hash.
        @lab.app.http("/other")
        async def other(request: Any) -> Any:
            from wslearn.app import HttpResponse

            return HttpResponse(200, "text/html; charset=utf-8", b"<!doctype html>")

        other_page = csp(lab.server.http_url("/other"))
        assert "script-src 'self';" in other_page and "blob:" not in other_page


def test_the_checker_without_a_browser_says_what_to_install(monkeypatch) -> None:
    import wslearn
    from wslearn.react import driver

    monkeypatch.setattr(driver, "browser_problem", lambda: driver.INSTALL_HINT)
    result = wslearn.check("react_hook", fixed_hook(), record=False)
    assert result.status == "fail" and "apt-get install chromium" in str(result)


def test_the_checker_reports_a_stub_as_not_implemented() -> None:
    import wslearn

    stub = fixed_hook().replace("  return Math.min(1000 * 2 ** (attempt - 1), 30_000)\n",
                                "  # TODO: the delay\n  raise NotImplementedError\n")
    assert wslearn.check("react_hook", stub, record=False).status == "not implemented"


# -- in the browser ------------------------------------------------------------------------


@pytest.fixture
def browser_ok() -> None:
    from browser_support import require_chromium

    require_chromium()


def in_lab(folder: Path, fn: Any, **kwargs: Any) -> Any:
    """Run ``fn(lab, browser)`` with a fresh lab and browser; check nothing left 127.0.0.1."""
    from wslearn.react.driver import in_browser

    pages: list[Any] = []

    def session(browser: Any) -> Any:
        def new_page(*args: Any) -> Any:
            page = browser.new_page(*args)
            pages.append(page)
            return page

        return fn(lab, new_page)

    with react.ReactLab(folder, **kwargs) as lab:
        result = in_browser(session)
    for page in pages:
        assert page.blocked == [], f"requests left 127.0.0.1: {page.blocked}"
        assert all(u.startswith(("http://127.0.0.1:", "blob:", "data:")) for u in page.requests)
    return result


def opened(lab: Any, new_page: Any, hook: str = "mine", **params: Any) -> Any:
    page = new_page()
    url = lab.url(hook=hook, **params)
    page.goto(url + ("&" if "?" in url else "?") + "clock=virtual")
    assert page.errors() == []
    return page


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(page.screenshot())


@pytest.mark.browser
@pytest.mark.parametrize(("hook", "per_mount", "after_toggles"),
                         [("fixed", 1, 0), ("no-cleanup", 2, 10)])
def test_strictmode_double_mount_and_the_leak(browser_ok, tmp_path, hook, per_mount,
                                              after_toggles) -> None:
    def run(lab: Any, new_page: Any) -> None:
        page = opened(lab, new_page, hook=hook)
        page.run_until(1)
        page.wait_for(lambda: lab.server.connection_count == per_mount, 10, "connections")
        page.run_until(2)
        assert lab.server.connection_count == per_mount
        assert lab.server.handshake_attempts == per_mount
        page.close()
        # Ten toggles from unmounted: five mounts, five unmounts.
        page = opened(lab, new_page, hook=hook, mounted=False)
        page.wait_for(lambda: lab.server.connection_count == 0, 10, "first page gone")
        for _ in range(10):
            page.click("#toggle")
            page.run_until(page.now() + 1)
        page.wait_for(lambda: lab.server.connection_count == after_toggles, 10,
                      f"{after_toggles} open")
        page.run_until(page.now() + 5)
        assert lab.server.connection_count == after_toggles
        shot(page, f"react-toggles-{hook}.png")

    in_lab(tmp_path, run)


@pytest.mark.browser
def test_backoff_schedule_give_up_and_reconnect(browser_ok, tmp_path) -> None:
    def run(lab: Any, new_page: Any) -> None:
        page = opened(lab, new_page)
        page.run_until(1, stop=lambda p: p.state() == "connected")
        lab.server.refuse()
        lab.server.drop_all()
        t0 = page.now()
        page.run_until(t0 + 200, stop=lambda p: p.state() == "disconnected")
        page.run_until(t0 + 200)  # and nothing more happens
        connects = [e["t"] - t0 for e in page.events() if e["kind"] == "connect"][1:]
        assert connects == [1, 3, 7, 15, 31]
        assert page.page.inner_text("#toast").startswith("WebSocket unavailable")
        shot(page, "react-toast.png")
        lab.server.accept_again()
        page.click("#reconnect")
        page.run_until(page.now() + 1, stop=lambda p: p.state() == "connected")
        assert page.state() == "connected" and lab.server.connection_count == 1
        assert page.page.locator("#toast").count() == 0

    in_lab(tmp_path, run)


@pytest.mark.browser
def test_push_invalidates_and_the_server_counts_the_refetch(browser_ok, tmp_path) -> None:
    def run(lab: Any, new_page: Any) -> None:
        page = opened(lab, new_page)
        page.run_until(1, stop=lambda p: p.state() == "connected")
        page.page.click("#proposals li:nth-child(2) button")
        page.page.wait_for_selector("#detail >> text=7")
        page.settle()
        assert (lab.stats().list_fetches, lab.stats().detail_fetches) == (1, 1)
        lab.update(2, votes=42, title="Replace polling with pushes (voted)")
        page.page.wait_for_selector("#detail >> text=42")
        page.wait_for(lambda: lab.stats().list_fetches == 2, 10, "the list refetch")
        page.run_until(page.now() + 65)  # two pings, two pongs: no refetch
        assert (lab.stats().list_fetches, lab.stats().detail_fetches) == (2, 2)
        lab.delete(3)
        page.page.wait_for_selector("text=Drop socket.io-client", state="detached")
        shot(page, "react-push.png")

    in_lab(tmp_path, run)


@pytest.mark.browser
def test_missed_events_are_refetched_after_a_reconnect(browser_ok, tmp_path) -> None:
    def run(lab: Any, new_page: Any) -> None:
        page = opened(lab, new_page)
        page.run_until(1, stop=lambda p: p.state() == "connected")
        lab.server.refuse()
        lab.server.drop_all()
        lab.update(1, title="Changed during the outage")  # published to nobody
        page.run_until(page.now() + 2)
        assert page.page.locator("text=Changed during the outage").count() == 0
        lab.server.accept_again()
        page.run_until(page.now() + 10, stop=lambda p: p.state() == "connected")
        page.page.wait_for_selector("text=Changed during the outage")
        assert lab.stats().list_fetches == 2

    in_lab(tmp_path, run)


@pytest.mark.browser
def test_an_edited_hook_runs_after_a_reload_and_a_syntax_error_is_shown(browser_ok,
                                                                         tmp_path) -> None:
    folder = react.my_work_folder(tmp_path)
    hook = folder / "useWebSocket.tsx"

    def run(lab: Any, new_page: Any) -> None:
        page = opened(lab, new_page)
        page.run_until(1, stop=lambda p: p.state() == "connected")
        hook.write_text(hook.read_text().replace("MAX_ATTEMPTS = 5", "MAX_ATTEMPTS = 2"))
        page.page.reload()
        page.page.wait_for_function("() => window.wslearn.ready")
        page.run_until(1, stop=lambda p: p.state() == "connected")
        lab.server.refuse()
        lab.server.drop_all()
        page.run_until(page.now() + 60, stop=lambda p: p.state() == "disconnected")
        assert page.state() == "disconnected"
        assert sum(e["kind"] == "connect" for e in page.events()) == 3  # first + 2 retries
        lab.server.accept_again()

        good = hook.read_text()
        lines = good.splitlines()
        line = next(i for i, t in enumerate(lines, 1) if 'setState("disconnected")' in t)
        # A syntax error inside nested arrow functions: the reported line must be exact.
        hook.write_text(good.replace('setState("disconnected")', 'setState("disconnected"'))
        page.page.reload()
        page.page.wait_for_selector("#lab-error")
        text = page.page.inner_text("#lab-error")
        reported = int(re.search(r"src/useWebSocket\.tsx:(\d+):\d+", text).group(1))
        assert reported in (line, line + 1) and "reload" in text, text
        shot(page, "react-syntax-error.png")
        assert page.page.locator("header").is_visible()  # the page itself still works

        hook.write_text(good)  # fixed: the next reload runs again
        page.page.reload()
        page.page.wait_for_function("() => window.wslearn.ready")
        page.run_until(1, stop=lambda p: p.state() == "connected")
        assert page.page.locator("#lab-error").is_hidden()

    in_lab(folder, run)


@pytest.mark.browser
def test_a_runtime_error_in_the_hook_names_file_and_line(browser_ok, tmp_path) -> None:
    folder = react.my_work_folder(tmp_path)
    hook = folder / "useWebSocket.tsx"
    boom = "      if (attempts.current === 0) (null as any).boom()\n"
    hook.write_text(fixed_hook().replace("      socket = ws\n", "      socket = ws\n" + boom, 1))
    line = next(i for i, t in enumerate(hook.read_text().splitlines(), 1) if "boom" in t)

    def run(lab: Any, new_page: Any) -> None:
        page = new_page()
        page.page.goto(lab.url())
        page.page.wait_for_selector("#lab-error")
        text = page.page.inner_text("#lab-error")
        assert f"src/useWebSocket.tsx:{line}:" in text and "boom" in text, text
        assert page.page.locator("#toggle").is_visible()  # the app is still there

    in_lab(folder, run)


@pytest.mark.browser
def test_a_key_in_the_page_url_goes_on_its_fetches_and_socket(browser_ok, tmp_path) -> None:
    def run(lab: Any, new_page: Any) -> None:
        key = lab.server.key
        url = lab.url()
        assert key and url.endswith(f"?key={key}")  # the lab link carries the server's key
        page = new_page()
        page.goto(url + "&clock=virtual")
        page.run_until(1, stop=lambda p: p.state() == "connected")
        api = [u for u in page.requests if "/api/proposals" in u]
        src = [u for u in page.requests if "/react/src/" in u]
        assert api and src and all(f"key={key}" in u for u in api + src), api + src
        channels = list(lab.server._channels.values())
        sent = [c.conn.request.path for c in channels]  # what the handshake carried
        assert sent == [f"/ws?topics=proposals&key={key}"], sent
        assert [c.query for c in channels] == ["topics=proposals"]  # the endpoint: without it
        assert page.events()[0]["url"] == "/ws?topics=proposals"  # recorded without it

    in_lab(tmp_path, run)


@pytest.mark.browser
def test_a_page_without_the_key_is_refused_its_data(browser_ok, tmp_path) -> None:
    def run(lab: Any, new_page: Any) -> None:
        page = new_page()
        page.goto(lab.url().partition("?")[0] + "?clock=virtual")  # the key cut off
        page.run_until(2)
        assert page.errors() == [] and lab.server.connection_count == 0
        assert lab.stats().list_fetches == 0  # the API answered 403, counted nothing

    in_lab(tmp_path, run)
