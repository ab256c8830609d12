"""``wslearn.check("react_hook", HOOK)``: the solution passes every browser scenario, and
each of the module's mistakes fails the scenario written for it, with its hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import wslearn
from wslearn.react.mistakes import variant

ROOT = Path(__file__).resolve().parent.parent


def solution_hook() -> str:
    nb = json.loads((ROOT / "solutions" / "12_react_hook.ipynb").read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith("HOOK = "):
            scope: dict[str, str] = {}
            exec(source, scope)
            return scope["HOOK"]
    raise AssertionError("no HOOK cell in the solution")


def exercise_hook() -> str:
    nb = json.loads((ROOT / "exercises" / "12_react_hook.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "".join(c["source"]).startswith("HOOK = "))
    scope: dict[str, str] = {}
    exec("".join(cell["source"]), scope)
    return scope["HOOK"]


@pytest.fixture
def browser_ok() -> None:
    from browser_support import require_chromium

    require_chromium()


def test_the_exercise_starts_not_implemented() -> None:
    result = wslearn.check("react_hook", exercise_hook(), record=False)
    assert result.status == "not implemented"


@pytest.mark.browser
@pytest.mark.slow
def test_the_solution_passes_every_scenario(browser_ok) -> None:
    result = wslearn.check("react_hook", solution_hook(), record=False)
    assert result.status == "pass", str(result)
    assert len(result.rows) == 8
    assert "+1 s connect: failed\n+3 s connect: failed" in result.rows[2].actual


@pytest.mark.browser
@pytest.mark.parametrize(("mistake", "scenario", "kind"), [
    ("no-cleanup", "StrictMode mount: one socket, one GET", "strictmode-double"),
    ("no-cleanup", "10 mount/unmount toggles leave 0 open", "no-cleanup"),
    ("no-max-attempts", "server down for good: 5 attempts, 'disconnected', Reconnect",
     "no-max-attempts"),
    ("ping-without-pong", "silent server: ping at 30 s, gives up 10 s later", "no-pong-timeout"),
    ("if-else-dispatch", "StrictMode mount: one socket, one GET", "refetch-storm"),
    ("attempt-in-deps", "server drops, back at +10 s: attempts +1, +3, +7, +15 s, then refetch",
     "effect-rerun"),
])
def test_each_mistake_fails_its_scenario(browser_ok, mistake, scenario, kind) -> None:
    result = wslearn.check("react_hook", variant(mistake), record=False, only=[scenario])
    assert result.status == "fail"
    assert result.rows[0].kind == kind, str(result)
    assert result.hint and "wslearn.hint" in str(result)


@pytest.mark.browser
def test_a_syntax_error_names_the_line_of_the_hook(browser_ok) -> None:
    hook = variant("fixed").replace('setState("disconnected")', 'setState("disconnected"', 1)
    line = next(i for i, t in enumerate(hook.splitlines(), 1) if 'setState("disconnected"' in t)
    result = wslearn.check("react_hook", hook, record=False)
    assert result.rows[0].kind == "syntax"
    assert f"HOOK line {line}" in result.rows[0].detail or \
        f"HOOK line {line + 1}" in result.rows[0].detail, result.rows[0].detail
    assert all(r.status == "skip" for r in result.rows[1:])
