"""Checker for chapter 09: ``LiveClient`` -- the seed's ``useWebSocket``, assembled.

Everything of chapters 02-08 in one class: lifecycle (start / close), states, backoff
with a maximum and the Reconnect button, a heartbeat with a pong timeout, handlers by
type, topics in the URL and cache invalidation on push and after a reconnect::

    client = LiveClient(url, connect, topics=["proposals"], cache=cache,
                        interval=30.0, timeout=10.0)
    @client.on("proposal.created")
    def show(data): ...
    client.start()                 # like mount
    client.state                   # connecting / connected / reconnecting / disconnected / closed
    client.notifications           # ["WebSocket unavailable"] after giving up
    await client.reconnect()       # the Reconnect button
    await client.close()           # like unmount

The checker watches ``client.state`` by subclassing the learner's class (every
assignment to ``state`` is logged with the loop's logical time), so the state timeline
sits next to the connection attempts and the injected faults.

Fault matrix: a normal session; a server restart (also against the real server); a
server down for good and the Reconnect button; a frozen server; close() during a
backoff wait; bad messages and a failing handler.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..backoff import BackoffPolicy
from ..cache import QueryCache
from ._common import require_class
from ._net import Lab, format_log
from ._runner import Exercise, Failed, Verdict
from ._sandbox import describe_exception
from .backoff import schedule_kind

NAME = "client"
UNAVAILABLE = "WebSocket unavailable"

HINTS = {
    "ignores-policy": "Use the policy you were given: wait `self.policy.delay(attempt)` and "
    "give up after `self.policy.max_attempts` -- not 1, 2, 4, 8, 16 and 5 written into the "
    "loop.",
    "heartbeat-args": "LiveClient(..., interval=20, timeout=5) must reach the heartbeat: "
    "`heartbeat(ws, pong, interval=self.interval, timeout=self.timeout)` -- not the "
    "defaults 30 and 10.",
    "close-not-awaited": "close() (or the end of a session) cancelled tasks without waiting "
    "for them: cancelling only asks. `await asyncio.gather(reader, beat, "
    "return_exceptions=True)` after cancelling, so nothing runs once close() returns.",
    "keeps-running": "After giving up (state \"disconnected\", the notification) the task "
    "must end: `return` from _run. Only the Reconnect button starts again.",
    "invalidation-too-broad": "Invalidate exactly the subscribed topics, and only after a "
    "*re*connect: the first connect has nothing to catch up on, and a query of a topic you do "
    "not subscribe to missed nothing.",
    "wrong-states": "The state sequence differs: connecting (first connect) -> connected -> "
    "reconnecting (from the drop until a retry succeeds) -> connected; disconnected after "
    "giving up; closed after close(). Set self.state at each of those moments.",
    "no-reconnect": "After the connection was lost nothing reconnected: the run loop must go "
    "round again after a drop (clean close included) and after a failed connect.",
    "off-by-one": "Retry k waits policy.delay(k): 1, 2, 4, 8, 16 s.",
    "no-backoff": "The waits between retries must grow (policy.delay(attempt)).",
    "wrong-schedule": "Retries must come 1, 3, 7, 15, 31 s after the drop.",
    "no-reset": "Reset the attempt counter after every successful connect.",
    "infinite-retries": "Give up after policy.max_attempts failed retries: state "
    "\"disconnected\", notifications.append(\"WebSocket unavailable\"), and stop the loop.",
    "no-notify": "After giving up, append \"WebSocket unavailable\" to self.notifications "
    "(once).",
    "no-restart": "reconnect() must start over: a fresh run loop with the attempt count at 0, "
    "state \"connecting\".",
    "no-heartbeat": "A frozen server was never detected: run the chapter 05 heartbeat next to "
    "the reader; when it returns, the connection is dead -- close it and reconnect.",
    "no-pong-timeout": "Pings went out but the missing pong was never noticed: wait for the "
    "pong with a timeout (chapter 05).",
    "reconnect-after-close": "It connected again after close(): cancel the run task and await "
    "it; catch ConnectionError only, so the cancellation ends the loop.",
    "left-open": "close() left a connection open on the server: the run task must close its "
    "socket when cancelled (`async with connect(...)`).",
    "close-state": "After close() the state must be \"closed\" (final: nothing reopens it).",
    "handler-crash": "A message nobody handles or a handler that raises must not end the "
    "connection: dispatch each frame in isolation (wslearn's Dispatcher does it).",
    "no-push-invalidation": "A pushed event must invalidate its topic in the cache: "
    "`self.cache.invalidate((topic,))`.",
    "no-reconnect-invalidation": "After a reconnect (not the first connect) invalidate every "
    "subscribed topic: events sent while the socket was down are lost.",
    "not-resubscribed": "The reconnect must carry the topics again (`?topics=...` in the URL).",
    "not-connected": "start() must begin connecting at once (a task running the loop).",
}

STEPS = [
    "Start from chapter 02: start() creates a task running self._run(); close() cancels it, "
    "awaits it and sets state \"closed\".",
    "_run() is chapter 04's loop: connect (state connecting/reconnecting), on success "
    "state \"connected\" and attempt = 0, read until the connection ends, then wait "
    "policy.delay(attempt) -- or give up after policy.max_attempts.",
    "While connected run two tasks: the reader (pong -> event; anything else -> "
    "self.handlers.dispatch_frame(text) and cache.invalidate((topic,))) and the chapter 05 "
    "heartbeat. When either ends, cancel the other: the connection is over.",
    "After every connect that follows a loss, invalidate the subscribed topics (chapter 08).",
    "reconnect() = stop the old task (if any), then start(): a fresh loop, attempts from 0.",
]



def prepare(live_client: Any = None) -> Any:
    return require_class(live_client, "LiveClient",
                         {"start": False, "close": True, "reconnect": True, "on": False})


EXERCISE = Exercise(NAME, "09_client", prepare, speed=30.0,
                    objects=("LiveClient",), hints=HINTS, steps=STEPS,
                    given=("_stop", "close", "reconnect", "_url", "on", "__init__"))

TOPICS = ["proposals", "votes"]  # two: "every subscribed topic", not "the one topic"


class _World:
    """The learner's client (state assignments logged), a cache and recording handlers."""

    def __init__(self, lab: Lab, cls: type, *, interval: float = 30.0,
                 timeout: float = 10.0, policy: Any = None) -> None:
        self.lab = lab
        self.calls: list[tuple[str, Any]] = []
        self.cache = QueryCache()
        self.cache.define(("proposals",), lambda: "proposals")
        self.cache.define(("analysis",), lambda: "analysis")
        self.cache.define(("votes",), lambda: "votes")
        for key in (("proposals",), ("analysis",), ("votes",)):
            self.cache.observe(key)
        watching: dict[str, Any] = {"on": False, "last": None}

        class Observed(cls):
            def __setattr__(self, name: str, value: Any) -> None:
                super().__setattr__(name, value)
                if name == "state" and watching["on"]:
                    text = str(getattr(value, "value", value))
                    if text != watching["last"]:
                        watching["last"] = text
                        lab.note(f"state: {text}", "state")

        Observed.__name__ = Observed.__qualname__ = cls.__name__
        try:
            extra = {} if policy is None else {"policy": policy}
            self.client = Observed(lab.url(), lab.connect, topics=list(TOPICS), cache=self.cache,
                                   interval=interval, timeout=timeout, **extra)
        except NotImplementedError:
            raise
        except Exception as exc:
            raise Failed("raises", f"LiveClient(url, connect, topics=..., cache=..., interval=..., "
                         f"timeout=...) raised {describe_exception(exc)}") from exc
        watching["on"] = True
        watching["last"] = str(getattr(getattr(self.client, "state", None), "value",
                                       getattr(self.client, "state", None)))
        for kind in ("proposal.created", "analysis.done"):
            self._register(kind)

        def broken(data: Any) -> None:
            raise ValueError("handler bug")

        self.client.on("proposal.broken")(broken)

    def _register(self, kind: str) -> None:
        def handler(data: Any) -> None:
            self.calls.append((kind, data))

        self.client.on(kind)(handler)

    @property
    def state(self) -> str:
        value = getattr(self.client, "state", None)
        return str(getattr(value, "value", value))

    def fetches(self, key: tuple[str, ...]) -> int:
        return self.cache.fetch_count(key)

    def timeline(self) -> str:
        return format_log(self.lab.entries("state", "open", "failed", "fault", "dead"), 24)

    async def start(self) -> None:
        result = self.client.start()
        if asyncio.iscoroutine(result):
            await result

    async def close(self, check: bool = True) -> None:
        """close() the learner's client; with ``check``, verify it really stopped."""
        try:
            async with asyncio.timeout(10.0):
                await self.client.close()
        except TimeoutError:
            if check:
                raise Failed("reconnect-after-close",
                             "close() did not return within 10 s") from None
            return
        if not check:
            return
        running = self.lab.running_learner_tasks()  # right when close() returned
        before = self.lab.connects
        await asyncio.sleep(10.0)
        if self.lab.connects > before:
            raise Failed("reconnect-after-close", f"after close() it connected again "
                         f"({self.lab.connects - before} connect(s) in the next 10 s)")
        left = await self.lab.settle(expect=0)
        if left:
            raise Failed("left-open", f"{left} connection(s) still open after close()")
        if self.state != "closed":
            raise Failed("close-state", f"after close() the state is {self.state!r}, "
                         "not 'closed'")
        if running:
            raise Failed("close-not-awaited", f"close() returned while {', '.join(running)} "
                         "was still running: await every task you cancel (asyncio.gather(..., "
                         "return_exceptions=True)) before returning")

    async def wait_state(self, state: str, timeout: float) -> bool:
        return await self.lab.until(lambda: self.state == state, timeout)


def _welcomed(lab: Lab, number: int) -> bool:
    """Whether connection ``number`` has received its welcome (subscriptions are in place)."""
    return any(n == number and data is not None and data.get("type") == "welcome"
               for n, data in lab.frames)


EXPECTED_NORMAL = """\
t=   0.0s  state: connecting
t=   0.0s  connect #1 open
t=   0.0s  state: connected
handler proposal.created got {"id": 1, "topic": "proposals"}
('proposals',) refetched after the push; ('analysis',) untouched"""


@EXERCISE.scenario("start: connecting -> connected; an event reaches its handler and "
                   "invalidates its topic")
async def normal(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    world = _World(lab, cls)
    ok = False
    try:
        await world.start()
        if not await world.wait_state("connected", 10.0):
            raise Failed("not-connected" if lab.opens == 0 else "wrong-states",
                         "the client did not reach \"connected\"", EXPECTED_NORMAL,
                         world.timeline())
        await lab.until(lambda: bool(lab.frames), 5.0)
        before = world.fetches(("proposals",)), world.fetches(("analysis",))
        await lab.publish("proposals", "proposal.created", id=1)
        await lab.until(lambda: bool(world.calls), 5.0)
        import json

        calls = "\n".join(f"handler {k} got {json.dumps(d, sort_keys=True)}"
                          for k, d in world.calls) or "no handler called"
        refetched = world.fetches(("proposals",)) > before[0]
        other = world.fetches(("analysis",)) > before[1]
        cache_line = (f"('proposals',) {'refetched' if refetched else 'NOT refetched'} after the "
                      f"push; ('analysis',) {'refetched too' if other else 'untouched'}")
        actual = world.timeline() + "\n" + calls + "\n" + cache_line
        if actual != EXPECTED_NORMAL:
            kind = "wrong-states"
            if not world.calls:
                kind = "handler-crash"
            elif not refetched or other:
                kind = "no-push-invalidation"
            raise Failed(kind, "the session did not go as expected", EXPECTED_NORMAL, actual)
        ok = True
    finally:
        await world.close(check=ok)
    return Verdict(EXPECTED_NORMAL, actual)


EXPECTED_RESTART = """\
t=   0.0s  state: connecting
t=   0.0s  connect #1 open
t=   0.0s  state: connected
t=   0.0s  server: stop (clients see 1001)
t=   0.0s  state: reconnecting
t=   1.0s  connect #2 failed (connection refused)
t=   3.0s  connect #3 failed (connection refused)
t=   7.0s  connect #4 failed (connection refused)
t=  15.0s  server: start
t=  15.0s  connect #5 open
t=  15.0s  state: connected
first connect: nothing refetched
server has the topics again: proposals, votes
('proposals',) and ('votes',) refetched after the reconnect; ('analysis',) untouched"""


@EXERCISE.scenario("server restart (down 15 s): reconnecting, retries at 1, 3, 7 s, "
                   "connected at 15 s, resubscribed, queries invalidated", real=True)
async def restart(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    world = _World(lab, cls)

    async def restart_server(n: int) -> None:
        if n == 5:
            await lab.fault("start", text="server: start")

    lab.before_dial = restart_server
    ok = False
    try:
        await world.start()
        await world.wait_state("connected", 10.0)
        await lab.until(lambda: bool(lab.frames), 5.0)
        keys = [("proposals",), ("votes",), ("analysis",)]
        first = "nothing refetched" if all(world.fetches(k) == 1 for k in keys) else (
            "refetched " + ", ".join(repr(k) for k in keys if world.fetches(k) > 1))
        fetches = {k: world.fetches(k) for k in keys}
        await lab.fault("stop", text="server: stop (clients see 1001)")
        await lab.until(lambda: lab.opens >= 2, 60.0)
        await world.wait_state("connected", 5.0)
        newest = lab.connections[-1].number if lab.connections else 0
        await lab.until(lambda: _welcomed(lab, newest), 5.0)

        def subscribed() -> bool:
            conns = lab.server.connections
            return bool(conns) and bool(conns[-1].topics)

        await lab.poll(subscribed)
        conns = lab.server.connections
        topics = ", ".join(conns[-1].topics) if conns else "(no connection)"
        again = [k for k in keys if world.fetches(k) > fetches[k]]
        wanted = [("proposals",), ("votes",)]
        cache_line = (" and ".join(repr(k) for k in wanted if k in again) or "nothing") + (
            " refetched after the reconnect; ('analysis',) "
            + ("refetched too" if ("analysis",) in again else "untouched"))
        actual = (world.timeline() + f"\nfirst connect: {first}"
                  f"\nserver has the topics again: {topics}\n{cache_line}")
        if actual != EXPECTED_RESTART:
            timeline = world.timeline()
            if lab.opens < 2:
                kind = schedule_kind(lab, 0.0, 1)
            elif timeline != "\n".join(EXPECTED_RESTART.splitlines()[:11]):
                kind = ("wrong-states" if [e.t for e in lab.entries("connect")] ==
                        [0.0, 1.0, 3.0, 7.0, 15.0] else schedule_kind(lab, 0.0, 1))
            elif topics != "proposals, votes":
                kind = "not-resubscribed"
            elif first != "nothing refetched" or ("analysis",) in again:
                kind = "invalidation-too-broad"
            else:
                kind = "no-reconnect-invalidation"
            raise Failed(kind, "the restart did not go as expected", EXPECTED_RESTART, actual)
        ok = True
    finally:
        await world.close(check=ok)
    return Verdict(EXPECTED_RESTART, actual)


EXPECTED_DOWN = """\
t=   0.0s  server: refuse handshakes (HTTP 503)
t=   0.0s  state: connecting
t=   0.0s  connect #1 failed (HTTP 503)
t=   0.0s  state: reconnecting
t=   1.0s  connect #2 failed (HTTP 503)
t=   3.0s  connect #3 failed (HTTP 503)
t=   7.0s  connect #4 failed (HTTP 503)
t=  15.0s  connect #5 failed (HTTP 503)
t=  31.0s  connect #6 failed (HTTP 503)
t=  31.0s  state: disconnected
t=  91.0s  server: accept again
t=  91.0s  state: connecting
t=  91.0s  connect #7 open
t=  91.0s  state: connected
notifications: ['WebSocket unavailable']"""


@EXERCISE.scenario("server down for good: 5 retries, disconnected, \"WebSocket unavailable\"; "
                   "reconnect() starts over")
async def down(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    world = _World(lab, cls)
    ok = False
    try:
        await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
        await world.start()
        await lab.until(lambda: lab.connects >= 1, 5.0)
        await lab.until(lambda: world.state == "disconnected" or lab.connects > 6, 120.0)
        gave_up = world.state == "disconnected"
        if gave_up:  # given up means given up: a minute later still nothing
            attempts = lab.connects
            await asyncio.sleep(60.0)
            if lab.connects != attempts or world.state != "disconnected":
                raise Failed("keeps-running", f"after giving up the client went on: "
                             f"{lab.connects - attempts} connect(s) in the next 60 s, state "
                             f"{world.state!r}", EXPECTED_DOWN, world.timeline())
            await lab.fault("accept_again", text="server: accept again")
            try:
                async with asyncio.timeout(10.0):
                    await world.client.reconnect()
            except TimeoutError:
                pass
            await world.wait_state("connected", 10.0)
        notes = list(getattr(world.client, "notifications", []))
        actual = world.timeline() + f"\nnotifications: {notes!r}"
        if actual != EXPECTED_DOWN:
            if lab.connects > 6 and not gave_up:
                kind = "infinite-retries"
            elif not gave_up:
                kind = "wrong-states" if lab.connects == 6 else schedule_kind(lab, 0.0, 1)
            elif notes != [UNAVAILABLE]:
                kind = "no-notify"
            elif lab.opens == 0:
                kind = "no-restart"
            else:
                kind = "wrong-states"
            raise Failed(kind, "giving up and starting over did not go as expected",
                         EXPECTED_DOWN, actual)
        ok = True
    finally:
        await world.close(check=ok)
    return Verdict(EXPECTED_DOWN, actual)


EXPECTED_FROZEN = """\
t=   0.0s  state: connecting
t=   0.0s  connect #1 open
t=   0.0s  state: connected
t=  20.0s  server: freeze (no pong, no error)
t=  45.0s  state: reconnecting
t=  45.0s  server: thaw
t=  46.0s  connect #2 open
t=  46.0s  state: connected"""


@EXERCISE.scenario("server frozen after the first pong (interval 20 s, timeout 5 s): the "
                   "heartbeat notices at 45 s, the client reconnects")
async def frozen(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    world = _World(lab, cls, interval=20.0, timeout=5.0)
    ok = False
    try:
        await world.start()
        await world.wait_state("connected", 10.0)
        pings = lambda: len([e for e in lab.entries("send") if "ping" in e.text])  # noqa: E731
        got_pong = lambda: any("pong" in e.text for e in lab.entries("recv"))  # noqa: E731
        await lab.until(got_pong, 60.0)
        if got_pong():
            await lab.fault("freeze", text="server: freeze (no pong, no error)")
        await world.wait_state("reconnecting", 120.0)
        if world.state == "reconnecting":
            await lab.fault("thaw", text="server: thaw")
            await world.wait_state("connected", 30.0)
        actual = world.timeline()
        if actual != EXPECTED_FROZEN:
            first_ping = [e.t for e in lab.entries("send") if "ping" in e.text][:1]
            if not pings():
                kind = "no-heartbeat"
            elif first_ping != [20.0]:
                kind = "heartbeat-args"
            elif world.state == "connected" and lab.opens == 1:
                kind = "no-pong-timeout"
            else:
                kind = "wrong-states"
            raise Failed(kind, "the frozen server must be noticed at t=45 s (interval 20 s + "
                         "timeout 5 s after the last pong)",
                         EXPECTED_FROZEN, actual)
        ok = True
    finally:
        await world.close(check=ok)
    return Verdict(EXPECTED_FROZEN, actual)


EXPECTED_CLOSE = """\
close() while connected: state closed, 0 connections open
close() during a backoff wait: state closed
no connect in the next 60 s"""


@EXERCISE.scenario("close() while connected and during a backoff wait: closed, nothing "
                   "reconnects, nothing left open")
async def close(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    lines: list[str] = []

    def failed(kind: str, detail: str, line: str) -> Failed:
        lines.append(line)
        expected = "\n".join(EXPECTED_CLOSE.splitlines()[: len(lines)])
        return Failed(kind, detail, expected, "\n".join(lines))

    world = _World(lab, cls)
    await world.start()
    await world.wait_state("connected", 10.0)
    await world.close()
    left = await lab.settle(expect=0)
    if world.state != "closed" or left:
        kind = "close-state" if world.state != "closed" else "left-open"
        raise failed(kind, "close() must leave state \"closed\" and no connection",
                     f"close() while connected: state {world.state}, {left} connections open")
    lines.append("close() while connected: state closed, 0 connections open")

    await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
    world = _World(lab, cls)
    mark = lab.failures
    await world.start()
    if not await lab.into_backoff_wait(mark + 2):  # in the 2 s wait, not inside connect()
        await world.close(check=False)
        raise failed("no-backoff", "after a failed retry it did not wait before the next one",
                     "close() during a backoff wait: no connect during the wait")
    await world.close()
    if world.state != "closed":
        raise failed("close-state", "close() must leave state \"closed\"",
                     f"close() during a backoff wait: state {world.state}")
    lines.append("close() during a backoff wait: state closed")
    before = lab.connects
    await asyncio.sleep(60)
    if lab.connects != before:
        raise failed("reconnect-after-close", "it connected again after close()",
                     f"{lab.connects - before} connect(s) in the next 60 s")
    lines.append("no connect in the next 60 s")
    return Verdict(EXPECTED_CLOSE, "\n".join(lines))


EXPECTED_BAD = """\
frames that are not JSON, a JSON list, a JSON string: ignored
an unknown type, a failing handler, then a good event: handled
handled exactly: proposal.created 1, proposal.created 3
still connected on the first connection"""


@EXERCISE.scenario("frames that are not JSON objects, an unknown type and a failing handler "
                   "do not end the connection")
async def bad_messages(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    world = _World(lab, cls)
    ok = False
    try:
        await world.start()
        await world.wait_state("connected", 10.0)
        await lab.until(lambda: bool(lab.frames), 5.0)
        await lab.publish("proposals", "proposal.created", id=1)
        await lab.until(lambda: bool(world.calls), 5.0)
        for raw in ("{oops", "[1, 2]", '"proposal.created"'):  # no server of ours sends these
            lab.send_raw("proposals", raw)
            await asyncio.sleep(0.5)
        await lab.publish("proposals", "user.typing", who="ann")
        await lab.publish("proposals", "proposal.broken", id=2)
        await lab.publish("proposals", "proposal.created", id=3)
        await lab.until(lambda: len(world.calls) >= 2, 5.0)
        await asyncio.sleep(1.0)
        handled = "handled" if len(world.calls) >= 2 else "NOT handled"
        exactly = ", ".join(f"{k} {d.get('id') if isinstance(d, dict) else d!r}"
                            for k, d in world.calls) or "nothing"
        still = ("still connected on the first connection"
                 if world.state == "connected" and lab.opens == 1
                 else f"state {world.state} after {lab.opens} connection(s)")
        actual = ("frames that are not JSON, a JSON list, a JSON string: ignored\n"
                  "an unknown type, a failing handler, then a good event: "
                  f"{handled}\nhandled exactly: {exactly}\n{still}")
        if actual != EXPECTED_BAD:
            raise Failed("handler-crash", "bad messages disturbed the connection",
                         EXPECTED_BAD, actual)
        ok = True
    finally:
        await world.close(check=ok)
    return Verdict(EXPECTED_BAD, actual)


EXPECTED_TWICE = """\
t=   0.0s  state: connecting
t=   0.0s  connect #1 open
t=   0.0s  state: connected
t=   0.0s  server: stop (clients see 1001)
t=   0.0s  state: reconnecting
t=   1.0s  connect #2 failed (connection refused)
t=   3.0s  server: start
t=   3.0s  connect #3 open
t=   3.0s  state: connected
t=   3.0s  server: refuse handshakes (HTTP 503)
t=   3.0s  server: drop all connections (1006)
t=   3.0s  state: reconnecting
t=   4.0s  connect #4 failed (HTTP 503)
t=   6.0s  connect #5 failed (HTTP 503)
t=  10.0s  connect #6 failed (HTTP 503)
t=  18.0s  connect #7 failed (HTTP 503)
t=  34.0s  connect #8 failed (HTTP 503)
t=  34.0s  state: disconnected"""


@EXERCISE.scenario("two outages (server stop, then a dropped connection): after a reconnect "
                   "the next outage gets all 5 retries again (1, 3, 7, 15, 31 s)")
async def two_outages(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    world = _World(lab, cls)

    async def restart_server(n: int) -> None:
        if n == 3:
            await lab.fault("start", text="server: start")

    lab.before_dial = restart_server
    ok = False
    try:
        await world.start()
        await world.wait_state("connected", 10.0)
        await lab.fault("stop", text="server: stop (clients see 1001)")
        await lab.until(lambda: lab.opens >= 2, 30.0)
        await world.wait_state("connected", 5.0)
        if lab.opens >= 2:  # this time the connection dies (1006), no clean close
            await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
            await lab.fault("drop_all", text="server: drop all connections (1006)")
        await lab.until(lambda: world.state == "disconnected" or lab.connects > 9, 120.0)
        actual = world.timeline()
        if actual != EXPECTED_TWICE:
            times = [e.t for e in lab.entries("connect")]
            if lab.opens < 2:
                kind = schedule_kind(lab, 0.0, 1)
            elif world.state == "disconnected" and lab.connects < 8:
                kind = "no-reset"
            elif lab.connects > 8:
                kind = "infinite-retries"
            elif times[3:] == [4.0, 6.0, 10.0, 18.0, 34.0]:
                kind = "wrong-states"
            else:
                kind = schedule_kind(lab, 3.0, 1)
            raise Failed(kind, "the second outage must start counting from 1 again",
                         EXPECTED_TWICE, actual)
        ok = True
    finally:
        await world.close(check=ok)
    return Verdict(EXPECTED_TWICE, actual)


EXPECTED_POLICY = """\
t=   0.0s  server: refuse handshakes (HTTP 503)
t=   0.0s  state: connecting
t=   0.0s  connect #1 failed (HTTP 503)
t=   0.0s  state: reconnecting
t=   2.0s  connect #2 failed (HTTP 503)
t=   8.0s  connect #3 failed (HTTP 503)
t=  26.0s  connect #4 failed (HTTP 503)
t=  26.0s  state: disconnected"""


@EXERCISE.scenario("a policy of its own (BackoffPolicy(base=2, factor=3, max_attempts=3)): "
                   "retries at 2, 8, 26 s, then gives up -- the policy is used, not 1..16 s x 5")
async def own_policy(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    world = _World(lab, cls, policy=BackoffPolicy(base=2.0, factor=3.0, max_attempts=3))
    ok = False
    try:
        await lab.fault("refuse", text="server: refuse handshakes (HTTP 503)")
        await world.start()
        await lab.until(lambda: lab.connects >= 1, 5.0)
        await lab.until(lambda: world.state == "disconnected" or lab.connects > 6, 120.0)
        actual = world.timeline()
        if actual != EXPECTED_POLICY:
            times = [e.t for e in lab.entries("connect")]
            kind = "ignores-policy"
            if times[:4] == [0.0, 2.0, 8.0, 26.0] and len(times) == 4:
                kind = "wrong-states"
            raise Failed(kind, "with BackoffPolicy(base=2, factor=3, max_attempts=3) the "
                         "retries must wait policy.delay(1), (2), (3) = 2, 6, 18 s and stop "
                         "after policy.max_attempts = 3; attempts came at "
                         + ", ".join(f"{t:g}" for t in times) + " s", EXPECTED_POLICY, actual)
        ok = True
    finally:
        await world.close(check=ok)
    return Verdict(EXPECTED_POLICY, actual)
