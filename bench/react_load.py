"""The React lab page: how big is what it loads, and how long until the app runs?

Prints the shipped bundle's size (all of ``wslearn/react/vendor``, and what a page load
fetches: everything but ``babel-parser.js``, which loads only for a syntax error), and the
median time from navigation start until the transpiled app has been imported, over
several fresh pages (a fresh browser context each: no cache), next to the plain lab page
(``/lab``, no React) as the baseline, with their ratio.

Usage: ``python bench/react_load.py [--runs 7]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wslearn import page as plain
from wslearn import react
from wslearn.react.driver import browser_problem, in_browser

VENDOR = Path(react.__file__).parent / "vendor"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    files = [p for p in VENDOR.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    loaded = sum(p.stat().st_size for p in VENDOR.glob("*.js") if p.name != "babel-parser.js")
    print(f"bundle: {total / 1e6:.2f} MB shipped in wslearn/react/vendor, "
          f"{loaded / 1e6:.2f} MB fetched per page load")
    problem = browser_problem()
    if problem:
        print(f"no browser: {problem}")
        return

    with react.ReactLab(shipped=True) as lab:
        def session(browser: object) -> tuple[list[float], list[float]]:
            react_ms, plain_ms = [], []
            for _ in range(runs):
                page = browser.new_page()  # type: ignore[attr-defined]
                page.goto(lab.url(hook="fixed"))
                react_ms.append(float(page.js("() => window.wslearn.loadedMs")))
                page.close()
                page = browser.new_page()  # type: ignore[attr-defined]
                page.page.goto(plain.lab_url(lab.server))
                page.page.wait_for_load_state("load")
                plain_ms.append(float(page.js(
                    "() => performance.getEntriesByType('navigation')[0].loadEventEnd")))
                page.close()
            return react_ms, plain_ms

        react_ms, plain_ms = in_browser(session)
    r, p = statistics.median(react_ms), statistics.median(plain_ms)
    print(f"React lab: {r:.0f} ms to a running app (median of {runs}); plain lab page: "
          f"{p:.0f} ms; ratio {r / p:.1f}x")


if __name__ == "__main__":
    main()
