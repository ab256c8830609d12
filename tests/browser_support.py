"""Helpers for the browser tests: Debian's chromium driven by Python Playwright.

Never downloads a browser (no ``playwright install``): it launches the system
``chromium``. Without it, the tests skip with the install hint -- except under CI
(``CI=true``), where a missing browser is a failure: CI must run them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

INSTALL_HINT = "sudo apt-get install chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Generous waits for state *text* (2 noisy cores, other test runs beside ours);
#: nothing here asserts how long something took.
WAIT_MS = 30_000
ARTIFACTS = Path(__file__).parent / "artifacts"
ROOT = Path(__file__).resolve().parent.parent


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def find_chromium() -> str | None:
    """The system chromium: ``$WSLEARN_CHROMIUM``, ``/usr/bin/chromium`` or ``chromium`` on PATH."""
    candidates = [os.environ.get("WSLEARN_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _missing(what: str) -> None:
    if under_ci():
        pytest.fail(f"{what} -- CI=true, so the browser tests must run", pytrace=False)
    pytest.skip(what)


def require_chromium() -> str:
    """The chromium path, or skip (by hand) / fail (under CI) with the install hint."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is missing: pip install -e '.[test]'")
    path = find_chromium()
    if path is None:
        _missing(
            f"Debian's chromium is not installed: {INSTALL_HINT} "
            "(the browser tests use the system browser and never download one)"
        )
    return path  # type: ignore[return-value]


class Browser:
    """One Playwright driver + one chromium for a whole test module (see ``close``)."""

    def __init__(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS, headless=True
            )
        except BaseException:
            self._playwright.stop()
            raise

    def new_page(self, width: int = 900, height: int = 420) -> Any:
        """A fresh context + page; records page errors in ``page.errors``."""
        context = self.browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.errors = []  # uncaught exceptions of the page's JavaScript
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._playwright.stop()


@contextlib.contextmanager
def lab_pages(browser: Browser, **defaults: Any) -> Iterator[Callable[..., Any]]:
    """``open(server, **settings)`` opens the browser lab of ``server`` (``lab_url`` settings
    over ``defaults``). At the end every page is closed -- before its server stops -- and an
    uncaught JavaScript error on any of them fails the test."""
    from wslearn.page import lab_url

    pages: list[Any] = []

    def opener(server: Any, **params: Any) -> Any:
        page = browser.new_page()
        pages.append(page)
        page.goto(lab_url(server, proxy=False, **{**defaults, **params}))
        return page

    yield opener
    for page in pages:
        errors = page.errors
        page.context.close()
        assert errors == [], f"uncaught JavaScript errors: {errors}"


def state_history(page: Any) -> None:
    """Record every text the state badge shows, in ``window.__states`` (read it with
    :func:`states_seen`): fast transitions of a sped-up schedule are not missed."""
    page.evaluate(
        """() => {
          const badge = document.getElementById('state')
          window.__states = [badge.textContent]
          new MutationObserver(() => {
            const text = badge.textContent
            if (window.__states.at(-1) !== text) window.__states.push(text)
          }).observe(badge, { childList: true, characterData: true, subtree: true })
        }"""
    )


def states_seen(page: Any) -> list[str]:
    return page.evaluate("() => window.__states")


def timeline(page: Any) -> list[str]:
    return page.locator("#timeline li").all_inner_texts()


def planned_delays(page: Any) -> list[int]:
    """The delays of the ``attempt N/M in Xs`` entries of the timeline, in order."""
    found = (re.search(r"attempt \d+/\d+ in (\d+(?:\.\d+)?)s", line) for line in timeline(page))
    return [int(float(m.group(1))) for m in found if m]


def cache_row(page: Any, key: str) -> Any:
    """The locator of one cache table row (cells: key, version, last event, fetches, status)."""
    return page.locator("#cache tbody tr").filter(has=page.locator("td:first-child", has_text=key))


def log_types(page: Any, direction: str = "in") -> list[str]:
    """The message types of the frame log, for one direction."""
    rows = page.locator(f'#log tbody tr[data-direction="{direction}"]')
    return rows.locator("td:nth-child(2)").all_inner_texts()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    # Write the bytes ourselves: with ``path=`` Playwright writes through its event loop's
    # thread pool, whose threads outlive the test (the leak guard would see them).
    path.write_bytes(page.screenshot(full_page=True))
    return path


# ---------------------------------------------------------------- a real JupyterLab


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_notebook(path: Path, cells: list[str]) -> None:
    """A notebook of code cells (no outputs) for a Python 3 kernel."""
    notebook = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {},
             "outputs": [], "source": source}
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                           "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    path.write_text(json.dumps(notebook, indent=1))


def wait_until_serving(proc: subprocess.Popen[Any], status_url: str, log: Path,
                       timeout: float = 60, what: str = "jupyter lab") -> None:
    """Wait until a Jupyter server started as ``proc`` answers ``status_url``; fail the test
    with the end of its ``log`` if it exits or does not answer within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(status_url, timeout=2) as answer:
                answer.read()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)


@contextlib.contextmanager
def jupyter_lab(tmp: Path, cells: list[str], name: str = "lab.ipynb") -> Iterator[str]:
    """Run ``jupyter lab`` (token, free port, throw-away dirs) on a notebook of ``cells``;
    yield the notebook's URL. The kernel imports this checkout's ``wslearn``. If the test
    fails, Jupyter's log is kept in ``tests/artifacts/<name>-jupyter.log``."""
    root = tmp / "root"
    root.mkdir()
    write_notebook(root / name, cells)
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)  # no news / update pop-ups over the notebook
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
    env.pop("JUPYTERHUB_SERVICE_PREFIX", None)
    log = tmp / "jupyter.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
             "--ServerApp.port_retries=0"],  # the port we picked, or fail: never another
            env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            cwd=root, start_new_session=True,
        )  # fmt: skip
    try:
        wait_until_serving(proc, f"http://127.0.0.1:{port}/api/status?token={token}", log)
        yield f"http://127.0.0.1:{port}/lab/tree/{name}?token={token}"
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(log, ARTIFACTS / f"{Path(name).stem}-jupyter.log")
        raise
    finally:
        # SIGINT twice = jupyter's "shut down now" (it stops the kernel, and the in-kernel
        # server with it); then make sure -- its own session: only what it started.
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(1)
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


IDLE = "Python 3 (ipykernel) | Idle"
#: The notebook in the current tab (others may be open beside it).
CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"


def menu(page: Any, top: str, item: str) -> None:
    """Click a main-menu entry (``Run`` > ``Run All Cells``)."""
    page.get_by_role("menuitem", name=top, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def open_idle(page: Any, url: str, timeout: float, shot: str | None = None) -> None:
    """Open the notebook at ``url`` and wait until its cells are shown and its kernel is
    idle; one reload if not (on a busy machine a kernel start can fail -- its ZMQ ports
    are picked free, then bound -- or JupyterLab stalls the kernel connection). ``shot``:
    keep the stalled page as ``tests/artifacts/<shot>-stalled.png``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for tries_left in (1, 0):
        page.goto(url)
        try:
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout)
            page.get_by_text(IDLE).wait_for(timeout=timeout)
            return
        except PlaywrightTimeout:
            if not tries_left:
                raise
            if shot is not None:
                screenshot(page, f"{shot}-stalled.png")


def code_prompts_done(page: Any, count: int | None, timeout: float) -> None:
    """Wait until ``count`` code cells of the current notebook show an execution number
    (``None``: every code cell shown) and the kernel is idle."""
    page.wait_for_function(
        """(count) => {
          const prompts = [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell .jp-InputPrompt')]
          const done = prompts.filter(p => /^\\[\\d+\\]:?$/.test(p.textContent.trim()))
          const enough = count === null ? prompts.length > 0 && done.length === prompts.length
                                        : done.length >= count
          return enough && document.body.innerText.includes('ipykernel) | Idle')
        }""",
        arg=count,
        timeout=timeout,
        polling=250,
    )


def clear_outputs(page: Any, timeout: float) -> None:
    """Clear every output; wait until no prompt has a number, so a number on a prompt can
    only come from the run that follows."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        f"() => ![...document.querySelectorAll('{CURRENT} .jp-CodeCell .jp-InputPrompt')]"
        ".some(p => /\\d/.test(p.textContent))",
        timeout=timeout,
    )


def restart_and_run_all(page: Any) -> None:
    """*Restart Kernel and Run All Cells*, confirmed: a fresh kernel runs every cell."""
    menu(page, "Kernel", "Restart Kernel and Run All Cells…")
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()  # "Restart"


def run_all_cells(page: Any, url: str, ready: Callable[[], None] | None = None,
                  timeout: float = 60_000, shot: str = "lab") -> None:
    """Open a notebook in JupyterLab, wait for an idle kernel, Run All, and wait until every
    cell ran and ``ready()`` (a wait on what the cells show, e.g. a widget) returns.

    JupyterLab sometimes stalls a kernel connection on a busy machine (cells stay queued,
    or a widget never gets its comm). Before a test judges, a stalled run gets one
    recovery: a reload, cleared outputs and *Restart Kernel and Run All*; the stalled page
    is kept as ``tests/artifacts/<shot>-stalled.png``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    open_idle(page, url, timeout)
    menu(page, "Run", "Run All Cells")
    try:
        code_prompts_done(page, None, timeout)
        if ready is not None:
            ready()
        return
    except PlaywrightTimeout:
        screenshot(page, f"{shot}-stalled.png")
    open_idle(page, url, timeout)
    clear_outputs(page, timeout)
    restart_and_run_all(page)
    code_prompts_done(page, None, timeout)
    if ready is not None:
        ready()
