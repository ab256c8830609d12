"""The learner's journey, in a real JupyterLab and Debian's chromium (issue 10's guard).

nbval checks stored outputs as nbclient makes them; a learner sees something else: a
page in a browser, a notebook that is *not trusted* when first opened, Run All, buttons,
a file browser. These tests walk that path on a copy of the course, started the way
``make lab`` starts it (``journey_support``):

- every chapter opened fresh, not run: every stored picture is drawn (an ``<img>`` that
  loaded), none is left as sanitized label text or a text fallback;
- Run All in every chapter: no error output, nothing on stderr, no empty output box, and
  every live view (dashboard, badge, browser lab and its link) still there afterwards;
- every widget button clicked has a visible effect on the page;
- the exercise loop from chapter 03: open the learner's copy in ``my-work/``, type a wrong
  answer, check (fail, with the diff), type a right one, check (pass), save; then the
  instructor's checks (``build --check``, nbval of ``exercises/``) pass and the learner's
  file is untouched.

Screenshots of each chapter go to ``tests/artifacts/`` (not committed): look at them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARTIFACTS, ROOT, Browser, require_chromium
from journey_support import (
    CURRENT,
    OPEN_MS,
    RUN_MS,
    Lab,
    cells,
    clear_and_run_all,
    code_prompts_done,
    html_of,
    learner_lab,
    menu,
    open_notebook,
    screenshot,
    shutdown_kernels,
    source,
    stored_outputs,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

CHAPTERS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
WIDGET_CALL = re.compile(r"\b(Dashboard|ConnectionBadge|TimelineView|MessageLog|ServerControls"
                         r"|ReconnectNotice|open_lab)\(")
#: Where a picture is in the stored notebook: an <img> with an SVG data URI.
PICTURE = "data:image/svg+xml"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_chromium()
    with learner_lab(tmp_path_factory.mktemp("journey")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(lab: Lab) -> Iterator[Browser]:
    browser = Browser(require_chromium())
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser: Browser, lab: Lab) -> Iterator[Any]:
    page = browser.new_page(width=1280, height=900)
    try:
        yield page
    finally:
        try:
            shutdown_kernels(page, lab.url)
        finally:
            page.context.close()
    assert page.errors == [], page.errors


def _number(name: str) -> str:
    return name.split("_", 1)[0]


# -- a chapter: opened fresh, then Run All -------------------------------------------


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_opened_fresh_then_run_all(chapter: str, lab: Lab, page: Any) -> None:
    """1. Opened fresh (untrusted, not run): every stored picture drawn. 2. Run All: no
    error, no stderr, no empty box, every live view (and the lab's link) in place."""
    path = lab.root / "notebooks" / chapter
    outputs = stored_outputs(path)
    # what the file stores: pictures that need no trust
    for output in outputs:
        data = output.get("data", {})
        assert "image/svg+xml" not in data, (
            f"{chapter}: an image/svg+xml output is shown as text until the notebook is "
            "trusted; draw it as text/html <img> (wslearn.svg.Picture)"
        )
        assert "<svg" not in html_of(output), (
            f"{chapter}: inline <svg> in text/html is sanitized to label text when untrusted"
        )
        if "application/vnd.jupyter.widget-view+json" in data:
            assert "text/html" in data, f"{chapter}: a widget output with no picture of itself"
    expected = sum(html_of(o).count(PICTURE) for o in outputs)

    open_notebook(page, lab, f"notebooks/{chapter}", f"journey-open-{_number(chapter)}")
    assert page.get_by_text("Would you like to get notified about official Jupyter news?"
                            ).count() == 0, "JupyterLab's news pop-up covers the first output"
    pictures = page.locator(f'.jp-OutputArea-output img[src^="{PICTURE}"]')
    if expected:
        page.wait_for_function(
            """([selector, n]) => {
              const imgs = [...document.querySelectorAll(selector)]
              return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0)
            }""",
            arg=[f'.jp-OutputArea-output img[src^="{PICTURE}"]', expected],
            timeout=OPEN_MS,
        )
    assert pictures.count() == expected, f"{chapter}: {pictures.count()} of {expected} drawn"
    # no output fell back to its text form while it has a picture
    fallbacks = page.evaluate(
        """() => [...document.querySelectorAll('.jp-OutputArea-output')]
              .filter(o => (o.getAttribute('data-mime-type') || '') === 'text/plain')
              .map(o => o.textContent)
              .filter(t => /\\[live widget|<svg|^<IPython/.test(t))"""
    )
    assert fallbacks == [], f"{chapter}: text fallbacks shown instead of pictures: {fallbacks}"
    screenshot(page, f"journey-open-{_number(chapter)}.png", whole=True)

    # 2. Run All, as a learner does (after clearing: finished cells are then numbered)
    nb_cells = cells(path)
    code = [i for i, c in enumerate(nb_cells) if c["cell_type"] == "code"]
    shot = f"journey-run-{_number(chapter)}"
    clear_and_run_all(page, len(code), shot)
    screenshot(page, f"{shot}.png", whole=True)

    problems = page.evaluate(
        """() => [...document.querySelectorAll('.jp-OutputArea-output')]
              .filter(o => /stderr|error/.test(o.getAttribute('data-mime-type') || '')
                           || o.classList.contains('jp-mod-stderr'))
              .map(o => o.textContent.slice(0, 400))"""
    )
    assert problems == [], f"{chapter}: error or stderr output after Run All: {problems}"
    empty = page.evaluate(
        """() => [...document.querySelectorAll('.jp-OutputArea-output')]
              .filter(o => !o.textContent.trim() && !o.querySelector('img, iframe, svg, canvas'))
              .map(o => [o.getAttribute('data-mime-type'), o.innerHTML.slice(0, 200)])"""
    )
    assert empty == [], f"{chapter}: {len(empty)} empty output box(es) after Run All: {empty}"

    dom_cells = page.locator(f"{CURRENT} .jp-Cell")
    assert dom_cells.count() == len(nb_cells)
    for i in code:
        text = source(nb_cells[i])
        if not WIDGET_CALL.search(text):
            continue
        outputs = dom_cells.nth(i).locator(".jp-OutputArea-output")
        views = outputs.locator(".wslearn-static, .jupyter-widgets.widget-box, .widget-html")
        assert views.count() >= 1, f"{chapter} cell {i}: its live view is gone after Run All"
        box = views.first.bounding_box()
        assert box is not None and box["height"] > 20, f"{chapter} cell {i}: an empty box"
        if "open_lab(" in text:  # the lab and the way to it survive
            link = outputs.locator("a", has_text=re.compile("browser lab|browser-lab", re.I))
            assert link.count() >= 1, f"{chapter} cell {i}: the lab's link is gone"


# -- buttons --------------------------------------------------------------------------------


def _cleanup_cell(nb_cells: list[dict[str, Any]]) -> int | None:
    """The first code cell that closes a widget (the clean-up): buttons are clicked above it."""
    for i, c in enumerate(nb_cells):
        if c["cell_type"] == "code" and re.search(r"\.a?close\(\)", source(c)) and any(
            WIDGET_CALL.search(source(d)) for d in nb_cells[:i] if d["cell_type"] == "code"
        ):
            return i
    return None


BUTTON_CHAPTERS = [
    name for name in CHAPTERS
    if re.search(r"Dashboard\(|ServerControls\(|MessageLog\(",
                 (ROOT / "notebooks" / name).read_text(encoding="utf-8"))
]  # fmt: skip


@pytest.mark.parametrize("chapter", BUTTON_CHAPTERS)
def test_every_widget_button_has_a_visible_effect(chapter: str, lab: Lab, page: Any) -> None:
    path = lab.root / "notebooks" / chapter
    nb_cells = cells(path)
    stop_at = _cleanup_cell(nb_cells)
    assert stop_at is not None, f"{chapter}: no clean-up cell found"
    shot = f"journey-buttons-{_number(chapter)}"
    open_notebook(page, lab, f"notebooks/{chapter}", shot)
    page.evaluate(
        "() => { window._wslearnLabel = b => (b.textContent || '').trim() || b.title || '?' }"
    )
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.locator(f"{CURRENT} .jp-Cell").nth(stop_at).locator(".jp-InputPrompt").click()
    menu(page, "Run", "Run All Above Selected Cell")
    code_above = sum(c["cell_type"] == "code" for c in nb_cells[:stop_at])
    code_prompts_done(page, code_above, RUN_MS)

    area = page.locator(".jp-OutputArea-output .jupyter-widgets.widget-box").first
    area.wait_for(timeout=OPEN_MS)
    clicked: dict[str, float] = {}
    selector = (
        ".jp-OutputArea-output button.widget-button:not([disabled]),"
        ".jp-OutputArea-output .widget-toggle-button:not(.mod-active):not([disabled])"
    )
    for _ in range(40):  # bounded: each round clicks one button not clicked yet
        try:  # an action in flight disables the buttons for a moment: wait for one
            page.wait_for_function(
                """([selector, done]) => [...document.querySelectorAll(selector)].some(
                     b => b.checkVisibility() && !done.includes(_wslearnLabel(b)))""",
                arg=[selector, list(clicked)], timeout=5_000, polling=100,
            )
        except Exception:
            break
        todo = [  # not display:none (the notice's Reconnect, until the client gives up)
            b for b in page.locator(selector).all()
            if _label(b) not in clicked and b.evaluate("b => b.checkVisibility()")
        ]
        if not todo:
            continue
        button = todo[0]
        name = _label(button)
        button.scroll_into_view_if_needed()
        before = _fingerprint(page)
        started = time.monotonic()
        button.click()
        try:
            page.wait_for_function(
                "(before) => window.__wslearnFingerprint() !== before", arg=before,
                timeout=15_000, polling=50,
            )
        except Exception:
            screenshot(page, f"{shot}-dead-{re.sub(r'[^a-z0-9]+', '-', name.lower())}.png")
            raise AssertionError(
                f"{chapter}: clicking {name!r} changed nothing on the page") from None
        clicked[name] = round(time.monotonic() - started, 2)
    screenshot(page, f"{shot}.png", whole=True)
    (ARTIFACTS / f"{shot}.txt").write_text(
        "".join(f"{name}: visible after {secs} s\n" for name, secs in clicked.items())
    )
    assert len(clicked) >= 7, f"{chapter}: only {sorted(clicked)} could be clicked"
    if re.search(r"Dashboard\(|ConnectionBadge\(", path.read_text(encoding="utf-8")):
        # the paused client says why the server's faults do not move its state
        assert page.locator(".wslearn-connection-badge").first.inner_text()


def _label(button: Any) -> str:
    return str((button.text_content() or "").strip() or button.get_attribute("title") or "?")


def _fingerprint(page: Any) -> str:
    """Everything a learner could see change in the widget outputs: text, state of buttons."""
    return str(page.evaluate(
        """() => {
          window.__wslearnFingerprint = () => [...document.querySelectorAll(
              '.jp-OutputArea-output .jupyter-widgets')]
            .map(w => w.textContent + '|' + [...w.querySelectorAll('button')]
              .map(b => b.disabled + b.className).join(','))
            .join('#')
          return window.__wslearnFingerprint()
        }"""
    ))


# -- the exercise loop ----------------------------------------------------------------------

EXERCISE = "03_backoff"


def _solution_answer() -> tuple[int, str]:
    """The index and source of the learner's code cell, answered by the solution."""
    solution = cells(ROOT / "solutions" / f"{EXERCISE}.ipynb")
    exercise = cells(ROOT / "exercises" / f"{EXERCISE}.ipynb")
    for i, (sol, ex) in enumerate(zip(solution, exercise, strict=True)):
        if ex["cell_type"] == "code" and "NotImplementedError" in source(ex):
            text = source(sol)
            text = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", text, flags=re.MULTILINE)
            return i, text
    raise AssertionError(f"no learner cell in exercises/{EXERCISE}.ipynb")


def _type_into(page: Any, cell: Any, text: str) -> None:
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)  # as pasted: no auto-indent, no auto-closed brackets


def _check_output(page: Any, nb_cells: list[dict[str, Any]]) -> Any:
    index = next(i for i, c in enumerate(nb_cells) if "wslearn.check(" in source(c))
    return page.locator(f"{CURRENT} .jp-Cell").nth(index).locator(".jp-OutputArea")


def _recorded(lab: Lab, status: str, timeout: float = OPEN_MS / 1000) -> None:
    """Wait until the checker recorded ``status`` as the exercise's last result."""
    import json

    path = lab.home / "progress.json"
    deadline = time.monotonic() + timeout
    entry: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            entry = json.loads(path.read_text())["exercises"].get(EXERCISE, {})
        except (OSError, ValueError, KeyError):
            entry = {}
        if entry.get("status") == status:
            if status == "pass":
                assert entry.get("best") == "pass"
            return
        time.sleep(0.1)  # polling the file the kernel writes, not waiting for an outcome
    raise AssertionError(f"the checker recorded {entry} for {EXERCISE}, not {status!r}")


def _verdict(output: Any, ok: Any, timeout: float = OPEN_MS / 1000) -> str:
    """The checker's output once ``ok(text)`` holds for it (its first line is the verdict)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = output.text_content() or ""
        if text.strip() and ok(text.strip()):
            return text
        output.page.wait_for_timeout(100)  # a polling interval, not a wait for an outcome
    raise AssertionError(f"the checker's verdict never matched: {text[:800]}")


def test_exercise_from_chapter_03_fail_then_pass_then_the_checks_still_pass(
    lab: Lab, page: Any
) -> None:
    mine = lab.root / "my-work" / f"{EXERCISE}.ipynb"
    assert mine.is_file(), "`python -m wslearn lab` (make lab) made no my-work/ copy"
    chapter = "03_reconnection_backoff.ipynb"
    open_notebook(page, lab, f"notebooks/{chapter}", "journey-exercise-chapter")
    linked = f"../my-work/{EXERCISE}.ipynb" in (lab.root / "notebooks" / chapter).read_text()
    if linked:  # the chapter's link opens the learner's copy, inside Jupyter's root
        link = page.locator(f'.jp-RenderedMarkdown a[href*="my-work/{EXERCISE}.ipynb"]').first
        link.scroll_into_view_if_needed()
        link.click()
    else:  # (before the chapter links to my-work/): the file browser, as a learner would
        page.goto(lab.tree(f"my-work/{EXERCISE}.ipynb"))
    page.get_by_role("tab", name=f"{EXERCISE}.ipynb").first.wait_for(timeout=OPEN_MS)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=OPEN_MS)
    assert "outside root" not in page.inner_text("body")
    notebook = page.locator(".jp-NotebookPanel:visible")
    nb_cells = cells(mine)
    code = sum(c["cell_type"] == "code" for c in nb_cells)
    index, answer = _solution_answer()
    learner_cell = notebook.locator(".jp-Cell").nth(index)

    # a wrong answer: the solution, then a backoff that never grows
    wrong = answer + "\n\ndef backoff_delay(attempt: int) -> float:\n    return 1.0\n"
    _type_into(page, learner_cell, wrong)
    clear_and_run_all(page, code, "journey-exercise-wrong")
    verdict = _check_output(page, nb_cells)
    _recorded(lab, "fail")  # the checker's verdict, as the progress table keeps it
    text = _verdict(verdict, lambda t: re.search(r"\bfail", t, re.I) is not None)
    assert re.search(r"expected|actual|diff", text, re.I), f"no diff shown: {text[:500]}"
    screenshot(page, "journey-exercise-fail.png", whole=True)

    # the right answer
    _type_into(page, learner_cell, answer)
    clear_and_run_all(page, code, "journey-exercise-right")
    _recorded(lab, "pass")
    _verdict(verdict, lambda t: re.search(r"\bpass", t, re.I) is not None)
    screenshot(page, "journey-exercise-pass.png", whole=True)
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => !document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-mod-dirty,"
        " .lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
        timeout=OPEN_MS,
    )
    deadline = time.monotonic() + 30
    while "return 1.0" in mine.read_text() or answer.strip()[:40] not in mine.read_text():
        assert time.monotonic() < deadline, "the saved file does not hold the right answer"
        time.sleep(0.1)
    saved = mine.read_bytes()

    # the instructor's checks, with the learner's saved work present
    env = dict(lab.env)
    run = [sys.executable, "-m", "wslearn", "build", "--check"]
    built = subprocess.run(run, cwd=lab.root, env=env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    nbval = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", "-o", "testpaths=", f"exercises/{EXERCISE}.ipynb"],
        cwd=lab.root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert nbval.returncode == 0, nbval.stdout[-3000:] + nbval.stderr[-2000:]
    assert mine.read_bytes() == saved, "the learner's file changed"
    assert "my-work" not in subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
    ).stdout, "the journey must never touch the real checkout's my-work/"


def test_the_course_root_is_jupyters_root(lab: Lab) -> None:
    """`make lab` serves the repository root: exercises, solutions and docs are reachable."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{lab.url}/api/contents/") as answer:
        names = {item["name"] for item in json.load(answer)["content"]}
    assert {"notebooks", "exercises", "solutions", "docs", "my-work"} <= names, names
    assert Path(lab.root / "my-work").is_dir()
    # the course's styles (side-by-side code) are served
    with urllib.request.urlopen(f"{lab.url}/custom/custom.css") as answer:
        assert b"table-layout: fixed" in answer.read()
