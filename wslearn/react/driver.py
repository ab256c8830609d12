"""Drive the React lab in a real browser: Debian's chromium through Python Playwright.

Used by ``wslearn.check("react_hook")``, chapter 12 and the tests. The browser is the
system one (``/usr/bin/chromium``, or ``$WSLEARN_CHROMIUM``); nothing is ever downloaded.
Every request that would leave 127.0.0.1 is blocked and recorded (``Page.blocked``): the
lab must work with the network cut.

Playwright's sync API refuses to run on a thread with a running event loop (a notebook
cell), so :func:`in_browser` runs the whole session on a worker thread of its own and
returns its result; the cell just waits.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

__all__ = ["INSTALL_HINT", "Page", "browser_problem", "find_chromium", "in_browser"]

INSTALL_HINT = ("the React lab's checks need a browser: install Debian's chromium "
                "(`sudo apt-get install chromium`) and the playwright package "
                "(`pip install playwright`; never `playwright install`: the system browser "
                "is used), or set WSLEARN_CHROMIUM to a chromium binary")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL = {"127.0.0.1", "localhost", "[::1]", "::1"}
T = TypeVar("T")


def find_chromium() -> str | None:
    for candidate in (os.environ.get("WSLEARN_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_problem() -> str | None:
    """``None`` when a browser can be driven, else what to install."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return INSTALL_HINT
    return None if find_chromium() else INSTALL_HINT


class Page:
    """One page of the lab (a fresh browser context: no cache, no shared state)."""

    def __init__(self, browser: Any, width: int = 900, height: int = 480) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.blocked: list[str] = []
        self.requests: list[str] = []
        self.console: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def _route(self, route: Any) -> None:
        url = route.request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or (parts.hostname or "") in LOCAL:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")

    def goto(self, url: str, timeout: float = 30.0) -> None:
        """Open ``url`` and wait until the app ran (or reported an error)."""
        self.page.goto(url, timeout=timeout * 1000)
        self.page.wait_for_function(
            "() => window.wslearn && (window.wslearn.ready || window.wslearn.errors.length)",
            timeout=timeout * 1000)

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def events(self) -> list[dict[str, Any]]:
        return list(self.js("() => window.wslearn.events"))

    def errors(self) -> list[dict[str, Any]]:
        return list(self.js("() => window.wslearn.errors"))

    def state(self) -> str | None:
        state = self.js("() => document.querySelector('#banner')?.dataset.state ?? null")
        return None if state is None else str(state)

    def now(self) -> float:
        return float(self.js("() => window.wslearn.now()"))

    def settle(self) -> bool:
        return bool(self.js("() => window.wslearn.settle()"))

    def run_until(self, seconds: float, stop: Callable[[Page], bool] | None = None,
                  max_steps: int = 500) -> bool:
        """Virtual clock: fire the hook's timers in order up to logical ``seconds``,
        letting the real network settle after each one; stop early once ``stop(page)``.
        Returns whether ``stop`` became true."""
        limit = seconds * 1000
        for _ in range(max_steps):
            self.settle()
            if stop is not None and stop(self):
                return True
            if not self.js("(limit) => window.wslearn.clock.step(limit)", limit):
                self.settle()
                return stop is not None and stop(self)
        return stop is not None and stop(self)

    def click(self, selector: str) -> None:
        self.page.click(selector)
        self.settle()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0,
                 what: str = "the condition") -> None:
        """Poll a Python-side condition (e.g. the server's counts) in real time."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not happen within {timeout:g} s")
            self.page.wait_for_timeout(20)

    def screenshot(self) -> bytes:
        return bytes(self.page.screenshot(full_page=True))

    def close(self) -> None:
        self.context.close()


def in_browser(fn: Callable[[Any], T], timeout: float = 300.0) -> T:
    """Launch chromium on a worker thread, call ``fn(browser)``, close it; return the result.

    ``browser`` has ``new_page(width, height) -> Page``. Raises ``RuntimeError`` with the
    install hint when no browser can be driven.
    """
    problem = browser_problem()
    if problem is not None:
        raise RuntimeError(problem)
    box: dict[str, Any] = {}

    def main() -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as pw:
                chromium = pw.chromium.launch(executable_path=find_chromium(), args=ARGS,
                                              headless=True)
                try:
                    box["value"] = fn(_Browser(chromium))
                finally:
                    chromium.close()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main, name="wslearn-react-browser", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the browser session did not finish within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


class _Browser:
    def __init__(self, chromium: Any) -> None:
        self.chromium = chromium

    def new_page(self, width: int = 900, height: int = 480) -> Page:
        return Page(self.chromium, width, height)
