"""Checker for chapter 02: ``LiveFeed`` -- a "component" with ``mount(url)`` / ``unmount()``.

The seed's mistake 1 is a ``useEffect`` that opens a WebSocket and returns no cleanup:
every mount leaves a connection open. The learner writes the Python twin::

    class LiveFeed:
        def __init__(self, connect): ...
        def mount(self, url) -> None        # useEffect's body: start, do not wait
        async def unmount(self) -> None     # useEffect's cleanup: stop and close

Scenarios: messages arrive while mounted; 10 mount/unmount cycles leave 0 connections
(also against the real server); unmount while the connection is still being opened;
unmount twice / before mount; unmount after the server dropped the connection.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from ..protocol import INTERNAL_ERROR, NORMAL_CLOSURE
from ._common import require_class
from ._net import Lab, format_log
from ._runner import Exercise, Failed, Verdict

NAME = "cleanup"

HINTS = {
    "closed-1011": "Cancelling the task is not a clean close: the task leaves "
    "`async with connect(url)` with CancelledError, and websockets closes with 1011 "
    "(internal error) whenever that block ends with an exception. Close the socket first "
    "-- `await self._ws.close()` sends 1000, the `async for` in _listen ends quietly -- "
    "then cancel the task (in case it is still connecting) and await it.",
    "not-closed-cleanly": "unmount() must close the socket itself with `await "
    "self._ws.close()` (code 1000, normal closure) before it stops the task.",
    "mount-does-nothing": "mount(url) must start listening: create a task that runs "
    "self._listen(url) and keep it in self._task.",
    "mount-blocks": "mount() must not wait for the connection -- a useEffect body cannot "
    "await either. Start a task (asyncio.create_task) and return at once.",
    "no-cleanup": "Module 07's mistake 1: unmount() leaves the connection open, so every "
    "mount adds one more on the server. Close the socket (`await self._ws.close()`), then "
    "cancel the listening task and wait for it: `self._task.cancel()` then "
    "`await asyncio.gather(self._task, return_exceptions=True)`.",
    "cleanup-not-awaited": "unmount() cancels but does not wait: when it returns the "
    "connection is still open (it closes a moment later, or never if the loop is busy). "
    "Await the cancelled task before returning.",
    "unmount-while-connecting": "Unmounted while the connection was still opening, the "
    "connection opened anyway and stayed open. Cancel the *task* (it owns the connect in "
    "flight), not only a socket you saved after connect() returned.",
    "double-unmount": "unmount() must be safe to call twice, and before any mount (React "
    "may run a cleanup more than once): check for `None` and forget the task once it is done.",
    "unmount-raises": "After the server dropped the connection the listening task ended with "
    "an error, and unmount() re-raised it. Cleanup must not fail: "
    "`asyncio.gather(task, return_exceptions=True)` waits without raising.",
    "messages-after-unmount": "Messages still arrived after unmount(): stop listening.",
}

STEPS = [
    "mount(url) is `useEffect`'s body: it starts something and returns. In asyncio that is "
    "`self._task = asyncio.create_task(self._listen(url))`.",
    "unmount() is the cleanup function `useEffect` returns: it must undo what mount did. "
    "Close the socket _listen saved in self._ws -- `await self._ws.close()` says goodbye with "
    "1000 -- then cancel the task, for the case it is still connecting.",
    "Why not just cancel? The task would leave `async with connect(url)` with "
    "CancelledError, and websockets closes with 1011 (internal error) on any exception.",
    "Cancelling only *asks*; the task ends on its next turn. Wait for it in unmount: "
    "`await asyncio.gather(self._task, return_exceptions=True)` (it also swallows the error "
    "of a task that already died because the server dropped the connection).",
    "Make unmount() safe to call twice: `if self._task is None: return`, and set "
    "`self._task = self._ws = None` once done.",
]



def prepare(live_feed: Any = None) -> Any:
    return require_class(live_feed, "LiveFeed", {"mount": False, "unmount": True})


EXERCISE = Exercise(NAME, "02_cleanup", prepare,
                    objects=("LiveFeed",), hints=HINTS, steps=STEPS, given=("_listen",))


async def _mount(feed: Any, url: str) -> None:
    """Call mount(url); an ``async def mount`` is awaited, but must not wait for the network."""
    result = feed.mount(url)
    if inspect.isawaitable(result):
        try:
            async with asyncio.timeout(1.0):
                await result
        except TimeoutError:
            raise Failed("mount-blocks", "mount() did not return within 1 s: it waits for "
                         "the connection instead of starting a task") from None


async def _unmount(feed: Any, kind: str = "unmount-raises", when: str = "",
                   lab: Lab | None = None, running_kind: str = "no-cleanup") -> None:
    try:
        async with asyncio.timeout(10.0):
            await feed.unmount()
    except TimeoutError:
        raise Failed("no-cleanup", f"unmount(){when} did not return within 10 s") from None
    except NotImplementedError:
        raise
    except Exception as exc:
        from ._sandbox import describe_exception

        raise Failed(kind, f"unmount(){when} raised {describe_exception(exc)}") from exc
    if lab is None:
        return
    if lab.running_learner_tasks(cancelled=False):
        raise Failed(running_kind, f"unmount(){when} returned and "
                     f"{', '.join(lab.running_learner_tasks())} is still running: nothing "
                     "stopped it")
    running = lab.running_learner_tasks()
    if running:
        raise Failed("cleanup-not-awaited", f"unmount(){when} returned while "
                     f"{', '.join(running)} was still running: cancelling only asks, await "
                     "the task before returning")


def _new(cls: type, lab: Lab) -> Any:
    feed = cls(lab.connect)
    return feed


def _events(feed: Any) -> list[str]:
    messages = getattr(feed, "messages", [])
    kinds = []
    for m in messages:
        kinds.append(m.get("type", "?") if isinstance(m, dict) else "?")
    return kinds


@EXERCISE.scenario("mounted: the feed connects and messages arrive")
async def mounted(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    feed = _new(cls, lab)
    await _mount(feed, lab.url(topics=["news"]))
    try:
        if not await lab.until(lambda: lab.count >= 1 and bool(lab.frames), 5.0):
            raise Failed("mount-does-nothing", "no connection reached the server within 5 s "
                         "of mount()", "1 connection", f"{lab.count} connections")
        await lab.publish("news", "news.created", id=1)
        await lab.until(lambda: "news.created" in _events(feed), 5.0)
        actual = ", ".join(_events(feed)) or "(none)"
        expected = "welcome, news.created"
        if actual != expected:
            raise Failed("mount-does-nothing", "feed.messages does not hold the decoded "
                         "messages", expected, actual)
    finally:
        await _unmount(feed, lab=lab)
    return Verdict(expected, actual)


@EXERCISE.scenario("10 mount/unmount cycles: 0 connections left on the server", real=True)
async def cycles(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    feed = _new(cls, lab)
    expected_lines, actual_lines = [], []
    settled_lines = []
    for cycle in range(1, 11):
        await _mount(feed, lab.url(topics=["news"]))

        def opened(n: int = cycle) -> bool:
            return lab.opens >= n and len(lab.frames) >= n

        await lab.until(opened, 5.0)
        await _unmount(feed, when=f" in cycle {cycle}", lab=lab)
        now = lab.count if lab.mode == "sim" else await lab.settle(expect=0)
        expected_lines.append(f"after unmount {cycle:>2}: 0 open")
        actual_lines.append(f"after unmount {cycle:>2}: {now} open")
        settled_lines.append(await lab.settle(expect=0))
    expected, actual = "\n".join(expected_lines), "\n".join(actual_lines)
    if lab.opens < 10:
        raise Failed("mount-does-nothing", f"only {lab.opens} of 10 mounts connected",
                     expected, actual)
    if actual != expected:
        kind = "no-cleanup" if any(settled_lines) else "cleanup-not-awaited"
        raise Failed(kind, "connections stay open after unmount() returned", expected, actual)
    codes = [c.close_code for c in lab.connections]
    if any(code != NORMAL_CLOSURE for code in codes):
        shown = ", ".join("none" if c is None else str(c) for c in codes)
        detail = ("unmount() closed the connections with " + shown + " instead of 1000")
        if INTERNAL_ERROR in codes:
            detail += (": cancelling the task made `async with connect(...)` exit with "
                       "CancelledError, and leaving it with any exception closes with 1011 "
                       "(internal error) -- the server logs a crash, not a goodbye")
        raise Failed("closed-1011" if INTERNAL_ERROR in codes else "not-closed-cleanly", detail,
                     "every unmount closes with 1000", f"close codes: {shown}")
    return Verdict(expected, actual, "every unmount closed with 1000 (normal closure)")


@EXERCISE.scenario("unmount while the connection is still opening: it never opens")
async def while_connecting(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    feed = _new(cls, lab)
    await lab.fault("freeze", text="server: freeze (handshakes wait)")
    await _mount(feed, lab.url())
    if not await lab.into_handshake(1):  # the precondition: a handshake is in flight
        await lab.fault("thaw", text="server: thaw")
        await _unmount(feed, lab=lab)
        raise Failed("mount-does-nothing", "mount() did not start connecting: no connect() "
                     "in flight 0.5 s after mount()", "connect #1 in flight",
                     format_log(lab.entries("connect", "open", "failed")))
    await asyncio.sleep(0.5)
    await _unmount(feed, when=" while connecting", lab=lab,
                   running_kind="unmount-while-connecting")
    await lab.fault("thaw", text="server: thaw")
    await asyncio.sleep(5.0)
    left = await lab.settle(expect=0)
    expected = "0 connections open 5 s after unmount"
    actual = f"{left} connection{'s' if left != 1 else ''} open 5 s after unmount"
    if left:
        await _unmount(feed, lab=lab)
        raise Failed("unmount-while-connecting", "the connection opened after unmount()",
                     expected, actual)
    return Verdict(expected, actual)


@EXERCISE.scenario("unmount before mount, and twice in a row: no error")
async def twice(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    feed = _new(cls, lab)
    await _unmount(feed, "double-unmount", " before any mount", lab=lab)
    await _mount(feed, lab.url())
    await lab.until(lambda: lab.count >= 1, 5.0)
    await _unmount(feed, "double-unmount", lab=lab)
    await _unmount(feed, "double-unmount", " a second time", lab=lab)
    left = await lab.settle(expect=0)
    if left:
        raise Failed("no-cleanup", "the connection stayed open", "0 open", f"{left} open")
    return Verdict("no error, 0 open", "no error, 0 open")


@EXERCISE.scenario("the server drops the connection, then unmount: no error, no messages after")
async def dropped(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    feed = _new(cls, lab)
    await _mount(feed, lab.url(topics=["news"]))
    await lab.until(lambda: lab.count >= 1 and bool(lab.frames), 5.0)
    await lab.fault("drop_all", text="server: drop all connections (1006)")
    await asyncio.sleep(1.0)
    await _unmount(feed, "unmount-raises", " after the drop", lab=lab)
    before = len(getattr(feed, "messages", []))
    await lab.publish("news", "news.created", id=2)
    await asyncio.sleep(1.0)
    after = len(getattr(feed, "messages", []))
    if after != before:
        raise Failed("messages-after-unmount", "messages arrived after unmount()",
                     f"{before} messages", f"{after} messages")
    return Verdict("unmount() returned, no messages after", "unmount() returned, no messages after")
