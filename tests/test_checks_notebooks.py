"""The one-source promise: every solution passes its checker, every exercise stub reports
"not implemented yet", and exercises/ is exactly what `python -m wslearn build` makes.

The notebooks' code cells are plain Python (no magics, no top-level await), so they are
executed here in-process, cell by cell, like IPython would: fast, and with the real
checkers. nbval (`pytest --nbval solutions/`) checks the stored outputs separately.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wslearn.build import build
from wslearn.checks import EXERCISES, CheckResult, reset_hints

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISE_FILES = sorted((ROOT / "exercises").glob("*.ipynb"))


@pytest.fixture(autouse=True)
def _private_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkers record progress; keep the learner's own file out of the tests."""
    monkeypatch.setenv("WSLEARN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WSLEARN_EXERCISE", raising=False)
    reset_hints()


def _run(code: Any, namespace: dict[str, Any], mode: str) -> Any:
    """exec/eval one compiled piece; top-level ``await`` runs on a fresh loop, like IPython."""
    result = eval(code, namespace) if mode == "eval" else exec(code, namespace)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return result


def run_cells(path: Path) -> list[Any]:
    """Execute a notebook's code cells in one namespace; return each cell's last value."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    values = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tree = ast.parse(source, filename=f"{path.name}[{index}]")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        _run(compile(tree, f"{path.name}[{index}]", "exec", flags=flags), namespace, "exec")
        if last is not None:
            expr = ast.Expression(last.value)
            code = compile(expr, f"{path.name}[{index}]", "eval", flags=flags)
            values.append(_run(code, namespace, "eval"))
    return values


def results(values: list[Any]) -> list[CheckResult]:
    return [v for v in values if isinstance(v, CheckResult)]


def test_every_exercise_has_a_solution_and_a_checker() -> None:
    names = [p.stem for p in SOLUTIONS]
    assert len(names) >= 8
    for key in EXERCISES.names():
        assert EXERCISES.MODULES[key] in names, f"no solutions/{EXERCISES.MODULES[key]}.ipynb"
    assert [p.name for p in EXERCISE_FILES] == [p.name for p in SOLUTIONS]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_passes_its_checker(path: Path) -> None:
    found = results(run_cells(path))
    assert len(found) == 1, f"{path.name}: expected one wslearn.check(...) cell"
    assert found[0].passed, found[0].to_text()


@pytest.mark.parametrize("path", EXERCISE_FILES, ids=lambda p: p.stem)
def test_exercise_runs_top_to_bottom_and_reports_not_implemented(path: Path) -> None:
    values = run_cells(path)  # no exception: the stubs only raise when called
    found = results(values)
    assert len(found) == 1
    result = found[0]
    assert result.status == "not implemented", result.to_text()
    assert "not implemented yet" in result.to_text()
    assert repr(result) == repr(results(run_cells(path))[0]), "output must be deterministic"
    audit = values[-1]
    assert type(audit).__name__ == "Leftovers" and audit.clean, audit


def test_exercises_are_up_to_date() -> None:
    stale = [b for b in build(ROOT / "solutions", ROOT / "exercises", check=True) if b.problem]
    assert not stale, "exercises/ is out of date: run `python -m wslearn build` " + str(
        [str(b.exercise.name) for b in stale]
    )


def test_build_check_command_agrees() -> None:
    done = subprocess.run([sys.executable, "-m", "wslearn", "build", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
