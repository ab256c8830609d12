"""Hints: one chosen from a failure's kind, and more revealed one at a time.

Every failing scenario names a *kind* of mistake (``off-by-one``, ``no-reset``,
``reconnect-after-close`` ...). ``hint_for(exercise, kind)`` turns it into the one hint
shown under the result table: the most useful thing to read first, not a list.
``wslearn.hint("backoff")`` is for a learner who is stuck without a failure to go on:
each call reveals the next step, from a nudge to (last) a near-complete skeleton.

Hint texts live with their exercise (``HINTS`` / ``STEPS`` in each checker module)
and register here; the common kinds below apply to every exercise.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["COMMON", "Hint", "hint", "hint_for", "register", "reset_hints"]

COMMON: dict[str, str] = {
    "raises": "Your code raised an exception (the row names the line). In a socket loop an "
    "exception that escapes ends the loop for good: catch the errors you expect "
    "(`ConnectionError`), and only those.",
    "busy-loop": "Something loops without awaiting, so the event loop never gets to run "
    "anything else (not even the server). Every loop that waits must `await` something "
    "that takes time, e.g. `await asyncio.sleep(delay)`.",
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


_HINTS: dict[str, dict[str, str]] = {}
_STEPS: dict[str, list[str]] = {}
_NOTEBOOKS: dict[str, str] = {}
_revealed: dict[str, int] = {}


def register(exercise: str, notebook: str, hints: dict[str, str], steps: list[str]) -> None:
    """Called by each checker module for its own hint texts."""
    _HINTS[exercise] = hints
    _STEPS[exercise] = steps
    _NOTEBOOKS[exercise] = notebook


def hint_for(exercise: str, kind: str | None) -> str:
    """The one hint for a failure of ``kind`` (a general one for an unknown kind)."""
    if kind is not None:
        specific = _HINTS.get(exercise, {}).get(kind) or COMMON.get(kind)
        if specific:
            return specific
    return f'Compare the expected and actual columns; wslearn.hint("{exercise}") gives more.'


@dataclass(frozen=True)
class Hint:
    """One revealed hint; displays as plain text (and HTML) without any state in it."""

    exercise: str
    number: int
    total: int
    text: str

    def __repr__(self) -> str:
        if self.number > self.total:
            return self.text
        return f"hint {self.number}/{self.total} for {self.exercise}: {self.text}"

    def _repr_pretty_(self, p: object, cycle: bool) -> None:
        p.text(repr(self))  # type: ignore[attr-defined]

    def _repr_html_(self) -> str:
        if self.number > self.total:
            return f"<p>{html.escape(self.text)}</p>"
        return (
            f"<p><b>hint {self.number}/{self.total}</b> for <code>{html.escape(self.exercise)}"
            f"</code>: {html.escape(self.text)}</p>"
        )


def hint(exercise: str) -> Hint:
    """Reveal the next hint for ``exercise`` (one more each call, then a pointer)."""
    from . import EXERCISES  # registers every checker module

    name = EXERCISES.resolve(exercise)
    EXERCISES.get(name)  # importing the checker module registers its hints
    steps = _STEPS.get(name, [])
    shown = _revealed.get(name, 0) + 1
    _revealed[name] = shown
    if shown > len(steps):
        notebook = _NOTEBOOKS.get(name, name)
        return Hint(name, shown, len(steps),
                    f"No more hints for {name}: the worked answer is solutions/{notebook}.ipynb "
                    f"(hints start again after wslearn.checks.reset_hints()).")
    return Hint(name, shown, len(steps), steps[shown - 1])


def reset_hints(exercise: str | None = None) -> None:
    """Start revealing from the first hint again (for one exercise, or all)."""
    if exercise is None:
        _revealed.clear()
    else:
        _revealed.pop(exercise, None)
