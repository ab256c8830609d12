"""Hints: one chosen from a failure's kind, and more revealed one at a time.

Every failing scenario names a *kind* of mistake (``off-by-one``, ``no-reset``,
``reconnect-after-close`` ...). ``hint_for(exercise, kind)`` turns it into the one hint
shown under the result table: the most useful thing to read first, not a list.
``wslearn.hint("backoff", 2)`` is for a learner who is stuck without a failure to go on:
it shows the steps up to the number asked for, from a nudge to (last) a near-complete
skeleton. The number is in the call, not in hidden state, so Run All shows the same
hints again instead of using one up.

Hint texts live in each exercise's manifest (``Exercise(hints=..., steps=...)``); the
common kinds below apply to every exercise. Texts may use Markdown code spans: text
output drops the backticks, HTML shows them as code.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Mapping
from dataclasses import dataclass

from ._result import plain, rich

__all__ = ["COMMON", "Hint", "hint", "hint_for", "register", "reset_hints"]

COMMON: dict[str, str] = {
    "raises": "Your code raised an exception (the row names the line). In a socket loop an "
    "exception that escapes ends the loop for good: catch the errors you expect "
    "(`ConnectionError`), and only those.",
    "busy-loop": "A blocking call or a loop without `await` (the row says which): while it "
    "runs the event loop runs nothing else -- no frame is read, no timer fires, the server "
    "in this kernel stalls too. Wait with `await asyncio.sleep(seconds)`, never "
    "`time.sleep()`, and make every loop that waits `await` something.",
    "hangs": "Your code waits for something that can never happen: an Event nobody sets, "
    "a task that never ends, a connection that is already closed.",
    "missing-await": "A coroutine was created but never awaited: `ws.close()` or "
    "`asyncio.sleep(1)` without `await` does nothing at all. Put `await` in front.",
    "leaked-task": "A task you started is still running after the scenario ended. Keep a "
    "reference, `task.cancel()` it and `await` it (suppressing CancelledError) in your "
    "cleanup -- the Python version of the `useEffect` cleanup.",
    "not-async": "This must be a coroutine function: define it with `async def`, so it can "
    "`await` the network and the clock.",
    "wrong-arguments": "Pass the objects the exercise asks for, in order (see the call in the "
    "check cell).",
    "too-many-attempts": "Your code called connect() again and again without stopping: it "
    "needs a wait between attempts (backoff) and, in chapter 04, a maximum.",
    "wrong-signature": "The checker calls your function or class exactly as the exercise "
    "cell defines it (same parameters, same names for keyword arguments): keep that "
    "signature and change only the body.",
    "checker-error": "The checker itself could not run (the row says why): run the check cell "
    "again; if it fails the same way, please report it -- your code may well be fine.",
    "unretrieved-exception": "A task you created ended with an exception that nobody "
    "retrieved: asyncio only logs it, later, and your code never learns why the task "
    "stopped. Await every task you cancel or that may fail -- `await asyncio.gather(a, b, "
    "return_exceptions=True)` -- and handle what it returns.",
    "returns-early": "Your coroutine returned while it should still be running: it must keep "
    "going until it is cancelled (or, where the exercise says so, until it gives up).",
}


#: Hints of checker modules written before manifests (``register``); new ones put their
#: texts in their ``Exercise``.
_HINTS: dict[str, dict[str, str]] = {}
_STEPS: dict[str, list[str]] = {}


def register(exercise: str, notebook: str, hints: dict[str, str], steps: list[str]) -> None:
    """Older checker modules' way to hand in their texts (kept so they still work)."""
    _HINTS[exercise] = hints
    _STEPS[exercise] = steps


def hint_for(exercise: str, kind: str | None) -> str:
    """The one hint for a failure of ``kind`` (a general one for an unknown kind)."""
    if kind is not None:
        hints: Mapping[str, str] = _HINTS.get(exercise, {})
        with contextlib.suppress(KeyError, TypeError, ImportError):
            from . import EXERCISES

            hints = EXERCISES.get(exercise).hints or hints
        specific = hints.get(kind) or COMMON.get(kind)
        if specific:
            return specific
    return (f"Compare expected and actual; the step-by-step hints start with "
            f'wslearn.hint("{exercise}", 1).')


@dataclass(frozen=True)
class Hint:
    """Hints 1..``level`` of an exercise; displays as plain text and HTML, with no state.

    The same call shows the same hints every time (Run All does not use one up); to see
    more, the learner raises the number in the call.
    """

    exercise: str
    level: int
    steps: tuple[str, ...]
    solution: str

    @property
    def number(self) -> int:
        return self.level

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def text(self) -> str:
        """The newest hint shown (or the pointer to the worked answer)."""
        if self.level > self.total:
            return self._end()
        return self.steps[self.level - 1]

    def _end(self) -> str:
        return (f"That was every hint for {self.exercise}; the worked answer is "
                f"{self.solution}.")

    def _lines(self) -> list[tuple[str, str]]:
        shown = [(f"hint {i}/{self.total} for {self.exercise}", text)
                 for i, text in enumerate(self.steps[: self.level], 1)]
        if self.level > self.total:
            shown.append(("", self._end()))
        elif self.level < self.total:
            shown.append(("", f'next hint: `wslearn.hint("{self.exercise}", {self.level + 1})`'))
        return shown

    def __repr__(self) -> str:
        return "\n".join(f"{label}: {plain(text)}" if label else plain(text)
                         for label, text in self._lines())

    def _repr_pretty_(self, p: object, cycle: bool) -> None:
        p.text(repr(self))  # type: ignore[attr-defined]

    def _repr_html_(self) -> str:
        out = []
        for label, text in self._lines():
            head = f"<b>{html.escape(label)}</b>: " if label else ""
            out.append(f"<p>{head}{rich(text)}</p>")
        return "".join(out)


def hint(exercise: str, level: int = 1) -> Hint:
    """Hints 1..``level`` for ``exercise``: ``wslearn.hint("backoff", 2)``.

    Stable: running the cell again (Run All) shows the same hints. One past the last
    points to the worked answer.
    """
    from . import EXERCISES

    if isinstance(level, bool) or not isinstance(level, int) or level < 1:
        raise ValueError(f"hint level must be a whole number from 1 up, got {level!r}: "
                         f'e.g. wslearn.hint("{exercise}", 2)')
    name = EXERCISES.resolve(exercise)
    manifest = EXERCISES.get(name)
    steps = tuple(manifest.steps or _STEPS.get(name, ()))
    level = min(level, len(steps) + 1)
    return Hint(name, level, steps, f"solutions/{manifest.notebook}.ipynb")


def reset_hints(exercise: str | None = None) -> None:
    """Kept for older notebooks: hints have no state any more (see ``hint``)."""
