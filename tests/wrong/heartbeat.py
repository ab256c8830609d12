"""Chapter 05: heartbeat(ws, pong, interval, timeout) -- the seed's ping without a pong check."""

from __future__ import annotations

import asyncio
import json

from . import Case

PING = {"type": "ping"}


async def good(ws, pong, *, interval=30.0, timeout=10.0):
    while True:
        await asyncio.sleep(interval)
        pong.clear()
        await ws.send(PING)
        try:
            async with asyncio.timeout(timeout):
                await pong.wait()
        except TimeoutError:
            return


async def seed_ping_only(ws, pong, *, interval=30.0, timeout=10.0):
    """The seed's ✅ heartbeat: `setInterval(() => ws.send(ping), 30000)` -- no pong check."""
    while True:
        await asyncio.sleep(interval)
        await ws.send(json.dumps(PING))


async def never_clears(ws, pong, *, interval=30.0, timeout=10.0):
    while True:
        await asyncio.sleep(interval)
        await ws.send(PING)
        try:
            await asyncio.wait_for(pong.wait(), timeout)
        except TimeoutError:
            return


async def checks_at_once(ws, pong, *, interval=30.0, timeout=10.0):
    while True:
        await asyncio.sleep(interval)
        pong.clear()
        await ws.send(PING)
        if not pong.is_set():  # the pong is still on its way: always "dead"
            return


async def checks_next_tick(ws, pong, *, interval=30.0, timeout=10.0):
    """Checks the previous ping's pong only at the next interval: detects a whole interval late."""
    pong.set()
    while True:
        await asyncio.sleep(interval)
        if not pong.is_set():
            return
        pong.clear()
        await ws.send(PING)


async def hardcoded_interval(ws, pong, *, interval=30.0, timeout=10.0):
    while True:
        await asyncio.sleep(30)  # ignores the interval it was given
        pong.clear()
        await ws.send(PING)
        try:
            async with asyncio.timeout(timeout):
                await pong.wait()
        except TimeoutError:
            return


async def wrong_message(ws, pong, *, interval=30.0, timeout=10.0):
    while True:
        await asyncio.sleep(interval)
        pong.clear()
        await ws.send({"type": "heartbeat"})
        try:
            async with asyncio.timeout(timeout):
                await pong.wait()
        except TimeoutError:
            return


async def keeps_pinging_after_close(ws, pong, *, interval=30.0, timeout=10.0):
    """The seed's forgotten clearInterval, Python style: cancellation is swallowed."""
    while True:
        try:
            await asyncio.sleep(interval)
        except asyncio.CancelledError:
            continue
        pong.clear()
        await ws.send(PING)
        try:
            async with asyncio.timeout(timeout):
                await pong.wait()
        except TimeoutError:
            return


async def deadline_schedule(ws, pong, *, interval=30.0, timeout=10.0):
    """Right, written differently: a fixed-rate schedule and asyncio.wait with a timeout."""
    loop = asyncio.get_running_loop()
    next_ping = loop.time() + interval
    while True:
        await asyncio.sleep(max(0.0, next_ping - loop.time()))
        pong.clear()
        await ws.send(json.dumps(PING))
        waiter = asyncio.ensure_future(pong.wait())
        try:
            done, _ = await asyncio.wait({waiter}, timeout=timeout)
        finally:
            waiter.cancel()
        if not done:
            return
        next_ping = max(next_ping + interval, loop.time())


CASES = [
    Case("seed-ping-without-pong", "no-pong-timeout", (seed_ping_only,)),
    Case("pong-event-never-cleared", "pong-not-cleared", (never_clears,)),
    Case("checks-pong-at-once", "false-alarm", (checks_at_once,)),
    Case("checks-at-next-tick", "slow-detection", (checks_next_tick,)),
    Case("hardcoded-interval", "wrong-interval", (hardcoded_interval,)),
    Case("wrong-ping-message", "ping-format", (wrong_message,)),
    Case("pings-after-cancel", "ping-after-close", (keeps_pinging_after_close,)),
    Case("right-solution-shape", None, (good,)),
    Case("right-deadline-schedule", None, (deadline_schedule,)),
]


# -- found by mutation testing and the blind-class review (issue 11) -----------------------


async def returns_on_cancel(ws, pong, *, interval=30.0, timeout=10.0):
    """Catches everything around the pong wait: a cancel looks like a dead connection."""
    while True:
        await asyncio.sleep(interval)
        pong.clear()
        await ws.send(PING)
        try:
            async with asyncio.timeout(timeout):
                await pong.wait()
        except BaseException:
            return


async def ignores_timeout(ws, pong, *, interval=30.0, timeout=10.0):
    """Uses the interval but hard-codes the default pong timeout (10 s)."""
    while True:
        await asyncio.sleep(interval)
        pong.clear()
        await ws.send(PING)
        try:
            async with asyncio.timeout(10.0):
                await pong.wait()
        except TimeoutError:
            return


CASES += [
    Case("returns-when-cancelled", "swallows-cancel", (returns_on_cancel,)),
    Case("hardcoded-timeout", "slow-detection", (ignores_timeout,)),
]
