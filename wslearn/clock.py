"""Three kinds of time for the same client: real, sped-up and virtual.

The seed's schedule takes 31 s to play out (1 + 2 + 4 + 8 + 16). That is fine once,
in a browser; it is far too slow for a notebook cell that should show it, a test that
must check it and an exercise checker that runs it dozens of times. The client
therefore never calls ``asyncio.sleep`` or ``loop.call_later`` directly: it asks its
``Clock``.

* ``RealClock()`` -- seconds are seconds (the default on a normal event loop).
* ``SpedUpClock(speed=20)`` -- every wait is divided by ``speed``: the 31 s schedule
  plays in about 1.5 s against the *real* server, and the timeline still says 1, 2,
  4, 8, 16 s because it records *planned* (logical) time.
* ``VirtualClock()`` with ``run_virtual(main)`` -- a fresh event loop whose clock is
  virtual: whenever nothing is ready to run, time jumps straight to the next timer.
  ``asyncio.sleep``, ``asyncio.wait_for`` timeouts and the client itself run unchanged,
  so a whole 5-attempt outage against the in-memory network (``wslearn.simnet``) takes
  milliseconds and gives the same result every time. This is the idea of the
  ``looptime`` pytest plugin, in a few lines.

Virtual time has one rule: everything must happen *inside* the loop. A real socket or
a thread that calls back later cannot be waited for -- the loop would jump over it.
When nothing is ready and no timer is pending, nothing can ever happen again:
``run_virtual`` raises ``VirtualDeadlock`` naming the waiting tasks instead of hanging,
and it stops at a virtual time ``limit`` with ``VirtualTimeLimit`` (a loop that keeps
pinging a silent peer would otherwise advance time forever).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import inspect
import itertools
import math
import selectors
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar, TypeVarTuple, Unpack

__all__ = [
    "Clock",
    "LeakError",
    "PacedIdle",
    "PacedLoop",
    "RealClock",
    "SpedUpClock",
    "VirtualClock",
    "VirtualDeadlock",
    "VirtualTimeLimit",
    "VirtualTimeLoop",
    "default_clock",
    "run_virtual",
]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


# -- clocks --------------------------------------------------------------------------------


class Clock:
    """What the client driver needs from time. All durations are in *clock* seconds.

    Subclasses set ``speed`` and implement ``now()``; waits are event-loop waits scaled
    by ``speed``, so they stay cancellable and work on any loop (virtual included).
    """

    #: How many clock seconds pass per second of event-loop time.
    speed: float = 1.0

    def now(self) -> float:
        """Clock seconds since the clock's epoch (for display; timelines use logical time)."""
        raise NotImplementedError

    def loop_seconds(self, seconds: float) -> float:
        """Event-loop seconds for a wait of ``seconds`` on this clock."""
        return seconds / self.speed

    def call_later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        """Run ``callback`` after ``delay`` clock seconds on the running loop (cancellable)."""
        self._check_loop()
        return asyncio.get_running_loop().call_later(self.loop_seconds(delay), callback)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` clock seconds."""
        self._check_loop()
        await asyncio.sleep(self.loop_seconds(seconds))

    @contextlib.asynccontextmanager
    async def timeout(self, seconds: float | None) -> AsyncIterator[None]:
        """``asyncio.timeout`` measured on this clock (``None``: no timeout)."""
        self._check_loop()
        async with asyncio.timeout(None if seconds is None else self.loop_seconds(seconds)):
            yield

    def _check_loop(self) -> None:
        """Hook: the virtual clock refuses to run on a real loop."""


class RealClock(Clock):
    """Wall-clock time: the clock of a real browser tab."""

    def __init__(self) -> None:
        self._epoch = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._epoch

    def __repr__(self) -> str:
        return "RealClock()"


class SpedUpClock(Clock):
    """Real time played ``speed`` times faster: ``speed=20`` turns 31 s into ~1.5 s."""

    def __init__(self, speed: float = 20.0) -> None:
        if isinstance(speed, bool) or not isinstance(speed, int | float):
            raise TypeError(f"SpedUpClock(speed=...) takes a number, got {speed!r}")
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError(f"SpedUpClock speed must be a finite number > 0, got {speed!r}")
        self.speed = float(speed)
        self._epoch = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._epoch) * self.speed

    def __repr__(self) -> str:
        return f"SpedUpClock(speed={self.speed:g})"


class VirtualClock(Clock):
    """The clock of a ``run_virtual()`` loop: waits cost no real time at all."""

    def now(self) -> float:
        self._check_loop()
        return asyncio.get_running_loop().time()

    def _check_loop(self) -> None:
        if not isinstance(asyncio.get_running_loop(), VirtualTimeLoop):
            raise RuntimeError(
                "VirtualClock only works inside run_virtual(...): on a normal event loop "
                "its waits would be real. Use RealClock() or SpedUpClock(speed) there."
            )

    def __repr__(self) -> str:
        return "VirtualClock()"


def default_clock() -> Clock:
    """``VirtualClock`` inside ``run_virtual``, else ``RealClock`` (what ``Client`` uses)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return RealClock()
    return VirtualClock() if isinstance(loop, VirtualTimeLoop) else RealClock()


# -- the virtual-time loop ---------------------------------------------------------------


class VirtualDeadlock(RuntimeError):
    """Nothing is ready and no timer is pending: no task can ever make progress."""


class VirtualTimeLimit(RuntimeError):
    """Virtual time passed ``run_virtual(limit=...)`` before the main coroutine finished."""


class LeakError(AssertionError):
    """``run_virtual(strict=True)``: the main coroutine left tasks running."""


class _LogicalTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is logical: it moves only when a timer is due, and
    then lands exactly on that timer's deadline (no float drift), so timelines read
    1, 3, 7, 15, 31 s and not 0.9999 s. ``VirtualTimeLoop`` jumps at once;
    ``PacedLoop`` first waits ``1/speed`` real seconds per logical second for sockets."""

    _now: float = 0.0

    def __init__(self, selector: selectors.BaseSelector) -> None:
        #: Pending deadlines as a heap of (when, sequence number, handle).
        self._deadlines: list[tuple[float, int, asyncio.TimerHandle]] = []
        self._handles = itertools.count()
        super().__init__(selector)

    def time(self) -> float:
        return self._now

    def call_at(
        self,
        when: float,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """Schedule as usual, and remember the deadline: a jump lands on it exactly.

        Our own heap of deadlines, so the loop never reads asyncio's private
        ``_scheduled``. ``call_later`` and ``asyncio.sleep`` come through here.
        """
        handle = super().call_at(when, callback, *args, context=context)
        heapq.heappush(self._deadlines, (handle.when(), next(self._handles), handle))
        return handle

    def _jump_target(self, seconds: float) -> float:
        """Where a jump of ``seconds`` lands: at least the first pending timer's deadline
        (``seconds`` was computed from it by the loop and may be off by float drift)."""
        target = self._now + seconds
        deadlines = self._deadlines
        while deadlines and (deadlines[0][2].cancelled() or deadlines[0][0] <= self._now):
            heapq.heappop(deadlines)  # cancelled, or due already: not a future deadline
        if deadlines:
            target = max(target, deadlines[0][0])
        return target


class _JumpingSelector(selectors.DefaultSelector):
    """A real selector (for the loop's self-pipe) that jumps time instead of blocking."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        loop = self.loop
        if ready or timeout == 0 or loop is None:
            return ready
        if timeout is None:
            # Nothing scheduled. Only another thread could still wake us (via the
            # self-pipe, e.g. call_soon_threadsafe): give it a short real grace period.
            ready = super().select(loop.grace)
            if not ready:
                raise VirtualDeadlock(loop.describe_deadlock())
            return ready
        loop.advance(timeout)
        return []


class VirtualTimeLoop(_LogicalTimeLoop):
    """An event loop whose ``time()`` is virtual and jumps to the next timer when idle."""

    def __init__(self, *, limit: float | None = 3600.0, grace: float = 0.05) -> None:
        selector = _JumpingSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0
        self.limit = limit
        self.grace = grace
        self._cleaning_up = False
        self._cleanup_limit = 0.0

    @property
    def cleaning_up(self) -> bool:
        """True while run_virtual cancels leftovers: they get 60 more virtual seconds."""
        return self._cleaning_up

    @cleaning_up.setter
    def cleaning_up(self, value: bool) -> None:
        self._cleaning_up = value
        self._cleanup_limit = self._now + 60.0

    def advance(self, seconds: float) -> None:
        """Move virtual time forward to the next timer (the selector calls this)."""
        target = self._jump_target(seconds)
        limit = self.limit
        if self.cleaning_up:  # cancelled tasks may still wait a little in their cleanup
            limit = self._cleanup_limit
        if limit is not None and target > limit:
            raise VirtualTimeLimit(
                f"virtual time limit of {self.limit:g}s reached and the main coroutine has "
                "not finished (something keeps scheduling timers, e.g. a heartbeat, while "
                "the code waits for an event that never comes). "
                "Pass run_virtual(..., limit=...) to allow more."
            )
        self._now = target

    def describe_deadlock(self) -> str:
        waiting = []
        for task in sorted(asyncio.all_tasks(self), key=lambda t: t.get_name()):
            if task.done():
                continue
            waiting.append(f"{task.get_name()} (in {_innermost(task.get_coro())})")
        listing = ", ".join(waiting) or "none"
        return (
            f"deadlock at virtual t={self._now:g}s: nothing is ready to run and no timer is "
            f"pending, so no task can ever continue. Waiting tasks: {listing}. "
            "(Under virtual time everything must happen inside the loop: real sockets and "
            "threads cannot be waited for.)"
        )


# -- the paced loop: real sockets, logical time ----------------------------------------


class PacedIdle(RuntimeError):
    """The paced loop waited ``idle`` real seconds and nothing at all happened."""


# -- the paced loop (real sockets, logical time) -------------------------------------


class _PacedSelector(selectors.DefaultSelector):
    """Waits for sockets in real time (scaled by ``speed``) and then jumps logical time."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: PacedLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self.loop
        if loop is None or timeout == 0:
            return super().select(timeout)
        if loop.held:
            # Time stands still while the checker waits for the server thread (a fault
            # being applied): only IO can happen. Poll so the hold is noticed ending.
            return super().select(0.02 if timeout is not None else 0.05)
        if timeout is None:
            ready = super().select(loop.idle)
            if not ready:
                raise PacedIdle(
                    f"nothing happened for {loop.idle:g} s of real time and no timer is "
                    "pending: the code waits for something that never comes"
                )
            return ready
        ready = super().select(loop.real_wait(timeout))
        if ready:
            return ready
        loop.advance(timeout)
        return []


class PacedLoop(_LogicalTimeLoop):
    """An event loop with *logical* time that waits ``1/speed`` real seconds per second.

    ``time()`` moves only when a timer is due, straight to its deadline (like the virtual
    loop), after really waiting ``(deadline - now) / speed`` seconds during which sockets
    can wake the loop. IO therefore happens "between timers" and is stamped with the
    time of the last timer -- exactly what the in-memory network gives, where IO takes
    no virtual time. ``held`` (see ``hold()``) stops time entirely.
    """

    def __init__(self, speed: float = 20.0, *, idle: float = 5.0) -> None:
        selector = _PacedSelector()
        super().__init__(selector)
        selector.loop = self
        self.speed = float(speed)
        self.idle = float(idle)
        self.held = 0
        self._target: float | None = None
        self._real_deadline = 0.0

    def advance(self, seconds: float) -> None:
        self._now = self._jump_target(seconds)
        self._target = None

    def real_wait(self, timeout: float) -> float:
        """Real seconds to wait for sockets before the next timer (``timeout`` logical
        seconds away) is due. The real deadline is fixed when a logical target is first
        seen, so IO that wakes the loop early does not restart the wait."""
        target = round(self._now + timeout, 9)
        now = time.monotonic()
        if target != self._target:
            self._target = target
            self._real_deadline = now + timeout / self.speed
        return max(0.0, self._real_deadline - now)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Stop logical time while the body runs (e.g. waiting for the server thread)."""
        self.held += 1
        try:
            yield
        finally:
            self.held -= 1
            self._target = None



def _innermost(coro: Any) -> str:
    """The qualified name of the innermost coroutine ``coro`` is awaiting (for errors)."""
    name = "?"
    for _ in range(50):
        code = getattr(coro, "cr_code", None) or getattr(coro, "ag_code", None)
        if code is None:
            break
        name = code.co_qualname
        coro = getattr(coro, "cr_await", None)
    return name


def run_virtual(
    main: Coroutine[Any, Any, T] | Callable[[], Awaitable[T]],
    *,
    limit: float | None = 3600.0,
    strict: bool = False,
) -> T:
    """Run ``main`` (a coroutine, or a function returning one) on a fresh virtual-time loop.

    Returns its result. Tasks still running when ``main`` ends are cancelled (like
    ``asyncio.run``); with ``strict=True`` that is a ``LeakError`` instead -- the course's
    cleanup rule, applied to the code under test. Raises ``VirtualDeadlock`` or
    ``VirtualTimeLimit`` instead of hanging.

    Called from a thread that already runs an event loop (a Jupyter cell), it runs in a
    short-lived helper thread and blocks until done (milliseconds for a whole outage).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_virtual_here(main, limit=limit, strict=strict)
    result: list[Any] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(_run_virtual_here(main, limit=limit, strict=strict))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="wslearn-virtual-time")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _run_virtual_here(
    main: Coroutine[Any, Any, T] | Callable[[], Awaitable[T]],
    *,
    limit: float | None,
    strict: bool,
) -> T:
    loop = VirtualTimeLoop(limit=limit)
    try:
        asyncio.set_event_loop(loop)
        coro: Coroutine[Any, Any, T]
        if inspect.iscoroutine(main):
            coro = main
        elif callable(main):
            coro = _await(main)
        else:
            raise TypeError(
                f"run_virtual() takes a coroutine or an async function, got {type(main).__name__}"
            )
        task = loop.create_task(coro, name="main")
        try:
            result = loop.run_until_complete(task)
        except BaseException:
            _cancel_all(loop)
            raise
        leftovers = _cancel_all(loop)
        if strict and leftovers:
            raise LeakError(
                f"leak: {len(leftovers)} task(s) still running when the main coroutine "
                f"returned: {', '.join(leftovers)} -- close clients and servers you start"
            )
        return result
    finally:
        loop.cleaning_up = True
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


async def _await(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


def _cancel_all(loop: VirtualTimeLoop) -> list[str]:
    """Cancel the tasks that are still pending; return their names (sorted)."""
    # Give tasks that are already finishing a few iterations (like tests/support.arun).
    for _ in range(5):
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if not pending:
            return []
        loop.cleaning_up = True
        try:
            loop.run_until_complete(asyncio.sleep(0))
        finally:
            loop.cleaning_up = False
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    names = sorted(t.get_name() for t in pending)
    for t in pending:
        t.cancel()
    loop.cleaning_up = True
    try:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    except (VirtualDeadlock, VirtualTimeLimit, RuntimeError):
        pass
    finally:
        loop.cleaning_up = False
    return names
