"""Exercise checkers: ``wslearn.check("backoff", backoff_delay, keep_connected)``.

A checker runs the learner's code through fault scenarios -- first on the in-memory
network under virtual time (fast, deterministic), then once against the real in-kernel
server -- and returns a ``CheckResult``: a table of scenarios with pass/fail, expected
and actual timelines side by side, and one hint chosen from the first failure. It never
raises, whatever the learner's code does (see ``_sandbox`` and ``_runner``), and it
records the outcome for ``python -m wslearn progress``.

=================  =====================  ==================================================
name               notebook               the learner's objects
=================  =====================  ==================================================
``cleanup``        02_cleanup             ``LiveFeed`` (class: ``mount(url)``, ``unmount()``)
``backoff``        03_backoff             ``backoff_delay``, ``keep_connected``
``max_attempts``   04_max_attempts        ``keep_connected`` (gives up after 5 retries)
``heartbeat``      05_heartbeat           ``heartbeat`` (ping + pong timeout)
``handlers``       06_handlers            ``MessageRouter`` (class: ``on(type)``, ``on_message``)
``topics``         07_topics              ``TopicSet`` (class: ``url``, ``subscribe``, ...)
``invalidation``   08_invalidation        ``on_push``, ``on_reconnect``
``client``         09_client              ``LiveClient`` (the whole client)
=================  =====================  ==================================================

Options for ``check``: ``real=False`` skips the real-server run, ``record=False`` does
not write progress, ``deadline=`` (seconds) bounds each simulated scenario.
"""

from __future__ import annotations

import importlib
import traceback
from typing import Any, ClassVar

from ._hints import Hint, reset_hints
from ._hints import hint as _hint
from ._result import CheckResult, Row
from ._sandbox import Aborted

__all__ = [
    "EXERCISES",
    "CheckResult",
    "Hint",
    "Row",
    "check",
    "hint",
    "reset_hints",
]


class _Exercises:
    """The checker modules by name, imported on first use."""

    MODULES: ClassVar[dict[str, str]] = {
        "cleanup": "02_cleanup",
        "backoff": "03_backoff",
        "max_attempts": "04_max_attempts",
        "heartbeat": "05_heartbeat",
        "handlers": "06_handlers",
        "topics": "07_topics",
        "invalidation": "08_invalidation",
        "client": "09_client",
        "react_hook": "12_react_hook",  # its own runner: a real browser (react_hook.py)
    }

    def names(self) -> list[str]:
        return list(self.MODULES)

    def resolve(self, name: str) -> str:
        """``backoff``, ``03_backoff``, ``03`` or ``exercises/03_backoff.ipynb`` -> ``backoff``."""
        if not isinstance(name, str):
            raise TypeError(f"exercise name must be a str such as 'backoff', got {name!r}")
        text = name.strip().rsplit("/", 1)[-1].removesuffix(".ipynb")
        for key, notebook in self.MODULES.items():
            if text in (key, notebook) or notebook.startswith(text + "_"):
                return key
        known = ", ".join(self.MODULES)
        raise KeyError(f"no exercise called {name!r}; the exercises are: {known}")

    def get(self, name: str) -> Any:
        key = self.resolve(name)
        return importlib.import_module(f"wslearn.checks.{key}").EXERCISE


EXERCISES = _Exercises()

_PROGRESS_STATUS = {"pass": "pass", "fail": "fail", "not implemented": "not-started"}


def check(name: str, *objects: Any, real: bool = True, record: bool = True,
          **options: Any) -> CheckResult:
    """Check the learner's ``objects`` for exercise ``name``; never raises.

    ``real=False`` skips the run against the real in-kernel server; ``record=False`` does
    not write the outcome to the progress file.
    """
    from ._runner import run_exercise

    try:
        exercise = EXERCISES.get(name)
    except (KeyError, TypeError) as exc:
        result = CheckResult(str(name), [Row("exercise name", "fail", str(exc).strip("'\""))],
                             status="fail")
        return result
    try:
        own = getattr(exercise, "run", None)  # react_hook drives a browser, not a Lab
        result = (own(objects, real=real, **options) if own is not None else
                  run_exercise(exercise, objects, real=real, **options))
    except (Exception, Aborted) as exc:  # a bug of ours must not become the learner's error
        from ._sandbox import describe_exception

        where = traceback.extract_tb(exc.__traceback__)[-1]
        detail = (f"the checker itself failed: {describe_exception(exc)} at "
                  f"{where.name}:{where.lineno} -- please report it; your code may be fine")
        result = CheckResult(exercise.name, [Row("checker", "fail", detail, kind="checker-error")],
                             status="fail", hint_kind="checker-error",
                             hint="Run the check cell again; if it fails the same way, report it.")
    if record:
        _record(exercise.notebook, result)
    return result


def _record(notebook: str, result: CheckResult) -> None:
    try:
        from .. import progress

        name = progress.current_exercise(default=notebook) or notebook
        progress.record(name, _PROGRESS_STATUS[result.status], result.summary)
    except Exception as exc:  # progress is a convenience: never break a check for it
        result.note = ((result.note + " ") if result.note else "") + (
            f"(progress not saved: {type(exc).__name__})"
        )


def hint(name: str) -> Hint:
    """Reveal the next hint for exercise ``name`` (each call shows one more)."""
    return _hint(name)

