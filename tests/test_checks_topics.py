"""The topics checker names the right mistake for each wrong implementation in
tests/wrong/topics.py, and passes the right ones written differently from the solution."""

from __future__ import annotations

import pytest
from wrong import Case, verify
from wrong import topics as implementations


@pytest.mark.parametrize("case", implementations.CASES, ids=str)
def test_implementation(case: Case) -> None:
    verify("topics", case, implementations.CASES)
