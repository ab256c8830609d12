"""Checker for chapter 04: ``keep_connected(url, connect, on_message, notify)`` that gives up.

The seed's mistake 4 is an endless reconnect loop -- a DDoS on your own server when it is
down. Its fix ("✅ max attempts with fallback") still has a bug: the counter is never
reset after a successful connection. The learner writes::

    MAX_ATTEMPTS = 5
    async def keep_connected(url, connect, on_message, notify) -> None

The first connect, then up to 5 retries after 1, 2, 4, 8, 16 s; after the 5th failed retry
``notify("WebSocket unavailable")`` once and return. A successful connect resets the
count; calling ``keep_connected`` again (the Reconnect button) starts over.

Scenarios: a server that refuses for good (also against the real server); two outages
with a success between; the Reconnect button; cancelled during the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from types import SimpleNamespace
from typing import Any

from ._common import learner_task, require_async, stop
from ._net import Lab, format_log
from ._runner import Exercise, Failed, Verdict
from .backoff import schedule_kind

NAME = "max_attempts"
UNAVAILABLE = "WebSocket unavailable"

HINTS = {
    "infinite-retries": "It never gives up: Module 07's mistake 4, a DDoS on your own server "
    "while it is down. Count the failed retries and stop after MAX_ATTEMPTS.",
    "off-by-one-max": "It gives up one attempt too early or too late: the first connect is "
    "not a retry; after it come exactly MAX_ATTEMPTS retries (waits 1, 2, 4, 8, 16 s), and "
    "the 5th failed retry is the last.",
    "no-notify": "It gave up silently: call notify(\"WebSocket unavailable\") once, so the "
    "user knows and can press Reconnect.",
    "notify-text": "notify() must get exactly \"WebSocket unavailable\" (Module 07's message; "
    "the UI shows it next to the Reconnect button).",
    "notify-twice": "notify() must be called once per give-up, not once per failed attempt.",
    "keeps-running": "After notify() the function must return: the Reconnect button starts a "
    "new keep_connected, and a loop still sleeping in the background would double it.",
    "no-reset": "Module 07's max-attempts snippet never resets the counter: after a "
    "successful connect the next outage gets fewer retries. Set the counter back to 0 as "
    "soon as connect() succeeds.",
    "no-restart": "Calling keep_connected again (the Reconnect button) did not start over: "
    "keep the counter in a local variable of keep_connected, not in a global or a default "
    "argument that survives between calls.",
    "notify-on-close": "It called notify() when it was cancelled. Cancelling is the user "
    "leaving the page, not the server being unavailable: no message then.",
    "reconnect-after-close": "It connected again after it was cancelled: let "
    "asyncio.CancelledError out (catch ConnectionError only).",
    "swallows-cancel": "Cancelling did not stop it: catch ConnectionError, not BaseException.",
    "no-backoff": "The waits between retries must grow: 1, 2, 4, 8, 16 s (use "
    "backoff_delay(attempt)).",
    "off-by-one": "The waits are off by one: retry 1 waits backoff_delay(1) == 1 s.",
    "wrong-schedule": "The retries must come 1, 3, 7, 15 and 31 s after the first failure "
    "(waits of backoff_delay(1), (2), ... counted from each failure).",
    "no-on-message": "Frames did not reach on_message: while connected, call "
    "`on_message(text)` for every frame (`async for text in ws:`), as in chapter 03.",
    "no-reconnect": "It stopped retrying before giving up: after a failed attempt, wait and "
    "try again until MAX_ATTEMPTS retries have failed.",
}

STEPS = [
    "Start from chapter 03's loop. Add a counter of failed retries (`attempt`), and before "
    "waiting check it: `if attempt > MAX_ATTEMPTS:` give up.",
    "Giving up = `notify(\"WebSocket unavailable\")` then `return`. The Reconnect button will "
    "simply call keep_connected again.",
    "Reset the counter (`attempt = 0`) right after connect() succeeds -- Module 07's "
    "snippet forgets this.",
    "Count like this: failure -> `attempt += 1` -> `if attempt > MAX_ATTEMPTS: notify(...); "
    "return` -> `await asyncio.sleep(backoff_delay(attempt))` -> connect again.",
]



def prepare(keep_connected: Any = None) -> SimpleNamespace:
    return SimpleNamespace(keep=require_async(keep_connected, "keep_connected"))


EXERCISE = Exercise(NAME, "04_max_attempts", prepare, speed=40.0,
                    objects=("keep_connected",), hints=HINTS, steps=STEPS)


class _Notes:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.texts: list[str] = []
        self.frames: list[Any] = []

    def on_message(self, text: Any) -> None:
        self.frames.append(text)

    def __call__(self, text: Any = None, *args: Any, **kwargs: Any) -> None:
        self.texts.append(str(text))
        self.lab.note(f"notify({str(text)!r})", "notify")


def _timeline(lab: Lab) -> str:
    return format_log(lab.entries("open", "failed", "fault", "notify", "note"))


#: How often each learner function was started (across scenarios and check() calls): a
#: counter kept in a global makes a *later* call give up at once.
_CALLS: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def _start(lab: Lab, learner: Any, notes: _Notes) -> asyncio.Task[Any]:
    with contextlib.suppress(TypeError):  # not weak-referenceable: no diagnosis, no harm
        _CALLS[learner.keep] = _CALLS.get(learner.keep, 0) + 1
    task = learner_task(learner.keep(lab.url(), lab.connect, notes.on_message, notes),
                        "keep_connected")

    def done(t: asyncio.Task[Any]) -> None:
        if not t.cancelled():
            lab.note("keep_connected returned")

    task.add_done_callback(done)
    return task


async def _give_up_run(lab: Lab, learner: Any, notes: _Notes, expected: str,
                       offset: int = 0) -> asyncio.Task[Any]:
    """Run until the learner gives up; raise Failed naming the mistake if it does not."""
    task = _start(lab, learner, notes)
    start_connects = lab.connects
    start_notes = len(notes.texts)
    await lab.until(lambda: task.done() or lab.connects - start_connects > 6, 120.0)
    if not task.done():
        await lab.until(lambda: task.done(), 120.0)  # a little more, to tell the kinds apart
    for _ in range(3):
        await asyncio.sleep(0)  # let the task's done-callback log "returned"
    made = lab.connects - start_connects
    said = notes.texts[start_notes:]
    if not task.done() or made > 6:
        running = not task.done()
        await stop(task)
        actual = _timeline(lab)
        if said and running:
            raise Failed("keeps-running", "notify() was called but keep_connected did not "
                         "return", expected, actual)
        if made > 6:
            raise Failed("infinite-retries", f"still retrying after {made} connects",
                         expected, actual)
        if made < 6:
            raise Failed(schedule_kind(lab, 0.0, offset + 1) if made > 1 else "no-reconnect",
                         f"stopped connecting after {made} connect(s) without giving up",
                         expected, actual)
        raise Failed("no-notify", "6 connects failed and it neither gave up nor notified",
                     expected, actual)
    if task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    actual = _timeline(lab)
    if made < 6 and said and _CALLS.get(learner.keep, 0) > 1:
        raise Failed("no-restart", f"this call gave up after {made} connect(s): it still "
                     "counts the failures of an earlier call", expected, actual)
    if made != 6:
        raise Failed("off-by-one-max", f"gave up after {made - 1} retries, expected 5 (the "
                     "first connect is not a retry)", expected, actual)
    if not said:
        raise Failed("no-notify", "it returned without notify()", expected, actual)
    if len(said) > 1:
        raise Failed("notify-twice", f"notify() was called {len(said)} times", expected,
                     actual)
    if said != [UNAVAILABLE]:
        raise Failed("notify-text", f"notify({said[0]!r})", expected, actual)
    if actual != expected:
        raise Failed(schedule_kind(lab, 0.0, offset + 1), "the retries came at other times",
                     expected, actual)
    return task


EXPECTED_DOWN = """\
t=   0.0s  server: refuse handshakes (HTTP 503)
t=   0.0s  connect #1 failed (HTTP 503)
t=   1.0s  connect #2 failed (HTTP 503)
t=   3.0s  connect #3 failed (HTTP 503)
t=   7.0s  connect #4 failed (HTTP 503)
t=  15.0s  connect #5 failed (HTTP 503)
t=  31.0s  connect #6 failed (HTTP 503)
t=  31.0s  notify('WebSocket unavailable')
t=  31.0s  keep_connected returned"""


@EXERCISE.scenario("server down for good: 1 connect + 5 retries, then notify and return",
                   real=True)
async def down(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    notes = _Notes(lab)
    await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
    await _give_up_run(lab, learner, notes, EXPECTED_DOWN)
    handshakes = lab.handshakes
    await asyncio.sleep(300 if lab.mode == "sim" else 20)  # the real run is paced: stay short
    later = lab.handshakes - handshakes
    if later:
        raise Failed("keeps-running", f"{later} more handshakes after giving up",
                     "no handshake after giving up", f"{later} handshakes")
    return Verdict(EXPECTED_DOWN, _timeline(lab),
                   f"the server saw {handshakes} handshakes, then none")


EXPECTED_BUTTON = """\
first run: gave up after 6 connects, notified once
Reconnect: connected at once
second outage: gave up after 6 connects, notified once"""


@EXERCISE.scenario("the Reconnect button (call keep_connected again) starts over")
async def button(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    notes = _Notes(lab)
    lines: list[str] = []

    def failed(exc: Failed) -> Failed:
        exc.expected = EXPECTED_BUTTON
        exc.actual = "\n".join([*lines, f"{exc.detail}"])
        return exc

    await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
    await _give_up_run(lab, learner, notes, EXPECTED_DOWN)
    lines.append("first run: gave up after 6 connects, notified once")
    await lab.fault("accept_again", text="server: accept again")
    opens = lab.opens
    task = _start(lab, learner, notes)
    await lab.until(lambda: lab.opens > opens or task.done(), 5.0)
    if lab.opens == opens:
        await stop(task)
        raise failed(Failed("no-restart", "the second keep_connected did not connect at once"))
    await lab.until(lambda: bool(notes.frames), 5.0)
    if not notes.frames:
        await stop(task)
        raise failed(Failed("no-on-message", "connected, but the welcome frame never reached "
                            "on_message"))
    lines.append("Reconnect: connected at once")
    mark = lab.connects
    await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
    await lab.fault("drop_all", text="server: drop all connections (1006)")
    await lab.until(lambda: task.done(), 120.0)
    if not task.done():
        await stop(task)
        raise failed(Failed("infinite-retries", "the second run never gave up"))
    retries = lab.connects - mark
    if retries != 5 or len(notes.texts) != 2:
        raise failed(Failed("no-restart", f"after Reconnect the next outage got {retries} "
                            f"retries (expected 5) and notify() was called "
                            f"{len(notes.texts) - 1} more time(s)"))
    lines.append("second outage: gave up after 6 connects, notified once")
    return Verdict(EXPECTED_BUTTON, "\n".join(lines))


EXPECTED_TWO = """\
t=   0.0s  connect #1 open
t=   0.0s  server: refuse handshakes (HTTP 503)
t=   0.0s  server: drop all connections (1006)
t=   1.0s  connect #2 failed (HTTP 503)
t=   3.0s  connect #3 failed (HTTP 503)
t=   7.0s  connect #4 failed (HTTP 503)
t=  15.0s  server: accept again
t=  15.0s  connect #5 open
t=  15.0s  server: refuse handshakes (HTTP 503)
t=  15.0s  server: drop all connections (1006)
t=  16.0s  connect #6 failed (HTTP 503)
t=  18.0s  connect #7 failed (HTTP 503)
t=  22.0s  connect #8 failed (HTTP 503)
t=  30.0s  server: accept again
t=  30.0s  connect #9 open"""


@EXERCISE.scenario("two outages of 3 failed retries, a success between: never gives up")
async def two_outages(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    notes = _Notes(lab)

    async def accept(n: int) -> None:
        if n in (5, 9):
            await lab.fault("accept_again", text="server: accept again")

    lab.before_dial = accept
    task = _start(lab, learner, notes)
    try:
        for opens in (1, 2):
            def opened(n: int = opens) -> bool:
                return lab.opens >= n or task.done()

            await lab.until(opened, 60.0)
            if lab.opens < opens:
                break
            await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
            await lab.fault("drop_all", text="server: drop all connections (1006)")
        await lab.until(lambda: lab.opens >= 3 or task.done(), 60.0)
        actual = _timeline(lab)
        if task.done() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        if actual != EXPECTED_TWO:
            kind = "no-reset" if notes.texts or task.done() else schedule_kind(lab, 0.0, 1)
            if lab.opens < 2:
                kind = "no-reconnect" if not notes.texts else "off-by-one-max"
            raise Failed(kind, "each outage must get its own 5 retries", EXPECTED_TWO, actual)
    finally:
        await stop(task)
    return Verdict(EXPECTED_TWO, actual)


EXPECTED_CANCEL = """\
cancelled while connected: ended, 0 connections open
cancelled during the wait: ended
no connect and no notify in the next 60 s"""


@EXERCISE.scenario("cancelled while connected and during a backoff wait: ends, no "
                   "reconnect, no notify")
async def cancelled(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    notes = _Notes(lab)
    task = _start(lab, learner, notes)
    await lab.until(lambda: lab.opens >= 1 and bool(notes.frames), 10.0)
    first = lab.connects
    ended, error = await stop(task)
    if error is not None:
        raise error
    left = await lab.settle(expect=0)
    await asyncio.sleep(10)
    if not ended or left or lab.connects != first or notes.texts:
        kind = ("reconnect-after-close" if lab.connects != first else "swallows-cancel"
                if not ended else "notify-on-close" if notes.texts else "left-open")
        raise Failed(kind, "cancelled while connected, keep_connected must end and close its "
                     "connection", EXPECTED_CANCEL, "cancelled while connected: "
                     + ("still running" if not ended else f"ended, {left} connections open, "
                        f"{lab.connects - first} connect(s) after"))
    await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
    task = _start(lab, learner, notes)
    # in the 2 s wait, not inside connect()
    if not await lab.into_backoff_wait(2) and not task.done():
        await stop(task)
        raise Failed("no-backoff", "after a failed retry it did not wait before the next one",
                     EXPECTED_CANCEL, "no wait after a failed retry")
    before = lab.connects
    ended, error = await stop(task)
    if error is not None:
        raise error
    if not ended:
        kind = "reconnect-after-close" if lab.connects > before else "swallows-cancel"
        raise Failed(kind, "keep_connected went on after it was cancelled", EXPECTED_CANCEL,
                     "cancelled during the wait: still running")
    await asyncio.sleep(60)
    actual = ("cancelled while connected: ended, 0 connections open\n"
              "cancelled during the wait: ended\n")
    if notes.texts:
        raise Failed("notify-on-close", f"notify({notes.texts[0]!r}) after the cancel",
                     EXPECTED_CANCEL, actual + "notify() was called")
    if lab.connects != before:
        raise Failed("reconnect-after-close", "it connected again after it was cancelled",
                     EXPECTED_CANCEL, actual + f"{lab.connects - before} connect(s)")
    return Verdict(EXPECTED_CANCEL, actual + "no connect and no notify in the next 60 s")
