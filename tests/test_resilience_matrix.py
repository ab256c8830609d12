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
