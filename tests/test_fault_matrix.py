"""The fault matrix: each fault against the real server AND in simulation, same timeline.

Every scenario runs twice: on the real in-kernel server (real sockets, a sped-up clock)
and on ``SimNetwork`` under ``run_virtual`` (no sockets, virtual time). Timelines are in
logical time, so both runs must produce the *same text* -- that is what makes the
simulation a faithful stand-in for exercise checkers.

Faults are injected between ``client.step()`` calls where timing matters: a paused
client holds its next transition until the test says so, so "the server comes back
during the wait before attempt 3" happens in that order on a busy machine too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.support import arun
from wslearn.app import App, WebSocket
from wslearn.backoff import BackoffPolicy
from wslearn.cache import QueryCache
from wslearn.client import Client
from wslearn.clock import SpedUpClock, run_virtual
from wslearn.heartbeat import HeartbeatPolicy
from wslearn.server import serve
from wslearn.simnet import SimNetwork
from wslearn.timeline import Entry
from wslearn.waiting import until

#: 31 logical seconds of backoff play in ~1.5 s against the real server.
SPEED = 20
KINDS = ["real", "sim"]


class Env:
    """One server (real or simulated) plus helpers that hide the difference."""

    def __init__(self, kind: str, app: App | None = None) -> None:
        self.kind = kind
        self.app = app

    async def __aenter__(self) -> Env:
        if self.kind == "real":
            self.server: Any = await asyncio.to_thread(serve, self.app)
        else:
            self.net = SimNetwork()
            self.server = self.net.serve(self.app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.fault(None, "stop")

    def client(self, topics: tuple[str, ...] = ("news",), **kwargs: Any) -> Client:
        url = self.server.url(topics=list(topics))
        kwargs.setdefault("open_timeout", 100.0)  # never the cause of a failure here
        if self.kind == "real":
            return Client(url, clock=SpedUpClock(SPEED), **kwargs)
        return Client(url, dialer=self.net.dialer, **kwargs)

    async def fault(self, client: Client | None, name: str, *args: Any) -> Any:
        """Call a server method (in a worker thread for the real one: it blocks)."""
        if client is not None:
            client.note(f"server.{name}({', '.join(map(repr, args))})")
        method = getattr(self.server, name)
        if self.kind == "real":
            return await asyncio.to_thread(method, *args)
        return method(*args)

    async def publish(self, topic: str, type: str, **fields: Any) -> int:
        if self.kind == "real":
            return await asyncio.to_thread(self.server.publish, topic, type, **fields)
        return self.server.publish(topic, type, **fields)

    async def sleep(self, seconds: float) -> None:
        """Logical seconds (sped up for the real server, virtual for the simulation)."""
        await (SpedUpClock(SPEED).sleep(seconds) if self.kind == "real"
               else asyncio.sleep(seconds))

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        """``wslearn.until``: a few seconds at most (real ones for the real server, which
        lives in a thread; virtual ones for the simulation)."""
        await until(predicate, 5.0, what=what)


def run(kind: str, scenario: Callable[[Env], Awaitable[str]], app: App | None = None) -> str:
    async def main() -> str:
        async with Env(kind, app) as env:
            return await scenario(env)

    if kind == "real":
        return arun(main())
    return run_virtual(main, strict=True)


async def step_until(client: Client, predicate: Callable[[Entry], bool]) -> None:
    for _ in range(40):
        if any(predicate(e) for e in await client.step()):
            return
    raise AssertionError("no such transition within 40 steps:\n" + client.timeline.to_text())


def both(test: Callable[..., None]) -> Callable[..., None]:
    return pytest.mark.parametrize("kind", KINDS)(test)


# -- server stopped: 5 attempts at 1, 3, 7, 15, 31 s, then disconnected ------------------

STOPPED = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     server.stop()
t=    0.0s  reconnecting  connection lost (1001 going away: server stopped); attempt 1/5 in 1.0s
t=    1.0s  reconnecting  attempt 1/5: opening the socket
t=    1.0s  reconnecting  attempt 1/5 failed (connection refused); attempt 2/5 in 2.0s
t=    3.0s  reconnecting  attempt 2/5: opening the socket
t=    3.0s  reconnecting  attempt 2/5 failed (connection refused); attempt 3/5 in 4.0s
t=    7.0s  reconnecting  attempt 3/5: opening the socket
t=    7.0s  reconnecting  attempt 3/5 failed (connection refused); attempt 4/5 in 8.0s
t=   15.0s  reconnecting  attempt 4/5: opening the socket
t=   15.0s  reconnecting  attempt 4/5 failed (connection refused); attempt 5/5 in 16.0s
t=   31.0s  reconnecting  attempt 5/5: opening the socket
t=   31.0s  disconnected  attempt 5/5 failed (connection refused); giving up: WebSocket unavailable
t=   31.0s  closed        closed by the client (was disconnected)"""


async def server_stopped(env: Env, policy: BackoffPolicy | None = None) -> str:
    async with env.client(policy=policy) as client:
        assert client.state == "connected"
        await env.fault(client, "stop")
        await client.wait_for("disconnected")
        assert client.notifications == ["WebSocket unavailable"]
    assert env.server.handshake_attempts == 1  # a stopped server sees no handshakes
    return client.timeline.to_text()


@both
def test_server_stopped(kind: str) -> None:
    assert run(kind, server_stopped) == STOPPED


# -- server back during the wait before attempt 3: connected, attempts reset -------------

BACK = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     server.stop()
t=    0.0s  reconnecting  connection lost (1001 going away: server stopped); attempt 1/5 in 1.0s
t=    1.0s  reconnecting  attempt 1/5: opening the socket
t=    1.0s  reconnecting  attempt 1/5 failed (connection refused); attempt 2/5 in 2.0s
t=    3.0s  reconnecting  attempt 2/5: opening the socket
t=    3.0s  reconnecting  attempt 2/5 failed (connection refused); attempt 3/5 in 4.0s
t=    3.0s  reconnecting  server.start()
t=    7.0s  reconnecting  attempt 3/5: opening the socket
t=    7.0s  connected     connected on attempt 3/5; attempts reset; resubscribe + invalidate \
subscribed queries
t=    7.0s  connected     server.drop_all(1012)
t=    7.0s  reconnecting  connection lost (1012 service restart: server restarting); \
attempt 1/5 in 1.0s
t=    7.0s  closed        closed by the client during the backoff wait; attempt 1/5 cancelled"""


async def back_during_attempt_3(env: Env) -> str:
    client = env.client(paused=True)
    await client.connect()
    await client.step()
    await env.fault(client, "stop")
    await step_until(client, lambda e: e.kind == "failed" and e.attempt == 2)
    await env.fault(client, "start")
    await step_until(client, lambda e: e.kind == "connected")
    await env.until(lambda: env.server.connection_count == 1, "the server counts it")
    await env.fault(client, "drop_all", 1012)
    await client.step()  # attempts were reset: the next outage starts at attempt 1 again
    await client.close()
    assert env.server.handshake_attempts == 2  # the first connect + attempt 3
    return client.timeline.to_text()


@both
def test_server_back_during_attempt_3(kind: str) -> None:
    assert run(kind, back_during_attempt_3) == BACK


# -- freeze: the heartbeat notices within interval + timeout ------------------------------

FREEZE = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     server.freeze()
t=    2.0s  connected     ping sent; pong due within 10.0s
t=   12.0s  reconnecting  no pong within 10.0s: connection presumed dead; attempt 1/5 in 1.0s
t=   12.0s  reconnecting  server.thaw()
t=   13.0s  reconnecting  attempt 1/5: opening the socket
t=   13.0s  connected     connected on attempt 1/5; attempts reset; resubscribe + invalidate \
subscribed queries
t=   13.0s  closed        closed by the client (1000 normal closure)"""


async def freeze(env: Env) -> str:
    hb = HeartbeatPolicy(interval=2, timeout=10)
    client = env.client(paused=True, heartbeat=hb)
    await client.connect()
    await client.step()
    await env.fault(client, "freeze")
    await client.step()  # the ping goes into a frozen server
    dead = await client.step()
    assert client.state == "reconnecting"
    assert dead[-1].t == hb.detection_bound()
    await env.fault(client, "thaw")
    await step_until(client, lambda e: e.kind == "connected")
    await client.close()
    await env.until(lambda: env.server.connection_count == 0, "the server let go of both")
    return client.timeline.to_text()


@both
def test_freeze_is_detected_by_the_heartbeat(kind: str) -> None:
    assert run(kind, freeze) == FREEZE


# -- drop 1006 -> reconnect -------------------------------------------------------------

DROP = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     server.drop_all(1006)
t=    0.0s  reconnecting  connection lost (1006 abnormal closure (no close frame)); \
attempt 1/5 in 1.0s
t=    1.0s  reconnecting  attempt 1/5: opening the socket
t=    1.0s  connected     connected on attempt 1/5; attempts reset; resubscribe + invalidate \
subscribed queries
t=    1.0s  closed        closed by the client (1000 normal closure)"""


async def drop(env: Env) -> str:
    client = env.client(paused=True)
    await client.connect()
    await client.step()
    assert await env.fault(client, "drop_all", 1006) == 1
    await step_until(client, lambda e: e.kind == "connected")
    await client.close()
    return client.timeline.to_text()


@both
def test_drop_1006_reconnects(kind: str) -> None:
    assert run(kind, drop) == DROP


# -- refuse 503 -> retries ----------------------------------------------------------------

REFUSE = """\
t=    0.0s  disconnected  server.refuse()
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  reconnecting  connect failed (HTTP 503); attempt 1/5 in 1.0s
t=    1.0s  reconnecting  attempt 1/5: opening the socket
t=    1.0s  reconnecting  attempt 1/5 failed (HTTP 503); attempt 2/5 in 2.0s
t=    3.0s  reconnecting  attempt 2/5: opening the socket
t=    3.0s  reconnecting  attempt 2/5 failed (HTTP 503); attempt 3/5 in 4.0s
t=    3.0s  reconnecting  server.accept_again()
t=    7.0s  reconnecting  attempt 3/5: opening the socket
t=    7.0s  connected     connected on attempt 3/5; attempts reset; resubscribe + invalidate \
subscribed queries
t=    7.0s  closed        closed by the client (1000 normal closure)"""


async def refuse(env: Env) -> str:
    client = env.client(paused=True)
    await env.fault(client, "refuse")
    await client.connect()
    await step_until(client, lambda e: e.kind == "failed" and e.attempt == 2)
    await env.fault(client, "accept_again")
    await step_until(client, lambda e: e.kind == "connected")
    await client.close()
    assert env.server.handshake_attempts == 4  # 503s are handshakes the server saw
    return client.timeline.to_text()


@both
def test_refuse_503_retries(kind: str) -> None:
    assert run(kind, refuse) == REFUSE


# -- close during a backoff wait: no further attempt, zero connections --------------------

CLOSE_IN_WAIT = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     server.stop()
t=    0.0s  reconnecting  connection lost (1001 going away: server stopped); attempt 1/5 in 1.0s
t=    0.0s  reconnecting  server.start()
t=    0.0s  closed        closed by the client during the backoff wait; attempt 1/5 cancelled"""


async def close_in_wait(env: Env) -> str:
    client = env.client(paused=True)
    await client.connect()
    await client.step()
    await env.fault(client, "stop")
    await client.step()
    await env.fault(client, "start")  # an attempt now would succeed -- and leak
    await client.close()
    before = env.server.handshake_attempts
    await env.sleep(5)  # well past the planned attempt 1
    assert env.server.handshake_attempts == before
    assert env.server.connection_count == 0
    assert client.state == "closed"
    return client.timeline.to_text()


@both
def test_close_during_backoff_wait(kind: str) -> None:
    assert run(kind, close_in_wait) == CLOSE_IN_WAIT


# -- a handler that raises: the loop survives ---------------------------------------------

HANDLER = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     handler error: ValueError: bad payload 1 in explode
t=    0.0s  closed        closed by the client (1000 normal closure)"""


async def handler_raises(env: Env) -> str:
    handled: list[int] = []
    async with env.client() as client:

        @client.on("news.bad")
        def explode(data: dict) -> None:
            raise ValueError(f"bad payload {data['id']}")

        client.on("news.good", lambda data: handled.append(data["id"]))
        await env.publish("news", "news.bad", id=1)
        await env.publish("news", "news.good", id=2)
        await env.until(lambda: handled == [2], "the next message is handled")
        assert client.state == "connected"
    return client.timeline.to_text()


@both
def test_handler_that_raises_does_not_kill_the_loop(kind: str) -> None:
    assert run(kind, handler_raises) == HANDLER


# -- malformed frames from the server: error entries, no crash ----------------------------

MALFORMED = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     malformed frame ignored (bad-json: frame is not valid JSON: \
Expecting value: line 1 column 1 (char 0))
t=    0.0s  connected     malformed frame ignored (not-an-object: expected a JSON object, \
got list)
t=    0.0s  connected     malformed frame ignored (missing-type: message has no string \
"type" field)
t=    0.0s  connected     handler error: KeyError: 'id' in show
t=    0.0s  closed        closed by the client (1000 normal closure)"""


def garbage_app() -> App:
    app = App()

    @app.websocket("/ws")
    async def garbage(websocket: WebSocket) -> None:
        await websocket.accept()
        for frame in ("not json", "[1, 2]", '{"no": "type"}', '{"type": "news.posted"}'):
            await websocket.send_text(frame)
        await websocket.send_json({"type": "news.posted", "id": 7})
        async for _ in websocket.iter_text():
            pass

    return app


async def malformed(env: Env) -> str:
    shown: list[int] = []
    client = env.client()

    @client.on("news.posted")
    def show(data: dict) -> None:
        shown.append(data["id"])

    async with client:
        await env.until(lambda: shown == [7], "the valid frame after the garbage is handled")
        assert client.state == "connected"
        assert [f.type for f in client.frames] == [None, None, None, "news.posted", "news.posted"]
    return client.timeline.to_text()


@both
def test_malformed_frames_are_errors_not_crashes(kind: str) -> None:
    assert run(kind, malformed, garbage_app()) == MALFORMED


# -- events missed during an outage: the cache is invalidated on reconnect ---------------

MISSED = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     server.stop()
t=    0.0s  reconnecting  connection lost (1001 going away: server stopped); attempt 1/5 in 1.0s
t=    0.0s  reconnecting  server.start()
t=    1.0s  reconnecting  attempt 1/5: opening the socket
t=    1.0s  connected     connected on attempt 1/5; attempts reset; resubscribe + invalidate \
subscribed queries
t=    1.0s  connected     cache after reconnect: reconnect: news: refetched 1, marked stale 0
t=    1.0s  closed        closed by the client (1000 normal closure)"""


async def missed_events(env: Env) -> str:
    cache = QueryCache()
    cache.define(("news",), lambda: "headlines")
    cache.bind("news", ("news",))
    cache.observe(("news",))  # a mounted view: fetch 1
    client = env.client(paused=True, cache=cache)
    await client.connect()
    await client.step()
    assert await env.publish("news", "news.posted", id=1) == 1
    await env.until(lambda: cache.fetch_count(("news",)) == 2, "the push invalidated it")
    await env.fault(client, "stop")
    await client.step()
    assert await env.publish("news", "news.posted", id=2) == 0  # nobody hears this one
    await env.fault(client, "start")
    await step_until(client, lambda e: e.kind == "connected")
    assert cache.fetch_count(("news",)) == 3  # the reconnect refetched what we show
    await client.close()
    return client.timeline.to_text()


@both
def test_missed_events_invalidate_the_cache_on_reconnect(kind: str) -> None:
    assert run(kind, missed_events) == MISSED


# -- determinism ----------------------------------------------------------------------------


def test_same_seed_same_timeline_in_50_runs() -> None:
    policy = BackoffPolicy(jitter="full", seed=11)
    texts = {run("sim", lambda env: server_stopped(env, policy)) for _ in range(50)}
    assert len(texts) == 1
    text = texts.pop()
    assert "attempt 5/5 failed" in text and text != STOPPED
    other = run("sim", lambda env: server_stopped(env, BackoffPolicy(jitter="full", seed=12)))
    assert other != text
