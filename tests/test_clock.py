"""Clocks: real, sped-up and the virtual-time loop of run_virtual."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from tests.support import arun
from wslearn.clock import (
    LeakError,
    RealClock,
    SpedUpClock,
    VirtualClock,
    VirtualDeadlock,
    VirtualTimeLimit,
    VirtualTimeLoop,
    default_clock,
    run_virtual,
)


def test_virtual_time_jumps_to_the_next_timer() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(31)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(100), 5)
        return loop.time() - start

    assert run_virtual(main) == 36.0  # exactly: virtual time lands on deadlines


def test_virtual_clock_is_exact_and_used_by_default_inside_run_virtual() -> None:
    async def main() -> list[float]:
        clock = default_clock()
        assert isinstance(clock, VirtualClock)
        times = []
        handle_fired: list[float] = []
        clock.call_later(2.5, lambda: handle_fired.append(clock.now()))
        for d in (1, 2, 4, 8, 16):
            await clock.sleep(d)
            times.append(clock.now())
        assert handle_fired == [2.5]
        async with clock.timeout(1):
            await clock.sleep(0.5)
        return times

    assert run_virtual(main()) == [1, 3, 7, 15, 31]


def test_deadlock_is_reported_not_hung() -> None:
    async def stuck() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(VirtualDeadlock, match=r"Waiting tasks: main \(in .*stuck\)"):
        run_virtual(stuck)


def test_time_limit() -> None:
    async def forever() -> None:
        while True:
            await asyncio.sleep(1)

    with pytest.raises(VirtualTimeLimit, match="limit of 100s"):
        run_virtual(forever, limit=100)


def test_leftover_tasks_are_cancelled_or_reported() -> None:
    cancelled = []

    async def leaky() -> None:
        async def background() -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        asyncio.get_running_loop().create_task(background(), name="background")
        await asyncio.sleep(0)

    run_virtual(leaky)
    assert cancelled == [True]
    with pytest.raises(LeakError, match="background"):
        run_virtual(leaky, strict=True)


def test_exceptions_propagate() -> None:
    async def boom() -> None:
        await asyncio.sleep(3)
        raise KeyError("x")

    with pytest.raises(KeyError):
        run_virtual(boom)
    with pytest.raises(TypeError, match="coroutine"):
        run_virtual(42)  # type: ignore[arg-type]


def test_run_virtual_from_inside_a_running_loop_uses_a_helper_thread() -> None:
    """A Jupyter cell already runs a loop: run_virtual still works and leaves no thread."""

    async def inner() -> str:
        await asyncio.sleep(60)
        return threading.current_thread().name

    async def outer() -> str:
        return run_virtual(inner)

    assert arun(outer()) == "wslearn-virtual-time"


def test_virtual_clock_refuses_a_real_loop() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="run_virtual"):
            await VirtualClock().sleep(1)
        assert isinstance(default_clock(), RealClock)

    arun(main())


def test_sped_up_clock_divides_waits() -> None:
    clock = SpedUpClock(speed=20)
    assert clock.loop_seconds(31) == pytest.approx(1.55)
    assert repr(clock) == "SpedUpClock(speed=20)"

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await clock.sleep(100)  # 100 clock seconds: 5 loop seconds on a virtual loop
        return loop.time() - start

    assert run_virtual(main) == 5.0
    with pytest.raises(ValueError, match="> 0"):
        SpedUpClock(0)
    with pytest.raises(TypeError):
        SpedUpClock("fast")  # type: ignore[arg-type]


def test_real_and_sped_up_now_move_forward() -> None:
    real, fast = RealClock(), SpedUpClock(1000)
    assert real.now() >= 0 and fast.now() >= 0
    assert isinstance(default_clock(), RealClock)  # no running loop at all


def test_loop_is_a_selector_loop_with_virtual_time() -> None:
    loop = VirtualTimeLoop()
    try:
        assert loop.time() == 0.0
        loop.advance(5)
        assert loop.time() == 5.0
    finally:
        loop.close()
