"""A learner's JupyterLab for the journey tests: the course copied to a temporary root,
started the way ``make lab`` starts it, and helpers that drive it like a person does.

Why a copy: the journey types answers into ``my-work/`` and saves them. On the real
checkout that folder holds a learner's work, which a test must never touch (rule 7).
The copy holds what a fresh clone holds (``notebooks/``, ``exercises/``, ``solutions/``,
``docs/``, README); the kernel imports this checkout's ``wslearn``.

How it is started: ``python -m wslearn lab`` -- the command behind ``make lab`` (it copies
the exercises into ``my-work/``, writes the course's JupyterLab settings overrides and
runs ``jupyter lab`` on the course root, landing on chapter 00) -- plus what a test
needs: headless (``--no-browser``), 127.0.0.1, a free port, no token, throw-away
Jupyter config, runtime, user-settings and workspace folders.

Waits are on conditions (kernel idle, an element shown, every prompt numbered), never
fixed sleeps. JupyterLab sometimes stalls a kernel connection on a busy machine: the
helpers reload the page (and restart the kernel) once before a test judges.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browser_support import (  # noqa: F401 -- CURRENT, IDLE, menu: re-exported for the journey
    ARTIFACTS,
    CURRENT,
    IDLE,
    ROOT,
    _free_port,
    clear_outputs,
    code_prompts_done,
    menu,
    open_idle,
    restart_and_run_all,
    wait_until_serving,
)

#: What a fresh clone holds that the learner sees.
COURSE_PARTS = ("notebooks", "exercises", "solutions", "docs", "README.md")
#: Generous upper bounds (2 noisy cores, six neighbours); nothing asserts durations.
OPEN_MS = 60_000
RUN_MS = 300_000


@dataclass
class Lab:
    url: str  # http://127.0.0.1:PORT
    root: Path  # the course copy (Jupyter's root)
    home: Path  # WSLEARN_HOME of the kernels
    env: dict[str, str]
    log: Path

    def tree(self, rel: str) -> str:
        """The URL that opens ``rel`` in a fresh workspace (``reset``: no tabs restored)."""
        return f"{self.url}/lab/tree/{rel}?reset"


def copy_course(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for part in COURSE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns(
                ".ipynb_checkpoints", "__pycache__"))
        elif source.is_file():
            shutil.copy2(source, dest / part)
    return dest


@contextlib.contextmanager
def learner_lab(tmp: Path) -> Iterator[Lab]:
    """``python -m wslearn lab`` on a copy of the course; yields a :class:`Lab`."""
    root = copy_course(tmp / "course")
    home = tmp / "wslearn-home"
    port = _free_port()
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        IPYTHONDIR=str(tmp / "ipython"),
        WSLEARN_HOME=str(home),
    )
    env.pop("JUPYTERHUB_SERVICE_PREFIX", None)
    log = tmp / "jupyter.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wslearn", "lab", "--no-browser", "--ip=127.0.0.1",
             f"--port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
             "--ServerApp.password="],
            env=env, cwd=root, stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, f"{url}/api/status", log, timeout=90,
                           what="`python -m wslearn lab`")
        yield Lab(url, root, home, env, log)
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(log, ARTIFACTS / "journey-jupyter.log")
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)  # twice: jupyter's "shut down now"
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(1)
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what it started
            proc.wait(10)


# -- driving JupyterLab --------------------------------------------------------------------


def open_notebook(page: Any, lab: Lab, rel: str, shot: str) -> None:
    """Open ``rel`` as a learner does (fresh workspace) and wait for an idle kernel; one
    reload if the kernel connection stalls."""
    open_idle(page, lab.tree(rel), OPEN_MS, shot)


def clear_and_run_all(page: Any, code_cells: int, shot: str) -> None:
    """Clear every output (so finished prompts can be told apart), then Run All; wait
    until every code cell ran. A stalled run gets one restart of the kernel."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    clear_outputs(page, OPEN_MS)
    menu(page, "Run", "Run All Cells")
    try:
        code_prompts_done(page, code_cells, RUN_MS)
    except PlaywrightTimeout:
        screenshot(page, f"{shot}-stalled.png")
        restart_and_run_all(page)
        code_prompts_done(page, code_cells, RUN_MS)


def shutdown_kernels(page: Any, base_url: str | None = None) -> None:
    """End every kernel session of this JupyterLab (chapters leave none running).

    The request runs from a page of JupyterLab's origin (its XSRF cookie): a test that
    failed may have left the tab on another page (the lab's own tab, about:blank)."""
    if base_url and not page.url.startswith(base_url):
        page.goto(base_url + "/api/status")
    page.evaluate(
        """async () => {
          const xsrf = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || ''
          const headers = { 'X-XSRFToken': decodeURIComponent(xsrf) }
          const sessions = await (await fetch('/api/sessions', { headers })).json()
          await Promise.all(sessions.map(s =>
            fetch('/api/sessions/' + s.id, { method: 'DELETE', headers })))
        }"""
    )


def screenshot(page: Any, name: str, *, whole: bool = False) -> Path:
    """A screenshot in ``tests/artifacts/``; ``whole``: the whole notebook, top to bottom
    (the viewport is stretched to the notebook's height for the shot)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    size = page.viewport_size
    try:
        if whole:
            height = page.evaluate(
                "() => Math.max(...[...document.querySelectorAll('.jp-WindowedPanel-outer')]"
                ".map(e => e.scrollHeight), 0)"
            )
            page.set_viewport_size({"width": size["width"], "height": min(height + 160, 14000)})
            page.evaluate(
                """() => new Promise(r => {
                  document.querySelectorAll('.jp-WindowedPanel-outer')
                    .forEach(e => { e.scrollTop = 0 })
                  requestAnimationFrame(() => requestAnimationFrame(() => r(null)))
                })"""
            )
        path.write_bytes(page.screenshot())
    finally:
        if whole:
            page.set_viewport_size(size)
    return path


# -- what a notebook stores ---------------------------------------------------------------


def cells(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict[str, Any]) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def stored_outputs(path: Path) -> list[dict[str, Any]]:
    return [o for c in cells(path) if c["cell_type"] == "code" for o in c.get("outputs", [])]


def html_of(output: dict[str, Any]) -> str:
    value = output.get("data", {}).get("text/html", "")
    return "".join(value) if isinstance(value, list) else value
