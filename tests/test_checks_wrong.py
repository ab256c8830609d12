"""Every checker names the right mistake for each wrong implementation in
tests/wrong/<exercise>.py, and passes the right ones written differently from the solution.

One parametrized test for all exercises (it replaces eight identical files): an exercise
whose manifest has no tests/wrong module fails here, so a new checker cannot ship untested.
"""

from __future__ import annotations

import importlib

import pytest
from wrong import Case, verify

from wslearn.checks import EXERCISES

#: Exercises checked in a real browser (their manifest has its own ``run``) keep their
#: wrong and right programs beside their browser tests: tests/test_react_checker.py.
PYTHON_EXERCISES = [e.name for e in EXERCISES.manifests() if getattr(e, "run", None) is None]

CASES = [
    pytest.param(name, case, id=f"{name}:{case.id}")
    for name in PYTHON_EXERCISES
    for case in importlib.import_module(f"wrong.{name}").CASES
]


@pytest.mark.parametrize(("exercise", "case"), CASES)
def test_implementation(exercise: str, case: Case) -> None:
    verify(exercise, case, importlib.import_module(f"wrong.{exercise}").CASES)


@pytest.mark.parametrize("exercise", PYTHON_EXERCISES)
def test_every_exercise_has_wrong_and_right_programs(exercise: str) -> None:
    cases = importlib.import_module(f"wrong.{exercise}").CASES
    assert any(c.kind is None for c in cases), "no right implementation"
    assert sum(c.kind is not None for c in cases) >= 3, "fewer than 3 wrong implementations"
