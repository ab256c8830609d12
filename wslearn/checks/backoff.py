"""Checker for chapter 03: ``backoff_delay`` and ``keep_connected(url, connect, on_message)``.

The learner writes the seed's "✅ exponential backoff reconnection" in Python::

    def backoff_delay(attempt: int) -> float         # 1, 2, 4, 8, 16, then 30, 30 ...
    async def keep_connected(url, connect, on_message) -> None   # runs until cancelled

Scenarios (virtual time, in-memory server):

1. the delays for attempts 1..8 and 100 (pure);
2. the server stops and comes back: retries 1, 3, 7 s after the drop, reconnect at 15 s,
   and every frame reaches ``on_message`` (also run against the real server);
3. two drops (1006): the attempt count starts over after a success;
4. cancelled while connected and during a backoff wait: nothing reconnects, nothing
   stays open (the seed's own example reconnects after unmount).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from ._common import learner_task, message_types, require_async, require_callable, stop
from ._net import Lab, format_log
from ._runner import Exercise, Failed, Verdict

NAME = "backoff"
EXPECTED_DELAYS = [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]

HINTS = {
    "delay-type": "backoff_delay(attempt) must return a number of seconds (a float or int).",
    "off-by-one": "Off by one: attempt 1 waits 1 s, attempt 2 waits 2 s: "
    "`2 ** (attempt - 1)`. (Module 07's `2 ** attempt` counts attempts from 0.)",
    "milliseconds": "Seconds, not milliseconds: asyncio.sleep() takes seconds. Module 07's "
    "`1000 * 2 ** attempt` is in milliseconds because setTimeout wants those.",
    "no-cap": "No cap: the delay must stop growing at 30 s -- `min(30, ...)`, like "
    "Module 07's `Math.min(..., 30000)`. Without it, attempt 10 waits more than 8 minutes.",
    "no-backoff": "The waits do not grow: each failed attempt must wait longer than the one "
    "before (1, 2, 4, 8 s). A fixed delay -- or none -- hammers a server that is down "
    "(Module 07's mistake 4).",
    "wrong-delay": "backoff_delay gives other numbers than 1, 2, 4, 8, 16, 30, 30 ...: "
    "`min(30, 2 ** (attempt - 1))`.",
    "no-reconnect": "When the connection ended nothing reconnected. Put connect-and-read in a "
    "`while True:` loop: catch ConnectionError, wait backoff_delay(attempt), go round again. "
    "A clean close by the server ends `async for` quietly -- that needs a reconnect too.",
    "wrong-schedule": "The reconnect attempts happen at other times than 1, 3, 7, 15 s after "
    "the drop: wait backoff_delay(attempt) before attempt 1, 2, 3 ... (each wait counts from "
    "the previous failure).",
    "no-reset": "The attempt counter is never reset: after a successful connect the next "
    "outage must start at 1 s again (Module 07's max-attempts snippet has this bug). Set "
    "`attempt = 0` as soon as connect() succeeds.",
    "reconnect-after-close": "It connected again after it was cancelled (unmounted). "
    "Module 07's reconnect example has this bug: its cleanup close() fires onclose, which "
    "schedules a reconnect. Catch ConnectionError only -- never BaseException or "
    "CancelledError -- so cancellation ends the loop.",
    "swallows-cancel": "Cancelling the task did not stop it: asyncio.CancelledError must be "
    "allowed out of your function. Catch ConnectionError, not BaseException; never use a "
    "bare `except:`.",
    "left-open": "Cancelled while connected, your code left the connection open on the "
    "server. Use `async with connect(url) as ws:` (or try/finally with `await ws.close()`) "
    "so the socket is closed on every way out.",
    "no-on-message": "Frames did not reach on_message: call `on_message(text)` for every "
    "frame you receive (`async for text in ws:`).",
    "returns-early": "keep_connected returned while it should keep the connection alive: it "
    "must only end when it is cancelled.",
}

STEPS = [
    "Start with backoff_delay: attempt 1 waits 1 s, attempt 2 waits 2 s, each one doubles, "
    "and none waits more than 30 s. Which power of 2 is attempt k, and what caps it?",
    "keep_connected is a `while True:` loop around one connection: connect, read every frame "
    "(`async for text in ws: on_message(text)`), and when that ends -- quietly or with a "
    "ConnectionError -- wait, then go round again.",
    "Keep `attempt` in a local variable: add 1 after each failure, sleep "
    "`backoff_delay(attempt)`, and set it back to 0 right after connect() succeeds.",
    "Cancellation is how the caller stops you: catch only ConnectionError and let "
    "asyncio.CancelledError out. `async with connect(url) as ws:` closes the socket on the "
    "way out.",
    "Skeleton: `attempt = 0` / `while True:` / `try: async with connect(url) as ws:` / "
    "`attempt = 0` / `async for text in ws: on_message(text)` / `except ConnectionError: "
    "pass` / `attempt += 1` / `await asyncio.sleep(backoff_delay(attempt))`.",
]



def prepare(backoff_delay: Any = None, keep_connected: Any = None) -> SimpleNamespace:
    return SimpleNamespace(
        delay=require_callable(backoff_delay, "backoff_delay"),
        keep=require_async(keep_connected, "keep_connected"),
    )


EXERCISE = Exercise(NAME, "03_backoff", prepare,
                    objects=("backoff_delay", "keep_connected"), hints=HINTS, steps=STEPS)


def fmt(values: list[Any]) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, int | float) else repr(v) for v in values)


def delay_kind(values: list[Any]) -> str:
    """Name the mistake in a list of delays for attempts 1..8."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "delay-type"
    if values[:4] == [2, 4, 8, 16] or values[:4] == [0.5, 1, 2, 4]:
        return "off-by-one"
    if values[:3] == [1000, 2000, 4000] or values[:3] == [500, 1000, 2000]:
        return "milliseconds"
    if values[:5] == [1, 2, 4, 8, 16] and values[5] > 30:
        return "no-cap"
    if len(set(values[:5])) == 1:
        return "no-backoff"
    return "wrong-delay"


@EXERCISE.scenario("backoff_delay(1..8): 1, 2, 4, 8, 16, 30, 30, 30 s", network=False)
async def delays(lab: Lab | None, learner: Any) -> Verdict:
    values = [learner.delay(k) for k in range(1, 9)]
    expected = fmt(EXPECTED_DELAYS)
    if values != EXPECTED_DELAYS:
        kind = delay_kind(values)
        raise Failed(kind, "backoff_delay returns other delays", expected, fmt(values))
    far = learner.delay(100)
    if far != 30:
        raise Failed("no-cap", "backoff_delay(100) must still be 30 s", "30", fmt([far]))
    return Verdict(expected, fmt(values))


def _timeline(lab: Lab) -> str:
    return format_log(lab.entries("open", "failed", "fault"))


def schedule_kind(lab: Lab, since: float, opens_before: int) -> str:
    """Name the mistake from the times of the attempts after a drop at ``since``."""
    times = [e.t for e in lab.entries("connect") if e.t >= since][opens_before:]
    if not times:
        return "no-reconnect"
    waits = [round(b - a, 3) for a, b in zip([since, *times], times, strict=False)]
    if waits[:3] in ([2, 4, 8], [0.5, 1, 2], [2, 4], [0.5, 1]):
        return "off-by-one"
    if waits and all(w == waits[0] for w in waits[:4]):
        return "no-backoff"
    return "wrong-schedule"


def waits_text(lab: Lab, since: float, opens_before: int, expected: str) -> str:
    """``waited 2, 2, 2 s between attempts, expected 1, 2, 4 s`` -- the numbers that differ."""
    times = [e.t for e in lab.entries("connect") if e.t >= since][opens_before:]
    waits = [round(b - a, 3) for a, b in zip([since, *times], times, strict=False)]
    if not waits:
        return "no attempt after the drop"
    shown = ", ".join(f"{w:g}" for w in waits[:5])
    return f"waited {shown} s before the attempts, expected {expected} s"


async def _end(lab: Lab, task: asyncio.Task[Any], when: str = "") -> None:
    """Cancel the learner's task (the unmount) and check that it really stops."""
    before = lab.connects
    ended, error = await stop(task)
    if ended and error is None:
        return
    if ended and error is not None:
        raise error
    if lab.connects > before:
        raise Failed("reconnect-after-close", f"cancelled{when}, keep_connected went on and "
                     f"connected again ({lab.connects - before} connect(s) after the cancel)")
    raise Failed("swallows-cancel", f"cancelled{when}, keep_connected was still running 10 s "
                 "later")


EXPECTED_RESTART = """\
t=   0.0s  connect #1 open
t=   0.0s  server: stop (clients see 1001)
t=   1.0s  connect #2 failed (connection refused)
t=   3.0s  connect #3 failed (connection refused)
t=   7.0s  connect #4 failed (connection refused)
t=  15.0s  server: start
t=  15.0s  connect #5 open"""


async def _until_open(lab: Lab, task: asyncio.Task[Any], opens: int, timeout: float,
                      what: str) -> None:
    ok = await lab.until(lambda: lab.opens >= opens or task.done(), timeout)
    if task.done() and lab.opens < opens:
        _, error = await stop(task)
        if error is not None:
            raise error
        raise Failed("returns-early" if opens == 1 else "no-reconnect",
                     f"keep_connected returned {what}", actual=_timeline(lab))
    if not ok:
        kind = "no-reconnect"
        if opens > 1:
            kind = schedule_kind(lab, 0.0, 1)
        raise Failed(kind, f"no connection {what}", actual=_timeline(lab))


@EXERCISE.scenario("server stops for 15 s: retries after 1, 2, 4 s, reconnects, "
                   "frames reach on_message", real=True)
async def restart(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    received: list[Any] = []

    async def restart_server(n: int) -> None:
        if n == 5:
            await lab.fault("start", text="server: start")

    lab.before_dial = restart_server
    task = learner_task(learner.keep(lab.url(topics=["news"]), lab.connect, received.append),
                        "keep_connected")
    try:
        await _until_open(lab, task, 1, 10.0, "before the first connect opened")
        await lab.until(lambda: len(received) >= 1, 5.0)
        await lab.publish("news", "news.created", id=1)
        got_first = await lab.until(lambda: "news.created" in message_types(received), 5.0)
        await lab.fault("stop", text="server: stop (clients see 1001)")
        ok = await lab.until(lambda: lab.opens >= 2 or task.done(), 60.0)
        actual = _timeline(lab)
        if not ok or task.done():
            if task.done():
                _, error = await stop(task)
                if error is not None:
                    raise error
                raise Failed("no-reconnect", "keep_connected returned when the server stopped "
                             "(a clean close ends `async for` quietly: reconnect then too)",
                             EXPECTED_RESTART, actual)
            raise Failed(schedule_kind(lab, 0.0, 1), "did not reconnect as expected",
                         EXPECTED_RESTART, actual)
        if actual != EXPECTED_RESTART:
            raise Failed(schedule_kind(lab, 0.0, 1), "the reconnect attempts came at other "
                         "times: " + waits_text(lab, 0.0, 1, "1, 2, 4, 8"), EXPECTED_RESTART,
                         actual)
        await lab.until(lambda: message_types(received).count("welcome") >= 2, 5.0)
        await lab.publish("news", "news.created", id=2)
        await lab.until(lambda: message_types(received).count("news.created") >= 2, 5.0)
        kinds = message_types(received)
        if not got_first or kinds.count("news.created") < 2:
            raise Failed("no-on-message", "on_message did not get every frame",
                         "welcome, news.created, welcome, news.created", ", ".join(kinds)
                         or "(nothing)")
    except BaseException:
        await stop(task)
        raise
    await _end(lab, task)
    return Verdict(EXPECTED_RESTART, actual)


EXPECTED_START_DOWN = """\
t=   0.0s  server: refuse handshakes (HTTP 503)
t=   0.0s  connect #1 failed (HTTP 503)
t=   1.0s  connect #2 failed (HTTP 503)
t=   3.0s  connect #3 failed (HTTP 503)
t=   7.0s  server: accept again
t=   7.0s  connect #4 open"""


@EXERCISE.scenario("server down at the start: the first retry comes 1 s after the first "
                   "failure, then 2 s, 4 s")
async def start_down(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None

    async def accept(n: int) -> None:
        if n == 4:
            await lab.fault("accept_again", text="server: accept again")

    lab.before_dial = accept
    await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
    task = learner_task(learner.keep(lab.url(), lab.connect, lambda text: None),
                        "keep_connected")
    try:
        await lab.until(lambda: lab.opens >= 1 or task.done(), 60.0)
        actual = _timeline(lab)
        if task.done() and lab.opens < 1:
            _, error = await stop(task)
            if error is not None:
                raise error
            raise Failed("no-reconnect", "keep_connected returned after a failed connect: "
                         "a refused connect must be retried too", EXPECTED_START_DOWN, actual)
        if actual != EXPECTED_START_DOWN:
            raise Failed(schedule_kind(lab, 0.0, 1), "the counter must start so that the "
                         "first retry waits backoff_delay(1) = 1 s: "
                         + waits_text(lab, 0.0, 1, "1, 2, 4"), EXPECTED_START_DOWN, actual)
    except BaseException:
        await stop(task)
        raise
    await _end(lab, task)
    return Verdict(EXPECTED_START_DOWN, actual)


EXPECTED_RESET = """\
t=   0.0s  connect #1 open
t=   0.0s  server: refuse handshakes (HTTP 503)
t=   0.0s  server: drop all connections (1006)
t=   1.0s  connect #2 failed (HTTP 503)
t=   3.0s  connect #3 failed (HTTP 503)
t=   7.0s  server: accept again
t=   7.0s  connect #4 open
t=   7.0s  server: drop all connections (1006)
t=   8.0s  connect #5 open"""


@EXERCISE.scenario("two drops (1006): the attempt count starts over after a success")
async def reset(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None

    async def accept(n: int) -> None:
        if n == 4:
            await lab.fault("accept_again", text="server: accept again")

    lab.before_dial = accept
    task = learner_task(learner.keep(lab.url(), lab.connect, lambda text: None),
                        "keep_connected")
    try:
        await _until_open(lab, task, 1, 10.0, "before the first connect opened")
        await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
        await lab.fault("drop_all", text="server: drop all connections (1006)")
        await _until_open(lab, task, 2, 60.0, "after the first drop")
        await lab.fault("drop_all", text="server: drop all connections (1006)")
        await lab.until(lambda: lab.opens >= 3 or task.done(), 60.0)
        actual = _timeline(lab)
        if actual != EXPECTED_RESET:
            third = [e.t for e in lab.entries("connect")][4:5]
            kind = "no-reset" if third and third[0] > 8.0 else schedule_kind(lab, 0.0, 1)
            if lab.opens < 3 and not third:
                kind = "no-reconnect"
            raise Failed(kind, "after the second drop the first retry must come 1 s later",
                         EXPECTED_RESET, actual)
    except BaseException:
        await stop(task)
        raise
    await _end(lab, task)
    return Verdict(EXPECTED_RESET, actual)


EXPECTED_CANCEL = """\
cancel while connected: ended, 0 connections open
no connect in the next 60 s
cancel during the backoff wait: ended
no connect in the next 60 s
cancel while connecting: ended, 0 connections open after the server answers"""


@EXERCISE.scenario("cancelled (unmounted) while connected and while waiting: "
                   "no reconnect, nothing left open")
async def cancel(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    lines: list[str] = []

    def fail(kind: str, detail: str, line: str) -> Failed:
        lines.append(line)
        expected = "\n".join(EXPECTED_CANCEL.splitlines()[: len(lines)])
        return Failed(kind, detail, expected, "\n".join(lines))

    task = learner_task(learner.keep(lab.url(), lab.connect, lambda text: None),
                        "keep_connected")
    await _until_open(lab, task, 1, 10.0, "before the first connect opened")
    await lab.until(lambda: bool(lab.frames), 5.0)
    try:
        await _end(lab, task, " while connected")
    except Failed as exc:
        raise fail(exc.kind, exc.detail, "cancel while connected: still running") from None
    left = await lab.settle(expect=0)
    if left:
        raise fail("left-open", f"{left} connection(s) still open on the server after the "
                   "task was cancelled", f"cancel while connected: ended, {left} connections open")
    lines.append("cancel while connected: ended, 0 connections open")
    before = lab.connects
    await asyncio.sleep(60)
    if lab.connects != before:
        raise fail("reconnect-after-close", "it connected again after it was cancelled",
                   f"{lab.connects - before} connect(s) in the next 60 s")
    lines.append("no connect in the next 60 s")

    await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
    task = learner_task(learner.keep(lab.url(), lab.connect, lambda text: None),
                        "keep_connected")
    waiting = await lab.into_backoff_wait(lab.failures + 1)  # failed, now sleeping
    if not waiting and not task.done():
        await stop(task)
        raise fail("no-backoff", "after a failed connect it did not wait before the next "
                   "attempt", "cancel during the backoff wait: no connect during the wait")
    try:
        await _end(lab, task, " during the backoff wait")
    except Failed as exc:
        raise fail(exc.kind, exc.detail, "cancel during the backoff wait: still running") from None
    lines.append("cancel during the backoff wait: ended")
    before = lab.connects
    await asyncio.sleep(60)
    if lab.connects != before:
        raise fail("reconnect-after-close", "it connected again after it was cancelled",
                   f"{lab.connects - before} connect(s) in the next 60 s")
    lines.append("no connect in the next 60 s")

    await lab.fault("accept_again", text="server: accept again")
    await lab.fault("freeze", text="server: freeze (handshakes wait)")
    task = learner_task(learner.keep(lab.url(), lab.connect, lambda text: None),
                        "keep_connected")
    await lab.into_handshake(lab.connects + 1)
    try:
        await _end(lab, task, " while connecting")
    except Failed as exc:
        raise fail(exc.kind, exc.detail, "cancel while connecting: still running") from None
    await lab.fault("thaw", text="server: thaw")
    await asyncio.sleep(5.0)
    left = await lab.settle(expect=0)
    if left:
        raise fail("left-open", f"cancelled while connecting, {left} connection(s) opened "
                   "anyway and stayed open", f"cancel while connecting: {left} open")
    lines.append("cancel while connecting: ended, 0 connections open after the server answers")
    return Verdict(EXPECTED_CANCEL, "\n".join(lines))
