"""Run a learner's async code with bounds: in a worker thread, on a loop of our own.

Why a worker thread and not the kernel's loop: a checker is called from a notebook cell,
which is itself running on the kernel's event loop; it cannot ``await`` there without
making every checker call ``await check(...)``. More importantly, learner code can be
broken in ways that must not take the kernel down with it:

* it **raises** -- the exception is caught and reported as one line with its location;
* it **hangs** (awaits something that never happens) -- every scenario waits with a
  timeout measured on the loop's own clock, so under virtual time a hang costs nothing;
* it **loops forever without awaiting** (``while True: pass``, a retry loop with no
  sleep) -- no timeout can fire, because the loop never gets control back. After a
  wall-clock ``deadline`` the supervisor injects ``Aborted`` into the worker thread
  (``PyThreadState_SetAsyncExc``, delivered at the next bytecode), repeatedly, until the
  worker moves on. (``sys.settrace`` cannot do this: a trace function that raises is
  switched off by CPython.) Code that catches *everything* (``except BaseException``)
  inside such a loop cannot be stopped from Python at all; that is reported, and the
  thread is left to finish on its own (it is a daemon thread);
* it **never awaits** -- a sync function where an ``async def`` was expected, or a
  coroutine created and dropped (``asyncio.sleep(1)`` without ``await``): the first is
  detected by the callers, the second through the ``RuntimeWarning`` CPython emits
  ("coroutine ... was never awaited"), which ``run()`` collects.

Two loops:

* ``wslearn.clock.VirtualTimeLoop`` (H2) for the simulated network: time jumps straight
  to the next timer, so the 31 s backoff schedule runs in milliseconds;
* ``PacedLoop`` for the real in-kernel server: its ``time()`` is *logical* like the
  virtual loop's -- it moves only when a timer fires, to that timer's deadline -- but it
  really waits ``delay / speed`` seconds for sockets to answer first. Learner code uses
  plain ``asyncio.sleep`` / ``asyncio.timeout`` and still plays the schedule fast, and
  timestamps are the same logical numbers as in the simulation.

Nothing leaks: tasks the learner left running are cancelled (and counted), the loop is
closed, and servers started for the run are stopped by the ``env`` context manager in
the worker itself.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import gc
import re
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..clock import PacedIdle, PacedLoop, VirtualDeadlock, VirtualTimeLimit

__all__ = [
    "Aborted",
    "PacedIdle",
    "PacedLoop",
    "RunResult",
    "ScenarioStop",
    "describe_exception",
    "learner_frame",
    "run",
    "sanitize",
]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


class Aborted(BaseException):
    """Injected into the worker thread when learner code runs past its deadline.

    A ``BaseException`` so that ``except Exception`` in learner code does not catch it.
    """


class ScenarioStop(BaseException):
    """Raised *into learner code* by the checker's stand-ins to stop a runaway scenario.

    Example: a retry loop without a limit gets this from ``connect()`` after too many
    attempts. ``kind`` is the hint kind, ``text`` what to tell the learner.
    """

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind
        self.text = text


# -- running with bounds -------------------------------------------------------------


@dataclass
class RunResult:
    """What happened to one bounded run."""

    value: Any = None
    #: The exception the main coroutine ended with (learner errors included).
    error: BaseException | None = None
    #: The deadline passed and the run had to be interrupted.
    aborted: bool = False
    #: The worker could not be stopped at all (it swallows every exception).
    stuck: bool = False
    #: Messages the loop's exception handler received (e.g. "Task exception was never
    #: retrieved"), sanitized.
    loop_errors: list[str] = field(default_factory=list)
    #: Names of coroutines that were created and never awaited.
    unawaited: list[str] = field(default_factory=list)
    #: Names of tasks that were still running when the main coroutine returned.
    leftover_tasks: list[str] = field(default_factory=list)


_UNAWAITED = re.compile(r"coroutine '([^']+)' was never awaited")


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> int:
    return int(
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
        )
    )


class _Worker:
    """The worker thread's side of the supervision protocol (see ``run``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase = "start"
        self.phase_started = time.monotonic()
        self.done = threading.Event()

    def enter(self, phase: str) -> None:
        """Move to ``phase``; an ``Aborted`` aimed at the previous phase is dropped."""
        while True:
            try:
                with self.lock:
                    self.phase = phase
                    self.phase_started = time.monotonic()
                _set_async_exc(threading.get_ident(), None)
                return
            except Aborted:
                continue


_real_sleep = time.sleep


def _guarded_sleep(seconds: float) -> None:
    """``time.sleep`` as learner code in a checker's worker thread meets it: named as the
    blocking call it is (it would freeze the event loop), not silently slow."""
    if threading.current_thread().name.startswith("wslearn-check"):
        caller = sys._getframe(1).f_code.co_filename
        if not is_ours(caller):
            raise ScenarioStop(
                "busy-loop",
                f"time.sleep({seconds!r}) blocks the event loop: nothing else runs meanwhile "
                f"(not the server, not your other tasks) -- use `await asyncio.sleep("
                f"{seconds!r})`")
    _real_sleep(seconds)


def _guard_blocking_calls() -> None:
    """Install the guard once (other threads and wslearn's own code are unaffected)."""
    if time.sleep is _real_sleep:
        setattr(time, "sleep", _guarded_sleep)  # noqa: B010 - mypy: sleep takes SupportsIndex
    if not getattr(sys.unraisablehook, "_wslearn", False):
        sys.unraisablehook = _quiet_aborts(sys.unraisablehook)


def _quiet_aborts(previous: Any) -> Any:
    """An ``Aborted`` that lands in a callback Python cannot raise from (a weakref
    callback, a ``__del__``) would print "Exception ignored in ..." into the next cell:
    it did its job (the worker moved on), so it is dropped; everything else is shown."""

    def hook(info: Any) -> None:
        if isinstance(info.exc_value, Aborted | ScenarioStop):
            return
        previous(info)

    hook._wslearn = True  # type: ignore[attr-defined]
    return hook


def run(
    main: Callable[[], Coroutine[Any, Any, Any]],
    *,
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
    env: Callable[[], AbstractContextManager[Any]] | None = None,
    deadline: float = 5.0,
    cleanup_deadline: float = 3.0,
    hard: float = 10.0,
    name: str = "wslearn-check",
) -> RunResult:
    """Run ``main()`` on a fresh loop from ``loop_factory`` in a worker thread, with bounds.

    ``env`` (optional) is entered in the worker before the loop starts and exited after
    the loop is closed (e.g. start and stop a real server). ``deadline`` bounds the main
    coroutine in wall-clock seconds; ``cleanup_deadline`` bounds cancelling what it left
    behind; after ``hard`` more seconds a worker that still runs is given up on
    (``stuck``). Never raises for anything the learner's code does.
    """
    result = RunResult()
    worker = _Worker()
    _guard_blocking_calls()

    def target() -> None:
        try:
            _work(main, loop_factory, env, worker, result)
        except Aborted:  # pragma: no cover - landed between our handlers
            result.aborted = True
        except BaseException as exc:  # pragma: no cover - a bug of ours: report, never hang
            result.error = exc
        finally:
            worker.done.set()

    thread = threading.Thread(target=target, name=name, daemon=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        thread.start()
        limits = {"start": deadline, "run": deadline, "cleanup": cleanup_deadline}
        give_up = None
        while not worker.done.wait(0.05):
            with worker.lock:
                phase, started = worker.phase, worker.phase_started
                limit = limits.get(phase)
                overdue = limit is not None and time.monotonic() - started > limit
                if overdue:
                    result.aborted = True
                    _set_async_exc(thread.ident or 0, Aborted)
            if overdue:
                give_up = give_up or time.monotonic() + hard
                if time.monotonic() > give_up:
                    result.stuck = True
                    break
                worker.done.wait(0.1)  # let it unwind before injecting again
        if not result.stuck:
            thread.join(5.0)
            result.stuck = thread.is_alive()
        gc.collect(1)  # young coroutines dropped in reference cycles warn now, not later
    for warning in caught:
        match = _UNAWAITED.search(str(warning.message))
        if match and match.group(1) not in result.unawaited:
            result.unawaited.append(match.group(1))
    return result


def _work(
    main: Callable[[], Coroutine[Any, Any, Any]],
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
    env: Callable[[], AbstractContextManager[Any]] | None,
    worker: _Worker,
    result: RunResult,
) -> None:
    stack = contextlib.ExitStack()
    loop: asyncio.AbstractEventLoop | None = None
    try:
        try:
            if env is not None:
                stack.enter_context(env())
            loop = loop_factory()
            asyncio.set_event_loop(loop)
            loop.set_exception_handler(
                lambda _loop, context: result.loop_errors.append(_context_text(context))
            )
            worker.enter("run")
            task = loop.create_task(main(), name="wslearn-check-main")
            try:
                result.value = loop.run_until_complete(task)
            finally:
                worker.enter("cleanup")
        except Aborted:
            result.aborted = True
            worker.enter("cleanup")
        except (VirtualDeadlock, VirtualTimeLimit, PacedIdle) as exc:
            result.error = exc
            worker.enter("cleanup")
        except BaseException as exc:
            result.error = exc
            worker.enter("cleanup")
        if loop is not None:
            try:
                result.leftover_tasks = _cancel_leftovers(loop)
            except Aborted:
                result.aborted = True
            except BaseException:  # pragma: no cover - a broken loop after an abort
                pass
    finally:
        worker.enter("close")
        if loop is not None:
            for task in asyncio.all_tasks(loop):
                _abandon(task)
            with contextlib.suppress(BaseException):
                loop.close()
            asyncio.set_event_loop(None)
        stack.close()


#: Coroutines that refused to close (they catch GeneratorExit too). Kept alive on
#: purpose: garbage-collecting them would print "coroutine ignored GeneratorExit" into
#: whatever notebook cell happens to run next.
_ABANDONED: list[Any] = []


def _forget_abandoned() -> None:
    """At exit: let the abandoned coroutines go without their GeneratorExit complaints."""
    previous = sys.unraisablehook

    def quiet(info: Any) -> None:
        if isinstance(info.exc_value, RuntimeError) and "ignored GeneratorExit" in str(
            info.exc_value
        ):
            return
        previous(info)

    sys.unraisablehook = quiet
    _ABANDONED.clear()


atexit.register(_forget_abandoned)


def _abandon(task: asyncio.Task[Any]) -> None:
    """Drop a task that would not finish, without noise now or at garbage collection."""
    task._log_destroy_pending = False  # type: ignore[attr-defined]
    coro = task.get_coro()
    for _ in range(3):
        with contextlib.suppress(BaseException):  # it ignored GeneratorExit: try again
            coro.close()
        if getattr(coro, "cr_frame", None) is None:
            return
    _ABANDONED.append(coro)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> list[str]:
    """Cancel the tasks still pending; return the names of those the learner started."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    names = sorted(_task_label(t) for t in pending if not t.get_name().startswith("wslearn"))
    for t in pending:
        t.cancel()
    if pending:
        waiter = asyncio.wait(pending, timeout=30.0)  # loop time: instant when virtual
        with contextlib.suppress(VirtualDeadlock, VirtualTimeLimit, PacedIdle, RuntimeError):
            loop.run_until_complete(waiter)
    with contextlib.suppress(Exception):
        loop.run_until_complete(loop.shutdown_asyncgens())
    with contextlib.suppress(Exception):
        loop.run_until_complete(loop.shutdown_default_executor())
    return names


def _task_label(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(getattr(coro, "cr_code", None), "co_qualname", None)
    return name or "task"


def _context_text(context: dict[str, Any]) -> str:
    message = str(context.get("message", "error"))
    exc = context.get("exception")
    if exc is not None:  # with the learner's own line, where there is one
        message += ": " + describe_exception(exc)
    return sanitize(message)


# -- describing learner errors -------------------------------------------------------

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_PORT = re.compile(r"(127\.0\.0\.1|localhost|\[::1\]):\d+")
_TMP = re.compile(r"/tmp/[^\s'\",)]+")


def sanitize(text: str) -> str:
    """Remove what would make output differ run to run: object ids, ports, temp paths."""
    text = _ADDRESS.sub("", text)
    text = _PORT.sub(r"\1:PORT", text)
    return _TMP.sub("<cell>", text)


def is_ours(filename: str) -> bool:
    """Whether a code file belongs to wslearn, the standard library or an installed package."""
    if filename.startswith(_PACKAGE_DIR) and "/tests/" not in filename:
        return True
    return "/lib/python3" in filename or filename.startswith("<frozen")


def learner_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost traceback frame that is learner code (a notebook cell, a test file)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if not is_ours(frame.filename):
            found = frame
    return found


def describe_exception(exc: BaseException) -> str:
    """``ZeroDivisionError: division by zero (in keep_connected, line 7)`` -- one stable line."""
    detail = " ".join(str(exc).split())
    text = type(exc).__name__ + (f": {detail}" if detail else "")
    frame = learner_frame(exc)
    if frame is not None:
        text += f" (in {frame.name}, line {frame.lineno})"
    return sanitize(text)
