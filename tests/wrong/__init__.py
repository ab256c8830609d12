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
