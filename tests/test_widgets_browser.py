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
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARTIFACTS, Browser, require_chromium, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_notebook(path: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{i}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(NOTEBOOK_CELLS)
    ]
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


@contextlib.contextmanager
def jupyter_lab(tmp: Path) -> Iterator[str]:
    """Run ``jupyter lab`` on ``tmp/root``; yield the notebook's URL (with the token)."""
    root = tmp / "root"
    root.mkdir()
    _write_notebook(root / "dashboard.ipynb")
    # No news / update pop-ups over the notebook.
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        IPYTHONDIR=str(tmp / "ipython"),
    )
    log = tmp / "jupyter.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter", "lab",
                "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.open_browser=False",
                "--ServerApp.port_retries=0",  # the port we picked, or fail: never another
            ],
            env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            cwd=root,
        )  # fmt: skip
    try:
        wait_until_serving(proc, f"http://127.0.0.1:{port}/api/status?token={token}", log)
        yield f"http://127.0.0.1:{port}/lab/tree/dashboard.ipynb?token={token}"
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "dashboard-jupyter.log").write_text(log.read_text())
        raise
    finally:
        # A clean shutdown (kernels first: the kernel stops the in-kernel server with
        # it), then make sure.
        with contextlib.suppress(OSError):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/shutdown", method="POST",
                headers={"Authorization": f"token {token}"},
            )  # fmt: skip
            urllib.request.urlopen(request, timeout=10).close()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _open_with_an_idle_kernel(page: Any, url: str) -> None:
    """Open the notebook and wait until its kernel is idle.

    Run All before the kernel session exists would ask "Select Kernel". On a busy
    machine a kernel start can fail (its ZMQ ports are picked free, then bound: a race
    with other processes); the page then shows the kernel as "Unknown" -- one reload
    with a fresh session gets past that.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    idle = page.get_by_text("Python 3 (ipykernel) | Idle")
    for tries_left in (1, 0):
        page.goto(url)
        page.wait_for_selector(".jp-Notebook", timeout=WAIT_MS)
        try:
            idle.wait_for(timeout=WAIT_MS // 2)
            return
        except PlaywrightTimeout:
            if not tries_left:
                raise
            page.screenshot(path=str(ARTIFACTS / "dashboard-kernel-not-idle.png"))


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_renders_in_jupyterlab(tmp_path: Path) -> None:
    executable = require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    with jupyter_lab(tmp_path) as url:
        browser = Browser(executable)
        try:
            page = browser.new_page(width=1280, height=1100)
            _open_with_an_idle_kernel(page, url)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            dash = page.locator(".wslearn-dashboard")
            dash.wait_for(timeout=WAIT_MS)
            badge = page.locator(".wslearn-connection-badge .wslearn-badge")
            badge.filter(has_text=CONNECTED).wait_for(timeout=WAIT_MS)
            page.locator(".jp-OutputArea-output pre", has_text="published").wait_for(
                timeout=WAIT_MS
            )

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
