"""Chapter 12's robot: the React lab driven in a headless chromium, so a stored notebook
output shows what the page did -- server-side counts and logical-time timelines, never
ports or wall-clock times. A learner watches the same thing live in the iframe; the robot
makes the evidence reproducible (nbval compares it run after run).

Each function starts its **own** lab server (so pages you have open -- the chapter's
iframe -- never disturb its counts), opens its own browser (on a worker thread, see
``driver.in_browser``) and returns a :class:`Report`: a deterministic text, then a
screenshot as a separate ``image/png`` output (nbval does not compare images).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
from dataclasses import dataclass, field
from typing import Any

from .driver import browser_problem, in_browser


def _private_lab(hook: str) -> Any:
    """A fresh lab for the robot: the shipped files, or the learner's for ``hook="mine"``."""
    from . import ReactLab

    return ReactLab(shipped=hook != "mine").start()

__all__ = ["Report", "outage", "push_and_refetch", "strictmode_counts"]


@dataclass
class Report:
    title: str
    lines: list[str] = field(default_factory=list)
    png: bytes | None = None

    def __repr__(self) -> str:
        return "\n".join([self.title, *(f"  {line}" for line in self.lines)])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        body = "\n".join(self.lines)
        display({"text/plain": repr(self),
                 "text/html": f"<b>{html.escape(self.title)}</b><pre>{html.escape(body)}</pre>"},
                raw=True)
        if self.png is not None:
            display({"image/png": base64.b64encode(self.png).decode(),
                     "text/plain": "(a screenshot of the page at the end)"}, raw=True)


def _no_browser(title: str) -> Report | None:
    problem = browser_problem()
    return Report(title, [f"cannot run the robot: {problem}"]) if problem else None


def _open(browser: Any, lab: Any, **params: Any) -> Any:
    page = browser.new_page(760, 300)
    url = lab.url(**params)
    page.goto(url + ("&" if "?" in url else "?") + "clock=virtual")
    if page.errors():
        e = page.errors()[0]
        raise RuntimeError(f"the page reports {e.get('file')}:{e.get('line')}: {e['message']}")
    return page


def strictmode_counts(hooks: tuple[str, ...] = ("fixed", "no-cleanup")) -> Report:
    """Per hook: server connections after one StrictMode mount, and after ten toggles."""
    title = "StrictMode (development) and the cleanup, counted by the server"
    if (missing := _no_browser(title)) is not None:
        return missing

    def session(browser: Any, lab: Any, hook: str) -> str:
        page = _open(browser, lab, hook=hook)
        page.run_until(2)
        page.wait_for(lambda: lab.server.connection_count > 0, 10, "a connection")
        page.run_until(3)
        mounted = lab.server.connection_count
        page.close()
        page = _open(browser, lab, hook=hook, mounted=False)
        page.wait_for(lambda: lab.server.connection_count == 0, 10, "the old page gone")
        for _ in range(10):
            page.click("#toggle")
            page.run_until(page.now() + 1)
        page.run_until(page.now() + 5)
        want = 0 if mounted == 1 else 5 * mounted
        with contextlib.suppress(TimeoutError):
            page.wait_for(lambda: lab.server.connection_count == want, 10, "the counts")
        left = lab.server.connection_count
        page.close()
        return f"{hook:<20} {mounted:>18} {left:>22}"

    rows = [f"{'hook':<20} {'open after 1 mount':>18} {'open after 10 toggles':>22}"]
    for hook in hooks:  # a fresh server per hook: its counts are this hook's alone
        lab = _private_lab(hook)
        try:
            rows.append(in_browser(functools.partial(session, lab=lab, hook=hook)))
        finally:
            lab.stop()
    return Report(title, rows)


def outage(hook: str = "fixed", *, back_after: float | None = None) -> Report:
    """Drop every connection and refuse new ones; show what the page does, in logical
    seconds (the hook's timers on the page's virtual clock), with a screenshot at the end.
    ``back_after``: accept connections again that many seconds after the drop."""
    title = f"hook={hook}: the server drops every connection and refuses new ones"
    if (missing := _no_browser(title)) is not None:
        return missing

    def session(browser: Any, lab: Any) -> tuple[list[str], bytes]:
        page = _open(browser, lab, hook=hook)
        page.run_until(1, stop=lambda p: p.state() == "connected")
        last = max(e["socket"] for e in page.events())
        seen = page.page.inner_text("#banner")  # before the drop: every change is seen
        lab.server.refuse()
        lab.server.drop_all()
        t0 = page.now()
        lines = ["+0 s  server: drop_all() + refuse()"]
        banner: list[tuple[float, str]] = []

        def watch(p: Any) -> bool:
            nonlocal seen
            text = p.page.inner_text("#banner")
            if text != seen:
                banner.append((p.now() - t0, f"banner: {text}"))
                seen = text
            state = p.state()
            return state == "disconnected" or (back_after is not None and state == "connected")

        horizon = t0 + (back_after if back_after is not None else 120)
        page.run_until(horizon, stop=watch)
        if back_after is not None and page.state() != "connected":
            lab.server.accept_again()
            lines.append(f"{back_after:+g} s  server: accept_again()")
            page.run_until(t0 + 120, stop=watch)
        page.run_until(page.now() + 0.001)
        for e in page.events():
            if e["kind"] == "connect" and e["socket"] > last:
                opened = any(x["kind"] == "open" and x["socket"] == e["socket"]
                             for x in page.events())
                lines.append(f"{e['t'] - t0:+g} s  new WebSocket(...): "
                             f"{'open' if opened else 'failed'}")
        lines += [f"{t:+g} s  {text}" for t, text in banner]  # after the socket at the same t
        lines.sort(key=lambda line: float(line.split(" s", 1)[0]))
        if page.page.locator("#toast").count():
            lines.append("toast: " + page.page.inner_text("#toast").replace("\n", " "))
        png = page.screenshot()
        page.close()
        lab.server.accept_again()
        return lines, png

    lab = _private_lab(hook)
    try:
        lines, png = in_browser(lambda browser: session(browser, lab))
    finally:
        lab.stop()
    return Report(title, lines, png)


def push_and_refetch(hook: str = "fixed") -> Report:
    """Publish a change; count the GETs the page makes for it, on the server."""
    title = f"hook={hook}: a push, its invalidateQueries, and the refetch the server counts"
    if (missing := _no_browser(title)) is not None:
        return missing

    def session(browser: Any, lab: Any) -> tuple[list[str], bytes]:
        page = _open(browser, lab, hook=hook)
        page.run_until(1, stop=lambda p: p.state() == "connected")
        page.page.click("#proposals li:nth-child(2) button")
        page.page.wait_for_selector("#detail")
        page.settle()
        before = lab.stats()
        lab.update(2, votes=42)
        page.wait_for(lambda: lab.stats().detail_fetches > before.detail_fetches, 10, "refetch")
        page.run_until(page.now() + 1)
        after = lab.stats()
        page.run_until(page.now() + 65)  # two pings and their pongs
        later = lab.stats()
        lines = [
            "lab.update(2, votes=...) -> server.publish('proposals', 'proposal.updated', id=2)",
            f"GETs for the push:  list +{after.list_fetches - before.list_fetches}, "
            f"detail +{after.detail_fetches - before.detail_fetches}",
            f"GETs in the next 65 s (two pings, two pongs): list "
            f"+{later.list_fetches - after.list_fetches}, "
            f"detail +{later.detail_fetches - after.detail_fetches}",
        ]
        png = page.screenshot()
        page.close()
        return lines, png

    lab = _private_lab(hook)
    try:
        lines, png = in_browser(lambda browser: session(browser, lab))
    finally:
        lab.stop()
    return Report(title, lines, png)
