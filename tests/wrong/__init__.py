"""Wrong (and differently-written right) implementations, one module per exercise.

Each module lists ``CASES``: a ``Case(id, kind, objects)`` per implementation, where
``kind`` is the hint kind the checker must report (``None``: it must pass). The wrong
ones translate the seed's "❌ НЕ РОБИ" examples to Python, plus the subtle bugs of its
"✅ РОБИ" examples (reconnect after unmount, ping without pong timeout, counter never
reset, infinite retries). The right ones are written *differently* from the solution
notebooks on purpose: the checkers must test behaviour, not shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Case:
    id: str
    kind: str | None  # the expected hint kind; None = must pass
    objects: tuple[Any, ...]

    def __str__(self) -> str:
        return self.id


def verify(exercise: str, case: Case, cases: list[Case]) -> None:
    """Check one implementation: a wrong one must fail with its hint kind, a right one pass.

    Only the first right implementation of an exercise also runs against the real server
    (the others prove the same behaviour under virtual time): that keeps the suite fast.
    """
    from wslearn.checks import check

    first_right = next(c for c in cases if c.kind is None)
    result = check(exercise, *case.objects, record=False, real=case is first_right,
                   deadline=2.0)
    text = result.to_text()
    if case.kind is None:
        assert result.passed, text
        if case is first_right:
            assert any(r.name.startswith("real server") and r.passed for r in result.rows), text
        return
    assert result.status == "fail", text
    assert result.hint_kind == case.kind, f"expected hint kind {case.kind!r}\n{text}"
    assert result.hint and "hint" in text, text
    assert repr(result) == text  # the plain-text table is the repr
