"""The dashboard in a real JupyterLab, in Debian's chromium (Playwright): it must *render*.

Headless tests prove the widgets' logic; only a browser proves that the front end
draws them (not a "Loading widget..." placeholder, not "Error displaying widget").
This test starts ``jupyter lab`` on a free port with a token and a throw-away root
directory holding one small notebook: an in-kernel server, a real client on a
sped-up clock, a ``Dashboard``. It runs all cells through the Lab UI, waits for the
widgets, then, *in the browser*, clicks Stop (the badge walks through the attempts to
"WebSocket unavailable" and the notice appears), Start and Reconnect (connected
again) -- so the server thread -> kernel loop -> comm -> browser path is exercised --
and keeps a screenshot in ``tests/artifacts/dashboard.png``.

Nothing here asserts how long anything took; the waits are generous upper bounds.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, Browser, jupyter_lab, require_chromium, run_all_cells

#: The badge's text when connected ("● Connected"); a plain has_text="Connected" would be
#: a case-insensitive substring match, and "Disconnected" contains it.
CONNECTED = re.compile(r"(^|\s)Connected$")
WAIT_MS = 60_000

NOTEBOOK_CELLS = [
    # 1: a real server and a real client, on the kernel's own loop (top-level await)
    """\
from wslearn import serve, Client, SpedUpClock
from wslearn.widgets import Dashboard

server = serve()
client = Client(server.url(topics=["analysis"]), clock=SpedUpClock(50))
await client.connect()
dash = Dashboard(client, server)
dash""",
    # 2: some traffic for the message log
    """\
for i in range(3):
    server.publish("analysis", "analysis.done", id=i)
print("published")""",
]


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_renders_in_jupyterlab(tmp_path: Path) -> None:
    executable = require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    with jupyter_lab(tmp_path, NOTEBOOK_CELLS, name="dashboard.ipynb") as url:
        browser = Browser(executable)
        try:
            page = browser.new_page(width=1280, height=1100)
            dash = page.locator(".wslearn-dashboard")
            badge = page.locator(".wslearn-connection-badge .wslearn-badge")

            def ready() -> None:  # the widget is drawn and its client connected
                dash.wait_for(timeout=WAIT_MS)
                badge.filter(has_text=CONNECTED).wait_for(timeout=WAIT_MS)
                page.locator(".jp-OutputArea-output pre", has_text="published").wait_for(
                    timeout=WAIT_MS
                )

            run_all_cells(page, url, ready, timeout=WAIT_MS, shot="dashboard")

            # a live widget, not a placeholder or an error
            outputs = page.locator(".jp-OutputArea").first
            assert "Loading widget" not in outputs.inner_text()
            assert page.get_by_text("Error displaying widget").count() == 0
            assert page.locator(".widget-button").count() >= 7

            # server thread -> kernel loop -> comm -> browser: counters and the log
            controls = page.locator(".wslearn-server-controls")
            controls.get_by_text("connections: 1").wait_for(timeout=WAIT_MS)
            log = page.locator(".wslearn-message-log")
            log.locator("td b", has_text="analysis.done").first.wait_for(timeout=WAIT_MS)
            assert page.locator(".wslearn-timeline-view svg").count() == 1

            # Break it from the browser. Stop: the badge goes through the reconnect
            # attempts (recorded by a MutationObserver: at speed 50 the whole 31 s
            # schedule plays in ~0.6 s) to "WebSocket unavailable" with the notice.
            page.evaluate(
                """() => {
                  const box = document.querySelector('.wslearn-connection-badge')
                  window.__labels = [box.innerText]
                  new MutationObserver(() => {
                    const text = box.querySelector('.wslearn-badge')?.innerText
                    if (text && window.__labels.at(-1) !== text) window.__labels.push(text)
                  }).observe(box, { childList: true, characterData: true, subtree: true })
                }"""
            )
            controls.get_by_role("button", name="Stop", exact=True).click()
            badge.filter(has_text="WebSocket unavailable").wait_for(timeout=WAIT_MS)
            notice = page.locator(".wslearn-reconnect-notice")
            notice.get_by_text("all 5 reconnect attempts failed").wait_for(timeout=WAIT_MS)
            controls.get_by_text("server: stopped").wait_for(timeout=WAIT_MS)
            dash.screenshot(path=str(ARTIFACTS / "dashboard-unavailable.png"))
            labels = page.evaluate("() => window.__labels")
            assert any("Reconnecting — attempt 1/5" in label for label in labels), labels
            assert "Disconnected — WebSocket unavailable" in labels[-1], labels

            # Start, then the notice's Reconnect button: connected again, notice gone.
            controls.get_by_role("button", name="Start", exact=True).click()
            controls.get_by_text("server: running").wait_for(timeout=WAIT_MS)
            notice.get_by_role("button", name="Reconnect").click()
            badge.filter(has_text=CONNECTED).wait_for(timeout=WAIT_MS)
            notice.wait_for(state="hidden", timeout=WAIT_MS)
            controls.get_by_text("connections: 1").wait_for(timeout=WAIT_MS)
            page.locator(".wslearn-timeline-view svg", has_text="server stopped").wait_for(
                timeout=WAIT_MS
            )
            dash.scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
            dash.screenshot(path=str(ARTIFACTS / "dashboard-widget.png"))
            assert page.errors == []
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / "dashboard-failure.png"))
            raise
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000


@pytest.mark.browser
@pytest.mark.slow
def test_a_stalled_run_all_is_recovered_once(tmp_path: Path) -> None:
    """The recovery of ``run_all_cells`` itself: when what a run should show does not come
    (here: forced once), the page is reloaded, the kernel restarted and every cell run
    again -- in a fresh kernel (its counter starts over), never judged on the stalled run."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    executable = require_chromium()
    cells = ["import os\npid = os.getpid()", "print('kernel', pid)"]
    with jupyter_lab(tmp_path, cells, name="stall.ipynb") as url:
        browser = Browser(executable)
        try:
            page = browser.new_page(width=1000, height=700)
            seen: list[str] = []

            def ready() -> None:
                text = page.locator(".jp-OutputArea-output pre", has_text="kernel")
                text.wait_for(timeout=WAIT_MS)
                seen.append(text.inner_text())
                if len(seen) == 1:
                    raise PlaywrightTimeout("a stall, forced by the test")

            run_all_cells(page, url, ready, timeout=WAIT_MS, shot="stall")
            assert len(seen) == 2 and seen[0] != seen[1], seen  # another kernel's pid
            assert (ARTIFACTS / "stall-stalled.png").stat().st_size > 0
            assert page.errors == []
        finally:
            browser.close()
