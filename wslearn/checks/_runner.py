"""How a checker runs: scenarios under virtual time, then once against the real server.

An exercise module declares an ``Exercise``: how to accept the learner's objects
(``prepare``) and a list of ``Scenario`` coroutines. Each scenario gets a fresh ``Lab``
(a server plus the learner's ``connect``) and returns a ``Verdict`` or raises
``Failed(kind, detail, expected, actual)``. The runner turns every way learner code can
misbehave into a row of the result table -- it never raises:

* ``NotImplementedError`` (the exercise stub) -> "not implemented yet";
* an exception from learner code -> ``raises`` with the line it came from;
* too long without awaiting -> ``busy-loop`` (interrupted by the sandbox);
* waiting for something that can never happen -> ``hangs``;
* a coroutine created and never awaited -> ``missing-await``;
* tasks left running after the scenario -> ``leaked-task``.

Every scenario runs in its own worker thread and loop, so one broken scenario cannot
disturb the next. Once all simulated scenarios pass, the scenarios marked ``real`` run
against a real ``wslearn.server`` (port 0, stopped afterwards) on a ``PacedLoop``; a
failure there is retried once, because a noisy machine can delay a real socket past a
short timer (the simulated run already proved the timing).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..clock import VirtualDeadlock, VirtualTimeLimit, VirtualTimeLoop
from ._hints import hint_for
from ._net import Lab
from ._result import CheckResult, Row
from ._sandbox import (
    PacedIdle,
    PacedLoop,
    RunResult,
    ScenarioStop,
    _task_label,
    describe_exception,
    learner_frame,
    run,
)

__all__ = ["Exercise", "Failed", "Scenario", "Verdict", "run_exercise"]


class Failed(Exception):
    """Raised by a scenario: what went wrong, as a hint kind and a one-line detail."""

    def __init__(self, kind: str, detail: str, expected: str = "", actual: str = "") -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class Verdict:
    """A passed scenario: what was expected and what happened (often the same text)."""

    expected: str = ""
    actual: str = ""
    detail: str = ""


ScenarioFn = Callable[[Lab | None, Any], Awaitable[Verdict]]


@dataclass(frozen=True)
class Scenario:
    name: str
    fn: ScenarioFn
    #: Needs a server (a ``Lab``); pure scenarios get ``None``.
    network: bool = True
    #: Also run once against the real in-kernel server.
    real: bool = False


@dataclass
class Exercise:
    """One exercise's manifest -- everything the course knows about it, in one place
    (rustlings' ``info.toml`` in spirit): its name, its notebook, the learner's objects
    the check cell passes, the hints, and (added by ``@exercise.scenario``) the scenarios.
    """

    name: str
    notebook: str
    #: ``prepare(*objects, **options) -> learner`` (raise ``Failed`` for wrong arguments).
    prepare: Callable[..., Any]
    scenarios: list[Scenario] = field(default_factory=list)
    #: How much faster than real time the real-server run plays (``PacedLoop``).
    speed: float = 20.0
    #: Wall-clock seconds one simulated scenario may take before it is interrupted.
    deadline: float = 5.0
    #: The learner's objects, in the order ``check()`` takes them (names as in the notebook).
    objects: tuple[str, ...] = field(default=(), kw_only=True)
    #: One hint per failure kind (shown under the result table).
    hints: dict[str, str] = field(default_factory=dict, kw_only=True)
    #: Step-by-step hints for ``wslearn.hint(name, n)``, from a nudge to a skeleton.
    steps: list[str] = field(default_factory=list, kw_only=True)
    #: Functions the exercise gives ready-made (outside the learner's TODO blocks): a
    #: failure located in one of them is said to come from given code.
    given: tuple[str, ...] = field(default=(), kw_only=True)

    @property
    def learner_part(self) -> str:
        """``your mount()/unmount()``-style words for messages (the objects' names)."""
        return "your " + " / ".join(self.objects) if self.objects else "your code"

    @property
    def call(self) -> str:
        """The check cell's call: ``wslearn.check("backoff", backoff_delay, keep_connected)``."""
        return f'wslearn.check("{self.name}"' + "".join(f", {o}" for o in self.objects) + ")"

    def scenario(
        self, name: str, *, network: bool = True, real: bool = False
    ) -> Callable[[ScenarioFn], ScenarioFn]:
        """Decorator: add a scenario, in definition order."""

        def register(fn: ScenarioFn) -> ScenarioFn:
            self.scenarios.append(Scenario(name, fn, network, real))
            return fn

        return register


# -- running one scenario ---------------------------------------------------------------


def _sim_run(scenario: Scenario, learner: Any, deadline: float,
             box: dict[str, Any]) -> RunResult:
    async def main() -> Verdict:
        lab = server = None
        if scenario.network:
            from ..simnet import SimNetwork

            net = SimNetwork()
            server = net.serve()
            lab = Lab("sim", server, net.dialer)
        try:
            return await _tracked(scenario.fn, lab, learner, box)
        finally:
            if lab is not None:
                await lab.close_everything()
            if server is not None:
                server.stop()

    return run(main, loop_factory=lambda: VirtualTimeLoop(limit=None), deadline=deadline)


def _real_run(scenario: Scenario, learner: Any, speed: float, deadline: float,
              found: dict[str, Any]) -> RunResult:
    box: dict[str, Any] = {}

    @contextlib.contextmanager
    def env() -> Iterator[None]:
        from ..server import serve

        server = serve()
        box["server"] = server
        try:
            yield
        finally:
            server.stop()

    async def main() -> Verdict:
        from ..transport import websocket_dialer

        lab = Lab("real", box["server"], websocket_dialer(open_timeout=None, close_timeout=2.0))
        try:
            return await _tracked(scenario.fn, lab, learner, found)
        finally:
            await lab.close_everything()

    return run(main, loop_factory=lambda: PacedLoop(speed), env=env, deadline=deadline,
               hard=10.0)


async def _tracked(fn: ScenarioFn, lab: Lab | None, learner: Any,
                   box: dict[str, Any]) -> Verdict:
    """Run a scenario, noting tasks the learner created that ended with an exception nobody
    retrieved *during* the scenario (the checker's own teardown, which aborts connections,
    comes later and does not count)."""
    loop = asyncio.get_running_loop()
    created: list[asyncio.Task[Any]] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        created.append(task)
        return task

    loop.set_task_factory(factory)
    if lab is not None:
        lab.tasks = created
    try:
        verdict = await fn(lab, learner)
        for _ in range(3):
            await asyncio.sleep(0)
        return verdict
    finally:
        loop.set_task_factory(None)
        mine = [t for t in created if t.done() and not t.cancelled()
                and not t.get_name().startswith("wslearn")]
        box["lost"] = [describe_exception(t.exception())  # type: ignore[arg-type]
                       for t in mine if getattr(t, "_log_traceback", False)]
        box["died"] = [
            f"{_task_label(t)} ended with " + describe_exception(t.exception())  # type: ignore[arg-type]
            for t in mine
            if t.exception() is not None
            and not isinstance(t.exception(), ConnectionError | NotImplementedError)
        ]


def _row(name: str, result: RunResult, deadline: float,
         box: dict[str, Any] | None = None) -> Row:
    """Turn a bounded run into a table row (the classification in the module docstring)."""
    if result.stuck:
        return Row(name, "fail", "it kept running after being interrupted again and again "
                   "(a loop that catches every exception, e.g. `except BaseException` or a bare "
                   "`except:`?); restart the kernel to stop it", kind="busy-loop")
    if result.aborted:
        return Row(name, "fail", f"still running after {deadline:g} s of real time without "
                   "letting the event loop run: a loop with no `await` in it?", kind="busy-loop")
    error = result.error
    row: Row
    if error is None:
        verdict = result.value
        if not isinstance(verdict, Verdict):  # pragma: no cover - a checker bug
            verdict = Verdict()
        row = Row(name, "pass", verdict.detail, verdict.expected, verdict.actual)
    elif isinstance(error, NotImplementedError):
        return Row(name, "not implemented", "not implemented yet: replace the "
                   "`raise NotImplementedError` stub with your code")
    elif isinstance(error, Failed):
        row = Row(name, "fail", error.detail, error.expected, error.actual, error.kind)
    elif isinstance(error, ScenarioStop):
        row = Row(name, "fail", error.text, kind=error.kind)
    elif isinstance(error, VirtualDeadlock | PacedIdle):
        row = Row(name, "fail", "it waits for something that can never happen (nothing is "
                  "scheduled and nothing can arrive)", kind="hangs")
    elif isinstance(error, VirtualTimeLimit):
        row = Row(name, "fail", "it never finished: virtual time ran out", kind="hangs")
    elif isinstance(error, TypeError) and "argument" in str(error):
        row = Row(name, "fail", f"calling your code failed: {describe_exception(error)} -- "
                  "keep the signature the exercise gives", kind="wrong-signature")
    elif learner_frame(error) is None:  # nothing of the learner's on the stack: ours
        row = Row(name, "fail", "the checker could not run this scenario (not your code): "
                  + describe_exception(error), kind="checker-error")
    else:
        row = Row(name, "fail", "raised " + describe_exception(error), kind="raises")
    if result.unawaited and row.status in ("pass", "fail"):
        names = ", ".join(f"'{n}'" for n in result.unawaited)
        return Row(name, "fail", f"coroutine {names} was created but never awaited "
                   "(a missing `await`?)", row.expected, row.actual, "missing-await")
    died = box.get("died") if box else None
    if died and row.status == "pass":
        return Row(name, "fail", "a task of yours " + died[0] + ": the scenario's outcome "
                   "looked right, but that task is gone", row.expected, row.actual, "raises")
    if died and row.status == "fail" and row.kind not in ("raises", "checker-error"):
        row = Row(name, "fail", row.detail + f" -- meanwhile a task of yours {died[0]}",
                  row.expected, row.actual, row.kind)
    lost = box.get("lost") if box else None
    if row.status == "pass" and lost:
        return Row(name, "fail", "a task you started ended with an exception nobody looked at: "
                   + lost[0] + " (await the task, or gather it with return_exceptions=True)",
                   row.expected, row.actual, "unretrieved-exception")
    if row.status == "pass" and result.leftover_tasks:
        names = ", ".join(result.leftover_tasks)
        return Row(name, "fail", f"tasks still running after the scenario ended: {names} "
                   "(cancel and await the tasks you start)", row.expected, row.actual,
                   "leaked-task")
    return row


def _point_at_given(row: Row, given: tuple[str, ...], learner_part: str) -> Row:
    """A failure located in course-provided code says so: the given code is right, the
    learner's own part let it fail (started it, stopped it, or did not await it)."""
    for name in given:
        if f"(in {name}, line" in row.detail:
            note = (f" -- {name} is the course's given code, not yours: it failed because of "
                    f"how {learner_part} starts, stops or awaits it")
            return Row(row.name, row.status, row.detail + note, row.expected, row.actual,
                       row.kind)
    return row


def run_exercise(
    exercise: Exercise,
    objects: tuple[Any, ...],
    *,
    real: bool = True,
    deadline: float | None = None,
    only: list[str] | None = None,
    **options: Any,
) -> CheckResult:
    """Run every scenario of ``exercise`` against the learner's ``objects``."""
    result = CheckResult(exercise.name)
    try:
        learner = exercise.prepare(*objects, **options)
    except Failed as exc:
        result.rows.append(Row("your code", "fail", exc.detail, kind=exc.kind))
        return _finish(result)
    except NotImplementedError:
        result.rows.append(Row("your code", "not implemented", "not implemented yet"))
        return _finish(result)
    limit = exercise.deadline if deadline is None else deadline
    stopped = False
    scenarios = [s for s in exercise.scenarios if only is None or s.name in only]
    for scenario in scenarios:
        if stopped:
            result.rows.append(Row(scenario.name, "skip",
                                   "not run: an earlier scenario had to be interrupted"))
            continue
        box: dict[str, Any] = {}
        row = _row(scenario.name, _sim_run(scenario, learner, limit, box), limit, box)
        row = _point_at_given(row, exercise.given, exercise.learner_part)
        result.rows.append(row)
        stopped = row.kind == "busy-loop"
    for scenario in scenarios:
        if not scenario.real or not real:
            continue
        name = f"real server: {scenario.name}"
        if any(r.status != "pass" for r in result.rows):
            result.rows.append(Row(name, "skip", "runs once every simulated scenario passes"))
            continue
        real_limit = max(limit, 20.0)
        box = {}
        row = _row(name, _real_run(scenario, learner, exercise.speed, real_limit, box),
                   real_limit, box)
        if row.status == "fail":  # a noisy machine can delay a socket: one more try
            box = {}
            row = _row(name, _real_run(scenario, learner, exercise.speed, real_limit, box),
                       real_limit, box)
        result.rows.append(row)
    return _finish(result)


def _finish(result: CheckResult) -> CheckResult:
    statuses = [r.status for r in result.rows]
    if "fail" in statuses:
        result.status = "fail"
        first = result.failures[0]
        result.hint_kind = first.kind
        result.hint = hint_for(result.exercise, first.kind)
    elif "not implemented" in statuses:
        result.status = "not implemented"
        result.hint_kind = None
        result.hint = None
        result.note = "Write your code in the cell above (replace `raise NotImplementedError`)" \
            " and run this cell again."
    else:
        result.status = "pass"
    return result
