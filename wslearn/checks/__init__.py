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
``production``     11_production_rules    ``ReconnectRules`` (class: ``opened``, ``closed``)
=================  =====================  ==================================================

Options for ``check``: ``real=False`` skips the real-server run, ``record=False`` does
not write progress, ``deadline=`` (seconds) bounds each simulated scenario.
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from typing import Any

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
    """Every exercise's manifest (``EXERCISE`` of each checker module), in notebook order.

    The checker modules are found, not listed: a module of this package that defines
    ``EXERCISE`` is an exercise, so adding one is adding one file.
    """

    def __init__(self) -> None:
        self._found: dict[str, Any] | None = None

    def _all(self) -> dict[str, Any]:
        if self._found is None:
            found = {}
            for info in pkgutil.iter_modules(__path__):
                if info.name.startswith("_") or info.name in _NOT_EXERCISES:
                    continue
                module = importlib.import_module(f"{__name__}.{info.name}")
                exercise = getattr(module, "EXERCISE", None)
                if exercise is not None:
                    found[exercise.name] = exercise
            self._found = dict(sorted(found.items(), key=lambda kv: kv[1].notebook))
        return self._found

    @property
    def MODULES(self) -> dict[str, str]:
        """Exercise name -> notebook name (``"backoff": "03_backoff"``)."""
        return {name: e.notebook for name, e in self._all().items()}

    def names(self) -> list[str]:
        return list(self._all())

    def manifests(self) -> list[Any]:
        return list(self._all().values())

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
        return self._all()[self.resolve(name)]


#: Modules of this package that are tools, not exercises.
_NOT_EXERCISES = frozenset({"api", "mutation"})

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
    _export(exercise.notebook, result)
    return result


def _export(notebook: str, result: CheckResult) -> None:
    """``$WSLEARN_RESULT`` set (the class gradebook sets it): append the verdict as JSON."""
    try:
        from ..grade_export import export

        export(result, notebook)
    except Exception:  # the gradebook is a convenience too: never break a check for it
        pass


def _record(notebook: str, result: CheckResult) -> None:
    try:
        from .. import progress

        name = progress.current_exercise(default=notebook) or notebook
        progress.record(name, _PROGRESS_STATUS[result.status], result.summary)
    except Exception as exc:  # progress is a convenience: never break a check for it
        result.note = ((result.note + " ") if result.note else "") + (
            f"(progress not saved: {type(exc).__name__})"
        )


def hint(name: str, level: int = 1) -> Hint:
    """Hints 1..``level`` for exercise ``name``: ``wslearn.hint("backoff", 2)``; the same
    every time the cell runs (Run All does not use hints up)."""
    return _hint(name, level)

