"""The checker-authoring API, in one module: what a new exercise's checker needs.

A checker module declares its manifest and scenarios::

    from wslearn.checks.api import Exercise, Failed, Lab, Verdict, require_async

    EXERCISE = Exercise("ping", "13_ping", prepare, objects=("ping_once",),
                        hints={"no-ping": "..."}, steps=["...", "..."])

    @EXERCISE.scenario("a pong arrives: ping_once returns it")
    async def pong(lab: Lab | None, learner) -> Verdict:
        ...                                   # drive learner code against lab.connect
        raise Failed("no-ping", "nothing was sent", expected, actual)   # or:
        return Verdict(expected, actual)

Save it as ``wslearn/checks/<name>.py``: ``wslearn.check("<name>", ...)`` finds it (no list
to edit), and ``python -m wslearn.checks.mutation <name>`` measures how many wrong programs
it catches. ``Lab`` is the scenario's world (server, the learner's ``connect``, a log in
logical time); the helpers validate and run learner objects.
"""

from __future__ import annotations

from ._common import (
    as_text,
    learner_task,
    message_types,
    require_async,
    require_callable,
    require_class,
    stop,
)
from ._net import Connection, Lab, LogEntry, format_log
from ._result import CheckResult, Row
from ._runner import Exercise, Failed, Scenario, Verdict
from ._sandbox import describe_exception

__all__ = [
    "CheckResult",
    "Connection",
    "Exercise",
    "Failed",
    "Lab",
    "LogEntry",
    "Row",
    "Scenario",
    "Verdict",
    "as_text",
    "describe_exception",
    "format_log",
    "learner_task",
    "message_types",
    "require_async",
    "require_callable",
    "require_class",
    "stop",
]
