"""The max_attempts checker names the right mistake for each wrong implementation in
tests/wrong/max_attempts.py, and passes the right ones written differently from the solution."""

from __future__ import annotations

import pytest
from wrong import Case, verify
from wrong import max_attempts as implementations


@pytest.mark.parametrize("case", implementations.CASES, ids=str)
def test_implementation(case: Case) -> None:
    verify("max_attempts", case, implementations.CASES)
