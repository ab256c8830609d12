"""Checker for chapter 05: ``heartbeat(ws, pong, *, interval, timeout)``.

The seed's mistake 3 is a connection without a heartbeat: a half-open connection (server
frozen, NAT entry gone) raises nothing, so the client shows "connected" forever. Its fix
sends ``{"type": "ping"}`` every 30 s -- and never checks for the pong, which detects
nothing either. The learner writes::

    async def heartbeat(ws, pong: asyncio.Event, *, interval=30.0, timeout=10.0) -> None

Every ``interval`` s send a ping, then wait up to ``timeout`` s for ``pong`` (set by the
reader when a pong arrives). No pong in time: return -- the caller aborts the connection
and reconnects. Until then it runs; cancelled, it stops.

Scenarios: a healthy server for 100 s; a server frozen after the first pong (dead by
``interval + timeout``, also against the real server); pongs that come 5 s late.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import SimpleNamespace
from typing import Any

from ..transport import ConnectionLost
from ._common import learner_task, require_async, stop
from ._net import Connection, Lab, format_log
from ._runner import Exercise, Failed, Verdict

NAME = "heartbeat"

HINTS = {
    "no-pong-timeout": "Module 07's heartbeat: pings go out, but nobody waits for the pong, so "
    "a frozen server is never noticed. After each ping wait for the pong with a deadline: "
    "`async with asyncio.timeout(timeout): await pong.wait()` -- and return on TimeoutError.",
    "pong-not-cleared": "The pong Event is never cleared: after the first pong it stays set, "
    "so every later wait returns at once, even from a frozen server. `pong.clear()` before "
    "each ping.",
    "slow-detection": "The dead connection was noticed too late: it must be detected at "
    "most `interval + timeout` seconds after the last pong (ping, then wait `timeout`).",
    "false-alarm": "It declared a healthy connection dead: after sending the ping, *wait* up "
    "to `timeout` seconds for the pong (it arrives a moment later), do not check at once.",
    "wrong-interval": "Pings must go out every `interval` seconds (use the argument, not a "
    "number of your own): `await asyncio.sleep(interval)` before each ping.",
    "ping-format": "The server answers `{\"type\": \"ping\"}` with `{\"type\": \"pong\"}`; "
    "anything else gets an error instead. Send exactly `{\"type\": \"ping\"}`.",
    "ping-after-close": "Pings continued after the heartbeat was cancelled -- Module 07's "
    "forgotten `clearInterval`. Let asyncio.CancelledError end your loop.",
    "swallows-cancel": "Cancelling did not stop the heartbeat: do not catch CancelledError "
    "(or BaseException, or a bare `except:`).",
    "returns-early": "heartbeat returned although pongs kept coming: it must run until a pong "
    "is late (or until it is cancelled).",
}

STEPS = [
    "The loop: `while True:` wait `interval` seconds, send a ping, wait for the pong.",
    "Sending: `await ws.send({\"type\": \"ping\"})` (a dict is sent as JSON).",
    "The pong arrives on the reader's side; it sets `pong` (an asyncio.Event). Clear the "
    "event *before* the ping, then wait for it.",
    "Waiting with a deadline: `try: async with asyncio.timeout(timeout): await pong.wait()` "
    "`except TimeoutError: return` -- returning means \"the connection is dead\".",
]



def prepare(heartbeat: Any = None) -> SimpleNamespace:
    return SimpleNamespace(heartbeat=require_async(heartbeat, "heartbeat"))


EXERCISE = Exercise(NAME, "05_heartbeat", prepare, speed=30.0,
                    objects=("heartbeat",), hints=HINTS, steps=STEPS)


class _Pong(asyncio.Event):
    """The pong Event handed to the learner; it counts how it is used (for the hint)."""

    def __init__(self) -> None:
        super().__init__()
        self.looked = 0
        self.cleared = 0

    async def wait(self) -> bool:  # type: ignore[override]
        self.looked += 1
        return await super().wait()

    def is_set(self) -> bool:
        self.looked += 1
        return super().is_set()

    def clear(self) -> None:
        self.cleared += 1
        super().clear()


class _Session:
    """One connection with a reader (sets ``pong``) and the learner's heartbeat on it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.pong = _Pong()
        self.sent: list[str] = []
        self.ws: Connection | None = None
        self.reader: asyncio.Task[Any] | None = None
        self.beat: asyncio.Task[Any] | None = None

    async def start(self, learner: Any, interval: float, timeout: float) -> None:
        self.ws = ws = await self.lab.connect(self.lab.url())
        original_send = ws.send

        async def send(message: Any) -> None:
            data = message
            if isinstance(message, str):
                with contextlib.suppress(ValueError):
                    data = json.loads(message)
            kind = data.get("type") if isinstance(data, dict) else None
            self.sent.append(kind if isinstance(kind, str) else repr(message)[:30])
            await original_send(message)

        ws.send = send  # type: ignore[method-assign]
        self.reader = asyncio.get_running_loop().create_task(self._read(), name="wslearn-reader")
        await self.lab.until(lambda: bool(self.lab.frames), 5.0)  # the welcome
        self.beat = learner_task(
            learner.heartbeat(ws, self.pong, interval=interval, timeout=timeout), "heartbeat"
        )
        self.beat.add_done_callback(self._ended)

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionLost):
            while True:
                data = json.loads(await self.ws.recv())
                if data.get("type") == "pong":
                    self.lab.note("pong received", "pong")
                    self.pong.set()

    def _ended(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is None:
            self.lab.note("heartbeat returned: connection presumed dead", "dead")

    def timeline(self) -> str:
        return format_log(self.lab.entries("send", "pong", "fault", "dead"))

    async def close(self) -> None:
        if self.beat is not None:
            await stop(self.beat)
        if self.reader is not None:
            await stop(self.reader)
        if self.ws is not None:
            await self.ws._abort()

    def ping_kind(self) -> str | None:
        wrong = [s for s in self.sent if s != "ping"]
        return "ping-format" if wrong else None


EXPECTED_HEALTHY = """\
t=  30.0s  #1 sent ping
t=  30.0s  pong received
t=  60.0s  #1 sent ping
t=  60.0s  pong received
t=  90.0s  #1 sent ping
t=  90.0s  pong received"""


@EXERCISE.scenario("healthy server for 100 s: a ping every 30 s, each answered; "
                   "cancel stops the pings")
async def healthy(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    session = _Session(lab)
    try:
        await session.start(learner, 30.0, 10.0)
        await asyncio.sleep(100)
        actual = session.timeline()
        beat = session.beat
        assert beat is not None
        if beat.done() and beat.exception() is not None:
            raise beat.exception()  # type: ignore[misc]
        if actual != EXPECTED_HEALTHY or beat.done():
            kind = session.ping_kind()
            if kind is None:
                pings = [e.t for e in lab.entries("send")]
                if beat.done():
                    kind = "false-alarm" if pings else "returns-early"
                elif pings[:3] != [30.0, 60.0, 90.0]:
                    kind = "wrong-interval"
                else:
                    kind = "wrong-interval"
            raise Failed(kind, "pings and pongs did not go as expected", EXPECTED_HEALTHY,
                         actual)
        before = len(session.sent)
        ended, error = await stop(beat)
        if error is not None:
            raise error
        await asyncio.sleep(60)
        after = len(session.sent) - before
        if after:
            raise Failed("ping-after-close", f"{after} ping(s) after the cancel",
                         "no ping after the cancel", f"{after} ping(s) after the cancel")
        if not ended:
            raise Failed("swallows-cancel", "heartbeat was still running 10 s after the "
                         "cancel", "ended", "still running")
    finally:
        await session.close()
    return Verdict(EXPECTED_HEALTHY, actual)


def _expected_frozen(interval: float, timeout: float) -> str:
    t = lambda x: f"t={x:>6.1f}s"  # noqa: E731
    return (f"{t(interval)}  #1 sent ping\n{t(interval)}  pong received\n"
            f"{t(interval)}  server: freeze (no pong, no error)\n"
            f"{t(2 * interval)}  #1 sent ping\n"
            f"{t(2 * interval + timeout)}  heartbeat returned: connection presumed dead")


async def _frozen(lab: Lab, learner: Any, interval: float, timeout: float) -> Verdict:
    expected = _expected_frozen(interval, timeout)
    session = _Session(lab)
    try:
        await session.start(learner, interval, timeout)
        beat = session.beat
        assert beat is not None
        await lab.until(lambda: bool(lab.entries("pong")) or beat.done(), 2 * interval)
        if lab.entries("pong"):
            await lab.fault("freeze", text="server: freeze (no pong, no error)")
        await lab.until(lambda: beat.done(), 200.0)
        for _ in range(3):
            await asyncio.sleep(0)
        actual = session.timeline()
        if beat.done() and not beat.cancelled() and beat.exception() is not None:
            raise beat.exception()  # type: ignore[misc]
        if actual != expected:
            kind = session.ping_kind()
            dead = lab.entries("dead")
            if kind is None:
                if not beat.done():
                    pong = session.pong
                    kind = ("pong-not-cleared" if pong.looked and not pong.cleared
                            else "no-pong-timeout")
                else:
                    pings = [e.t for e in lab.entries("send")]
                    if pings[:2] != [interval, 2 * interval]:
                        kind = "wrong-interval"
                    elif dead and dead[0].t > 2 * interval + timeout:
                        kind = "slow-detection"
                    else:
                        kind = "false-alarm"
            when = f"at t={dead[0].t:g} s" if dead else "never"
            raise Failed(kind, f"the frozen server must be detected at t={2 * interval + timeout:g}"
                         f" s (the ping at {2 * interval:g} s + timeout {timeout:g} s); it was "
                         f"detected {when}", expected, actual)
    finally:
        await session.close()
    return Verdict(expected, actual)


EXPECTED_FROZEN = _expected_frozen(30.0, 10.0)


@EXERCISE.scenario("server frozen after the first pong: dead within interval + timeout "
                   "(70 s)", real=True)
async def frozen(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    return await _frozen(lab, learner, 30.0, 10.0)


@EXERCISE.scenario("the same with interval 20 s and timeout 5 s: dead at 45 s (both "
                   "arguments used, not the defaults)")
async def frozen_short(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    return await _frozen(lab, learner, 20.0, 5.0)


EXPECTED_SLOW = """\
pings answered 5 s late, timeout 8 s: still running at t=130 s
no false alarm"""


@EXERCISE.scenario("pongs arrive 5 s late (interval 20 s, timeout 8 s): no false alarm")
async def slow(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    session = _Session(lab)
    try:
        await session.start(learner, 20.0, 8.0)
        await lab.fault("delay", 5.0, text="server: every frame 5 s late")
        await asyncio.sleep(130)
        beat = session.beat
        assert beat is not None
        pings = len(session.sent)
        if beat.done() and not beat.cancelled() and beat.exception() is not None:
            raise beat.exception()  # type: ignore[misc]
        if beat.done():
            raise Failed(session.ping_kind() or "false-alarm",
                         "heartbeat returned although every pong arrived within the timeout",
                         EXPECTED_SLOW, session.timeline())
        if pings < 4:
            raise Failed("wrong-interval", f"only {pings} ping(s) in 130 s with interval 20 s",
                         EXPECTED_SLOW, session.timeline())
    finally:
        await session.close()
    return Verdict(EXPECTED_SLOW, EXPECTED_SLOW)


EXPECTED_CANCEL_WAIT = """\
t=  20.0s  #1 sent ping
cancelled at t=24 s while waiting for the pong: ended as cancelled"""


@EXERCISE.scenario("cancelled while waiting for a pong (interval 20 s, timeout 8 s): it ends "
                   "cancelled, it does not report the connection dead")
async def cancel_waiting(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    session = _Session(lab)
    try:
        await session.start(learner, 20.0, 8.0)
        await lab.fault("freeze", text="server: freeze (no pong, no error)")
        await asyncio.sleep(24.0 - lab.now())  # the ping went out at 20 s: now waiting
        beat = session.beat
        assert beat is not None
        sent = format_log(lab.entries("send"))
        if beat.done() or sent != EXPECTED_CANCEL_WAIT.splitlines()[0]:
            if beat.done() and beat.exception() is not None:
                raise beat.exception()  # type: ignore[misc]
            raise Failed(session.ping_kind() or "wrong-interval", "at t=24 s the heartbeat "
                         "should be waiting for the pong of its ping at t=20 s",
                         EXPECTED_CANCEL_WAIT, session.timeline())
        ended, error = await stop(beat)
        if error is not None:
            raise error
        if not ended:
            raise Failed("swallows-cancel", "still running 10 s after the cancel",
                         EXPECTED_CANCEL_WAIT, sent + "\ncancelled at t=24 s: still running")
        outcome = "ended as cancelled" if beat.cancelled() else "returned normally"
        actual = f"{sent}\ncancelled at t=24 s while waiting for the pong: {outcome}"
        if actual != EXPECTED_CANCEL_WAIT:
            raise Failed("swallows-cancel", "cancelled while waiting for the pong, it returned "
                         "as if the pong were late: the caller would take a cancel for a dead "
                         "connection", EXPECTED_CANCEL_WAIT, actual)
    finally:
        await session.close()
    return Verdict(EXPECTED_CANCEL_WAIT, actual)
