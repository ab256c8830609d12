"""Chapter 11's behaviours against the real server AND in simulation, same timeline.

Like ``tests/test_fault_matrix.py`` (whose ``Env`` this extends): every scenario runs on
the real in-kernel ``Server`` (real sockets, a sped-up clock) and on ``SimServer`` under
``run_virtual``, and both runs must write the *same text*. The behaviours: a flapping
server with and without a minimum uptime, close codes under ``close_policy.RECOMMENDED``
(and a token that expires), resume with replay and resync, the send queue flushed after
a reconnect, and the connect timeout against a frozen handshake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests import test_fault_matrix as fm
from tests.support import arun
from wslearn.app import App, WebSocket
from wslearn.auth import TokenIssuer
from wslearn.backoff import BackoffPolicy
from wslearn.cache import QueryCache
from wslearn.client import Client
from wslearn.clock import SpedUpClock, run_virtual
from wslearn.close_policy import RECOMMENDED
from wslearn.send_queue import SendQueue
from wslearn.server import serve
from wslearn.timeline import Entry

KINDS = fm.KINDS


class Env(fm.Env):
    """The fault matrix's environment, with the server options of chapter 11."""

    def __init__(self, kind: str, app: App | None = None, **server_kwargs: Any) -> None:
        super().__init__(kind, app)
        self.server_kwargs = server_kwargs

    async def __aenter__(self) -> Env:
        if self.kind == "real":
            self.server = await asyncio.to_thread(serve, self.app, **self.server_kwargs)
        else:
            self.net = fm.SimNetwork()
            self.server = self.net.serve(self.app, **self.server_kwargs)
        return self

    def client(self, topics: tuple[str, ...] = ("news",), *, speed: float = fm.SPEED,
               **kwargs: Any) -> Client:
        url = self.server.url(topics=list(topics))
        kwargs.setdefault("open_timeout", 100.0)  # never the cause of a failure here
        if self.kind == "real":
            return Client(url, clock=SpedUpClock(speed), **kwargs)
        return Client(url, dialer=self.net.dialer, **kwargs)

    async def issue_token(self) -> str:
        if self.kind == "real":
            return (await asyncio.to_thread(self.server.issue_token)).value
        return str(self.server.issue_token().value)


def run(kind: str, scenario: Callable[[Env], Awaitable[str]], app: App | None = None,
        **server_kwargs: Any) -> str:
    async def main() -> str:
        async with Env(kind, app, **server_kwargs) as env:
            return await scenario(env)

    if kind == "real":
        return arun(main(), timeout=60)
    return run_virtual(main, strict=True)


def both(test: Callable[..., None]) -> Callable[..., None]:
    return pytest.mark.parametrize("kind", KINDS)(test)


async def step_until(client: Client, predicate: Callable[[Entry], bool], steps: int = 40) -> None:
    for _ in range(steps):
        if any(predicate(e) for e in await client.step()):
            return
    raise AssertionError(f"no such transition within {steps} steps:\n"
                         + client.timeline.to_text())


# -- flapping, Module 07's reset at open: reconnects for ever ----------------------------------

def line(t: float, state: str, text: str) -> str:
    return f"t={t:>7.1f}s  {state:<12}  {text}"


def flapping_forever_text(limit: int) -> str:
    """Module 07 against a flapping server: open, lost, 1 s, open, lost ... for ever."""
    lost = "connection lost (1011 internal error: flapping); attempt 1/5 in 1.0s"
    lines = [line(0, "disconnected", "server.flap()"),
             line(0, "connecting", "connect: opening the socket"),
             line(0, "connected", "connected"),
             line(0, "reconnecting", lost)]
    for t in range(1, limit):
        lines += [line(t, "reconnecting", "attempt 1/5: opening the socket"),
                  line(t, "connected", "connected on attempt 1/5; attempts reset; resubscribe "
                       "+ invalidate subscribed queries"),
                  line(t, "reconnecting", lost)]
    lines.append(line(limit - 1, "closed",
                      "closed by the client during the backoff wait; attempt 1/5 cancelled"))
    return "\n".join(lines)


FLAP_LIMIT = 60.0  # logical seconds: "handshakes per minute"


async def flapping_forever(env: Env) -> str:
    client = env.client(paused=True)
    await env.fault(client, "flap")
    await client.connect()
    # never gives up on its own: stop it at a time limit, after a loss
    while not (client.machine.t >= FLAP_LIMIT - 1 and client.timeline[-1].kind == "lost"):
        await client.step()
        assert client.state != "disconnected"
    await client.close()
    per_minute = sum(1 for e in client.timeline if e.kind == "connected")
    assert per_minute == env.server.handshakes == 60  # one handshake every second, for ever
    return client.timeline.to_text()


@both
def test_flapping_with_reset_at_open_reconnects_for_ever(kind: str) -> None:
    assert run(kind, flapping_forever) == flapping_forever_text(int(FLAP_LIMIT))



# -- flapping with min_uptime=5: the backoff grows and it gives up after 5 ---------------------

FLAP_MIN_UPTIME = """\
t=    0.0s  disconnected  server.flap()
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected; attempts reset after 5.0s up
t=    0.0s  reconnecting  connection lost before 5.0s up (1011 internal error: flapping); \
attempt 1/5 in 1.0s
t=    1.0s  reconnecting  attempt 1/5: opening the socket
t=    1.0s  connected     connected on attempt 1/5; attempts reset after 5.0s up; resubscribe \
+ invalidate subscribed queries
t=    1.0s  reconnecting  connection lost before 5.0s up (1011 internal error: flapping); \
attempt 2/5 in 2.0s
t=    3.0s  reconnecting  attempt 2/5: opening the socket
t=    3.0s  connected     connected on attempt 2/5; attempts reset after 5.0s up; resubscribe \
+ invalidate subscribed queries
t=    3.0s  reconnecting  connection lost before 5.0s up (1011 internal error: flapping); \
attempt 3/5 in 4.0s
t=    7.0s  reconnecting  attempt 3/5: opening the socket
t=    7.0s  connected     connected on attempt 3/5; attempts reset after 5.0s up; resubscribe \
+ invalidate subscribed queries
t=    7.0s  reconnecting  connection lost before 5.0s up (1011 internal error: flapping); \
attempt 4/5 in 8.0s
t=   15.0s  reconnecting  attempt 4/5: opening the socket
t=   15.0s  connected     connected on attempt 4/5; attempts reset after 5.0s up; resubscribe \
+ invalidate subscribed queries
t=   15.0s  reconnecting  connection lost before 5.0s up (1011 internal error: flapping); \
attempt 5/5 in 16.0s
t=   31.0s  reconnecting  attempt 5/5: opening the socket
t=   31.0s  connected     connected on attempt 5/5; attempts reset after 5.0s up; resubscribe \
+ invalidate subscribed queries
t=   31.0s  disconnected  connection lost before 5.0s up (1011 internal error: flapping); \
giving up: WebSocket unavailable
t=   31.0s  closed        closed by the client (was disconnected)"""


async def flapping_min_uptime(env: Env) -> str:
    # a slower clock: the 5 s "stable" timer must not beat the flapping close on a busy host
    client = env.client(policy=BackoffPolicy(min_uptime=5), speed=10)
    await env.fault(client, "flap")
    await client.connect()
    await client.wait_for("disconnected", timeout=100)
    await client.close()
    assert env.server.handshakes == 6  # the connect + 5 attempts, then it stops
    assert client.notifications == ["WebSocket unavailable"]
    return client.timeline.to_text()


@both
def test_flapping_with_min_uptime_gives_up_after_5(kind: str) -> None:
    assert run(kind, flapping_min_uptime) == FLAP_MIN_UPTIME


# -- close codes under RECOMMENDED ---------------------------------------------------------------


CLOSE_CODES = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     server.drop_all(1000)
t=    0.0s  disconnected  closed by the server (1000 normal closure: server closed the \
connection): session ended, not retried
t=    0.0s  connecting    reconnect requested: opening the socket (attempts reset)
t=    0.0s  connected     connected; resubscribe + invalidate subscribed queries
t=    0.0s  connected     server.drop_all(1008)
t=    0.0s  disconnected  closed by the server (1008 policy violation: dropped by server); \
retrying cannot help: disconnected
t=    0.0s  connecting    reconnect requested: opening the socket (attempts reset)
t=    0.0s  connected     connected; resubscribe + invalidate subscribed queries
t=    0.0s  connected     server.drop_all(4403)
t=    0.0s  disconnected  closed by the server (4403 forbidden: forbidden); retrying cannot \
help: disconnected
t=    0.0s  connecting    reconnect requested: opening the socket (attempts reset)
t=    0.0s  connected     connected; resubscribe + invalidate subscribed queries
t=    0.0s  connected     server.drop_all(1012)
t=    0.0s  reconnecting  connection lost (1012 service restart: server restarting); attempt \
1/5 in 1.0s
t=    1.0s  reconnecting  attempt 1/5: opening the socket
t=    1.0s  connected     connected on attempt 1/5; attempts reset; resubscribe + invalidate \
subscribed queries
t=    1.0s  connected     server.drop_all(1013)
t=    1.0s  reconnecting  connection lost (1013 try again later: server busy: try again \
later); attempt 1/5 in 1.0s
t=    2.0s  reconnecting  attempt 1/5: opening the socket
t=    2.0s  connected     connected on attempt 1/5; attempts reset; resubscribe + invalidate \
subscribed queries
t=    2.0s  connected     server.drop_all(4401)
t=    2.0s  reconnecting  connection lost (4401 unauthorized: token missing or expired: token \
expired); refreshing the token
t=    2.0s  reconnecting  token refreshed: connecting now (no backoff)
t=    2.0s  connected     connected; resubscribe + invalidate subscribed queries
t=    2.0s  connected     server.drop_all(4401)
t=    2.0s  disconnected  closed by the server (4401 unauthorized: token missing or expired: \
token expired) again right after a token refresh: the login itself is refused; disconnected
t=    2.0s  closed        closed by the client (was disconnected)"""


async def close_codes(env: Env) -> str:
    fetched: list[int] = []

    def token() -> str:
        fetched.append(1)
        return f"token-{len(fetched)}"

    # a slow clock: the 1 s proof of a refreshed token must not fire before the second 4401
    client = env.client(paused=True, close_policy=RECOMMENDED, token=token, speed=2)
    await client.connect()
    await client.step()

    async def drop(code: int, *, reconnect: bool = True) -> None:
        await env.until(lambda: env.server.connection_count == 1, "the server counts it")
        await env.fault(client, "drop_all", code)
        await client.step()
        if reconnect and client.state == "disconnected":
            await client.reconnect()
            await client.step()

    await drop(1000)  # done: the session ended; Reconnect is the user's call
    await drop(1008)  # give up: the request was refused
    await drop(4403)  # give up: the application refused
    for code in (1012, 1013):  # retry: an outage, with backoff
        await drop(code)
        await step_until(client, lambda e: e.kind == "connected")
    await drop(4401)  # refresh the token, then connect at once
    await step_until(client, lambda e: e.kind == "connected")
    await drop(4401, reconnect=False)  # again, before the fresh token proved itself: give up
    assert client.state == "disconnected"
    await client.close()
    assert len(fetched) == 2  # the first open, and one refresh
    assert client.notifications == [
        "the server ended the session (1000 normal closure: server closed the connection)",
        "WebSocket unavailable: dropped by server",
        "WebSocket unavailable: forbidden",
        "WebSocket unavailable: log in again (4401 unauthorized: token missing or expired: "
        "token expired)",
    ]
    return client.timeline.to_text()


@both
def test_close_codes_under_the_recommended_policy(kind: str) -> None:
    assert run(kind, close_codes) == CLOSE_CODES


# -- a token that expires: refresh, connect, and again --------------------------------------------


TOKEN_EXPIRY = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  reconnecting  connection lost (4401 unauthorized: token missing or expired: token \
expired); refreshing the token
t=    0.0s  reconnecting  token refreshed: connecting now (no backoff)
t=    0.0s  connected     connected; resubscribe + invalidate subscribed queries
t=    1.0s  connected     up for 1.0s: the refreshed token works
t=    1.0s  reconnecting  connection lost (4401 unauthorized: token missing or expired: token \
expired); refreshing the token
t=    1.0s  reconnecting  token refreshed: connecting now (no backoff)
t=    1.0s  connected     connected; resubscribe + invalidate subscribed queries
t=    2.0s  connected     up for 1.0s: the refreshed token works
t=    2.0s  reconnecting  connection lost (4401 unauthorized: token missing or expired: token \
expired); refreshing the token
t=    2.0s  reconnecting  token refreshed: connecting now (no backoff)
t=    2.0s  connected     connected; resubscribe + invalidate subscribed queries
t=    2.0s  closed        closed by the client (1000 normal closure)"""


async def token_expiry(env: Env) -> str:
    async def token() -> str:
        return await env.issue_token()

    client = env.client(paused=True, close_policy=RECOMMENDED, token=token)
    await client.connect()
    for _ in range(2):
        await step_until(client, lambda e: e.kind == "connected")
        await step_until(client, lambda e: "refreshed token works" in e.text)
    await step_until(client, lambda e: e.kind == "connected")  # the third token expired too
    await client.close()
    assert client.machine.refreshes == 3 and client.token_fetches == 4
    log = env.server.access_log
    assert len(log) == 4 and all("token=" in line for line in log)
    assert not any(line.split("token=")[1].split()[0] in client.timeline.to_text()
                   for line in log)
    return client.timeline.to_text()


@both
def test_an_expiring_token_is_refreshed_each_time(kind: str) -> None:
    # logical time moves only with timers: an expiry shows at the last timer's t
    assert run(kind, token_expiry, auth=TokenIssuer(lifetime=2)) == TOKEN_EXPIRY


# -- resume: replay after a short outage, resync after a long one -------------------------------


async def resume_replay_then_resync(env: Env) -> str:
    cache = QueryCache()
    cache.define(("news",), lambda: "headlines")
    cache.bind("news", ("news",))
    cache.observe(("news",))  # fetch 1
    handled: list[int] = []
    client = env.client(paused=True, resume=True, cache=cache)
    client.on("news.posted", lambda data: handled.append(data["id"]))
    assert client.cursor is not None
    await client.connect()
    await client.step()
    await env.until(lambda: client.cursor is not None and client.cursor.positions == {"news": 0},
                    "the welcome's seq")

    async def publish(*ids: int) -> None:
        for i in ids:
            await env.publish("news", "news.posted", id=i)

    await publish(1, 2)
    await env.until(lambda: handled == [1, 2], "two live events")
    await env.fault(client, "drop_all", 1012)
    await client.step()
    await publish(3, 4)  # while it is away: the buffer (3 per topic) keeps both
    await step_until(client, lambda e: e.kind == "connected")
    await env.until(lambda: handled == [1, 2, 3, 4], "the replay")
    await env.until(lambda: env.server.connection_count == 1, "the server counts it")
    await env.fault(client, "drop_all", 1012)
    await client.step()
    await publish(5, 6, 7, 8, 9)  # more than the buffer keeps: a resync
    await step_until(client, lambda e: e.kind == "connected")
    await env.until(lambda: client.resume_stats["resynced"] == 1, "the resync")
    await client.close()
    assert handled == [1, 2, 3, 4]  # 5..9 are not replayed: the refetch covers them
    assert client.resume_stats == {"replayed": 2, "resynced": 1, "gaps": 0, "duplicates": 0}
    assert client.cursor.positions == {"news": 9}
    # fetch 1, one per live or replayed event (4), one for the resync: no reconnect refetches
    assert cache.fetch_count(("news",)) == 6
    return client.timeline.to_text()


RESUME = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     server.drop_all(1012)
t=    0.0s  reconnecting  connection lost (1012 service restart: server restarting); attempt \
1/5 in 1.0s
t=    1.0s  reconnecting  attempt 1/5: opening the socket
t=    1.0s  connected     connected on attempt 1/5; attempts reset; resubscribe + resume from \
the cursor
t=    1.0s  connected     resume from news #2 (server at #4)
t=    1.0s  connected     server.drop_all(1012)
t=    1.0s  reconnecting  connection lost (1012 service restart: server restarting); attempt \
1/5 in 1.0s
t=    2.0s  reconnecting  attempt 1/5: opening the socket
t=    2.0s  connected     connected on attempt 1/5; attempts reset; resubscribe + resume from \
the cursor
t=    2.0s  connected     resume from news #4 (server at #9)
t=    2.0s  connected     resync news: 5 events missed, more than the server kept; invalidate \
news queries, continue from #9
t=    2.0s  connected     cache after resync: reconnect: news: refetched 1, marked stale 0
t=    2.0s  closed        closed by the client (1000 normal closure)"""


@both
def test_resume_replays_a_short_outage_and_resyncs_a_long_one(kind: str) -> None:
    assert run(kind, resume_replay_then_resync, replay=3) == RESUME


# -- the send queue, flushed after a reconnect -----------------------------------------------------


def echo_app() -> App:
    app = App()

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text.replace('"type":"', '"type":"echo.', 1))

    return app


SEND_QUEUE = """\
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  connected     connected
t=    0.0s  connected     server.drop_all(1012)
t=    0.0s  reconnecting  connection lost (1012 service restart: server restarting); attempt \
1/5 in 1.0s
t=    0.0s  reconnecting  not connected: 'move' queued (1 waiting)
t=    0.0s  reconnecting  not connected: 'move' queued (2 waiting)
t=    0.0s  reconnecting  not connected: 'move' queued, the oldest dropped (2 waiting, 1 dropped)
t=    1.0s  reconnecting  attempt 1/5: opening the socket
t=    1.0s  connected     connected on attempt 1/5; attempts reset; resubscribe + invalidate \
subscribed queries
t=    1.0s  connected     send queue: 2 messages sent after the open, oldest first
t=    1.0s  closed        closed by the client (1000 normal closure)"""


async def send_queue_flush(env: Env) -> str:
    echoed: list[int] = []
    client = env.client(paused=True, send_queue=SendQueue(limit=2, overflow="drop-oldest"))
    client.on("echo.move", lambda data: echoed.append(data["i"]))
    await client.connect()
    await client.step()
    await env.fault(client, "drop_all", 1012)
    await client.step()
    for i in range(3):
        await client.send({"type": "move", "i": i})
    await step_until(client, lambda e: e.kind == "connected")
    await env.until(lambda: echoed == [1, 2], "the flush, in order")
    await client.close()
    return client.timeline.to_text()


@both
def test_send_queue_is_flushed_in_order_after_a_reconnect(kind: str) -> None:
    assert run(kind, send_queue_flush, echo_app()) == SEND_QUEUE


# -- a handshake that never completes: the connect timeout is the only way out -----------------

OPEN_TIMEOUT = """\
t=    0.0s  disconnected  server.freeze()
t=    0.0s  connecting    connect: opening the socket
t=    5.0s  reconnecting  connect failed (no answer within 5.0s); attempt 1/5 in 1.0s
t=    5.0s  reconnecting  server.thaw()
t=    6.0s  reconnecting  attempt 1/5: opening the socket
t=    6.0s  connected     connected on attempt 1/5; attempts reset; resubscribe + invalidate \
subscribed queries
t=    6.0s  closed        closed by the client (1000 normal closure)"""


async def open_timeout(env: Env) -> str:
    client = env.client(paused=True, open_timeout=5)
    await env.fault(client, "freeze")
    await client.connect()
    await client.step()  # the open timer: the frozen server never answered
    await env.fault(client, "thaw")
    await step_until(client, lambda e: e.kind == "connected")
    await client.close()
    return client.timeline.to_text()


@both
def test_connect_timeout_against_a_frozen_handshake(kind: str) -> None:
    assert run(kind, open_timeout) == OPEN_TIMEOUT


NO_OPEN_TIMEOUT = """\
t=    0.0s  disconnected  server.freeze()
t=    0.0s  connecting    connect: opening the socket
t=    0.0s  closed        closed by the client (was connecting)"""


async def no_open_timeout(env: Env) -> str:
    client = env.client(open_timeout=None)
    await env.fault(client, "freeze")
    connecting = asyncio.create_task(client.connect())  # returns once the open settled
    await env.sleep(60)  # a minute of logical time: still connecting, nothing armed
    assert client.state == "connecting" and client.machine.armed == {}
    assert not connecting.done()
    await client.close()  # the only way out: cancel
    await connecting
    await env.fault(None, "thaw")
    return client.timeline.to_text()


@both
def test_without_a_connect_timeout_a_frozen_handshake_hangs_until_closed(kind: str) -> None:
    assert run(kind, no_open_timeout) == NO_OPEN_TIMEOUT
