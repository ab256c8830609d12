"""Checker for chapter 11: ``ReconnectRules`` -- what production clients do after backoff.

Module 07's hook reconnects after every close and resets its attempt counter on every
open. The learner writes the rules a production client needs, as a small *pure* class
(no IO, the time is passed in) that a driver of ours plugs into real sockets::

    class ReconnectRules:
        def __init__(self, policy)            # policy.delay(k), .max_attempts, .min_uptime
        def opened(self, now)                 # the connection opened at `now`
        def closed(self, code, now)           # -> ("retry", delay) | ("refresh", 0.0)
                                              #    | ("give-up", 0.0) | ("done", 0.0)

``closed`` is called after every close *and* after every failed connect (code 1006, with
no ``opened`` before it: the browser's ``onclose`` without ``onopen``). The rules are
chapter 11's: ``wslearn.close_policy.RECOMMENDED`` decides by code, and the attempt
counter resets only once a connection stayed up ``policy.min_uptime`` seconds. The
checker compares against them by behaviour, never by shape.

The driver (``_Driver``) is the checker's: connect (with a token in auth mode), read
until the connection ends, ask the rules, then wait / refresh the token / stop. Faults
are the server's own: a flapping server, ``drop_all(code)`` for each close code, expired
and forged tokens in auth mode, ``stop()``/``start()`` and ``refuse()`` outages. Pure
scenarios then pin the edges (the uptime boundary, a failed connect after a long
connection, another policy) with exact numbers.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..backoff import BackoffPolicy
from ..close_policy import RECOMMENDED, CloseAction
from ..timeline import fmt_seconds
from ..transport import ConnectionLost
from ._common import require_class, stop
from ._net import Lab, format_log
from ._runner import Exercise, Failed, Verdict
from ._sandbox import describe_exception

NAME = "production"
#: The course's production policy: 1, 2, 4, 8, 16 s, 5 attempts, reset after 5 s up.
POLICY = BackoffPolicy(min_uptime=5.0)
ACTIONS = tuple(a.value for a in CloseAction)

HINTS = {
    "resets-on-open": "It resets the attempt counter as soon as a connection opens "
    "(Module 07's hook does): against a flapping server -- accepts, then drops at once -- "
    "every retry is then retry 1, a tight 1 s loop for ever. Remember when it opened in "
    "opened(now), and in closed() reset the counter only if `now - opened_at >= "
    "policy.min_uptime`.",
    "no-reset": "The attempt counter never goes back to 0: after a connection that stayed up "
    "longer than policy.min_uptime, the next outage must start again at "
    "policy.delay(1) with all policy.max_attempts retries.",
    "uptime-wrong": "Uptime is measured wrongly: it is `now - opened_at`, where opened_at is "
    "when the connection that just ended opened, and a connect that failed was never up at "
    "all -- forget the open time in closed() (`self.opened_at = None`), so a failed connect "
    "after a long connection does not count as stable.",
    "never-gives-up": "It never gives up: after policy.max_attempts failed retries "
    "return (\"give-up\", 0.0) -- Module 07's mistake 4 otherwise, now against a flapping "
    "server too.",
    "off-by-one-limit": "It gives up one retry too early or too late: the first connect is "
    "not a retry; policy.max_attempts retries (waits policy.delay(1) .. "
    "policy.delay(max_attempts)) come after it, and the next failure gives up.",
    "wrong-delay": "The waits are not the policy's: retry k waits policy.delay(k) (k = 1 for "
    "the first retry of an outage), and no hard-coded numbers -- the policy passed in may "
    "be another one.",
    "retries-refusal": "It retried a close that says the request itself was wrong (1008 "
    "policy violation, 1002, 1003, 1007, 1009, 1010, 4403 or another 4xxx): the same request "
    "is refused the same way, so retrying is a loop of refusals. Return "
    "(\"give-up\", 0.0).",
    "gives-up-on-outage": "It gave up on an outage: 1001, 1005, 1006, 1011, 1012, 1013 and "
    "1014 (and codes nobody defined for you, such as 3xxx) are restarts and lost links -- "
    "retry them with backoff.",
    "backs-off-on-4401": "It retried 4401 with backoff: an expired token is not an outage, "
    "and the same expired token fails again. Return (\"refresh\", 0.0) -- the driver gets "
    "a fresh token and connects at once.",
    "gives-up-on-4401": "It gave up on the first 4401: the token only expired. Return "
    "(\"refresh\", 0.0) so the driver gets a fresh one and connects at once.",
    "refreshes-forever": "It refreshes for ever: a second 4401 before the connection stayed "
    "up policy.min_uptime means the fresh token is refused too (the login itself is gone) "
    "-- give up. After a stable connection a 4401 is a new expiry: refresh again.",
    "retries-1000": "It reconnected after 1000: a normal closure by the server means "
    "\"we are done with you\" (a logout, a finished job). Return (\"done\", 0.0).",
    "not-done": "1000 is not a failure: return (\"done\", 0.0) -- quiet, no \"unavailable\" "
    "message -- rather than (\"give-up\", 0.0).",
    "ignores-policy": "It has numbers built in: the rules must read the policy they are "
    "given -- policy.delay(k) for the waits, policy.max_attempts for the limit, "
    "policy.min_uptime for what counts as stable (the checker also passes another policy).",
    "refresh-never-reset": "After a connection that stayed up policy.min_uptime, a 4401 is "
    "a new expiry (tokens expire every few minutes for ever): refresh again. Clear the "
    "\"refreshed\" flag where you reset the attempt counter.",
    "bad-return": "closed() must return a pair (action, seconds): action one of \"retry\", "
    "\"refresh\", \"give-up\", \"done\", and seconds a number >= 0 (0.0 unless it is a "
    "retry).",
}

STEPS = [
    "Three pieces of state: the retries spent in this outage (`self.attempt`), when the "
    "current connection opened (`self.opened_at`, None while not connected) and whether a "
    "token refresh is still unproven (`self.refreshed`).",
    "closed(): first decide whether the connection that just ended was stable "
    "(`opened_at is not None and now - opened_at >= policy.min_uptime`); if so, this is a "
    "new outage: reset the attempt counter and the refresh flag. Then set opened_at = None.",
    "Then the code: 1000 -> done; 4401 -> refresh (or give up if you refreshed and the "
    "connection was not stable since); 1002, 1003, 1007, 1008, 1009, 1010 and 4000-4999 -> "
    "give up; everything else is an outage.",
    "An outage: `if self.attempt >= policy.max_attempts: give up`; else `self.attempt += "
    "1` and return (\"retry\", policy.delay(self.attempt)).",
]


def prepare(rules_class: Any = None) -> Any:
    return require_class(rules_class, "ReconnectRules", {"opened": False, "closed": False})


EXERCISE = Exercise(NAME, "11_production_rules", prepare, speed=40.0,
                    objects=("ReconnectRules",), hints=HINTS, steps=STEPS)


# -- asking the learner's rules -------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    action: str
    delay: float

    def text(self) -> str:
        if self.action == "retry":
            return f"retry in {fmt_seconds(self.delay)}s"
        return self.action


def _decide(rules: Any, code: int, now: float) -> Decision:
    """``rules.closed(code, now)``, checked: a pair (one of ACTIONS, seconds >= 0)."""
    got = rules.closed(code, now)
    shown = f"closed({code}, {fmt_seconds(now)}) returned {got!r}"
    if not isinstance(got, tuple | list) or len(got) != 2:
        raise Failed("bad-return", shown + ": return a pair (action, seconds)",
                     "(\"retry\", 1.0) or (\"give-up\", 0.0) ...", repr(got))
    action, delay = got
    action = action.value if isinstance(action, CloseAction) else action
    if action not in ACTIONS:
        raise Failed("bad-return", shown + f": the action must be one of {', '.join(ACTIONS)}",
                     " | ".join(ACTIONS), repr(action))
    if (isinstance(delay, bool) or not isinstance(delay, int | float)
            or not math.isfinite(delay) or delay < 0):
        raise Failed("bad-return", shown + ": the seconds must be a number >= 0", "0.0 or more",
                     repr(delay))
    if action == "refresh" and delay != 0:
        raise Failed("backs-off-on-4401", shown + ": a refresh connects at once, without a "
                     "wait -- return (\"refresh\", 0.0)", "(\"refresh\", 0.0)", repr(got))
    return Decision(action, float(delay))


def _new(cls: type, policy: BackoffPolicy) -> Any:
    try:
        return cls(policy)
    except TypeError as exc:
        if "argument" not in str(exc):
            raise
        raise Failed("wrong-signature", f"ReconnectRules(policy) failed: "
                     f"{describe_exception(exc)}") from exc


# -- the driver: the checker's reconnect loop around the learner's rules ---------------------


class _Driver:
    """Connect, read until the end, ask the rules, act; records every decision."""

    def __init__(self, lab: Lab, rules: Any, *, token: Callable[[], str | None] | None = None,
                 until: float = 300.0, max_connects: int = 40) -> None:
        self.lab = lab
        self.rules = rules
        self.token = token  # the token source (auth mode): asked first and on "refresh"
        self.until = until
        self.max_connects = max_connects
        self.decisions: list[tuple[float, int, Decision]] = []
        self.connects = 0
        self.refreshes = 0
        self.ended: str | None = None  # the final action, or "cut off"

    def url(self, token: str | None) -> str:
        url = self.lab.url()
        return url if token is None else f"{url}{'&' if '?' in url else '?'}token={token}"

    async def run(self) -> None:
        token = self.token() if self.token is not None else None
        while True:
            if self.connects >= self.max_connects or self.lab.now() >= self.until:
                self.ended = "cut off"
                return
            self.connects += 1
            try:
                ws = await self.lab.connect(self.url(token))
            except ConnectionError:
                code = 1006  # a failed connect: onclose without onopen
            else:
                self.rules.opened(self.lab.now())
                try:
                    while True:
                        await ws.recv()
                except ConnectionLost as exc:
                    code = exc.code
            decision = _decide(self.rules, code, self.lab.now())
            self.decisions.append((self.lab.now(), code, decision))
            self.lab.note(f"closed({code}) -> {decision.text()}", "rules")
            if decision.action == "retry":
                await asyncio.sleep(decision.delay)
            elif decision.action == "refresh":
                self.refreshes += 1
                token = self.token() if self.token is not None else None
            else:
                self.ended = decision.action
                return

    def retry_delays(self) -> list[float]:
        return [d.delay for _, _, d in self.decisions if d.action == "retry"]


def _timeline(lab: Lab, limit: int = 20) -> str:
    return format_log(lab.entries("open", "failed", "lost", "fault", "rules"), limit)


async def _drive(lab: Lab, driver: _Driver, timeout: float) -> None:
    task = asyncio.get_running_loop().create_task(driver.run(), name="wslearn-driver")
    await lab.until(task.done, timeout)
    if task.done():
        error = task.exception()
        if error is not None:
            raise error
    else:
        await stop(task)
        driver.ended = driver.ended or "cut off"


class _Flapping:
    """The server accepts every handshake, then closes at once with ``code`` (until
    ``end()``): ``server.flap()`` where the server has it, else a watcher of ours that
    closes each new connection the moment it opens."""

    def __init__(self, lab: Lab, code: int, text: str) -> None:
        self.lab = lab
        self.code = code
        self.text = text
        self.task: asyncio.Task[Any] | None = None
        self.seen = 0

    async def start(self) -> _Flapping:
        lab = self.lab
        if hasattr(lab.server, "flap"):
            await lab.fault("flap", self.code, text=self.text)
            return self
        lab.note(self.text, "fault")
        self.seen = lab.opens

        async def watch() -> None:
            while True:
                await lab.until(lambda: lab.opens > self.seen, math.inf)
                self.seen = lab.opens
                await lab._server_call("drop_all", self.code)

        self.task = asyncio.get_running_loop().create_task(watch(), name="wslearn-flap")
        return self

    async def end(self) -> None:
        if self.task is not None:
            await stop(self.task)
        elif hasattr(self.lab.server, "steady"):
            await self.lab._server_call("steady")


def _diagnose_outage(delays: list[float], policy: BackoffPolicy, ended: str | None) -> str:
    """Name the mistake from the retry waits of one outage that should give up."""
    assert policy.max_attempts is not None
    want = policy.delays()
    if ended == "give-up" and len(delays) != len(want) and delays == want[: len(delays)]:
        return "off-by-one-limit"
    if ended == "give-up" and len(delays) == len(want) + 1 and delays[:-1] == want:
        return "off-by-one-limit"
    if len(delays) > 2 and all(d == delays[0] for d in delays):
        return "resets-on-open"
    if ended != "give-up" and delays[: len(want)] == want:
        return "never-gives-up"
    return "wrong-delay"


# -- scenarios against the server -------------------------------------------------------------

EXPECTED_FLAP = """\
t=   0.0s  server: flapping (accept, then close 1011)
t=   0.0s  connect #1 open
t=   0.0s  closed(1011) -> retry in 1.0s
t=   1.0s  connect #2 open
t=   1.0s  closed(1011) -> retry in 2.0s
t=   3.0s  connect #3 open
t=   3.0s  closed(1011) -> retry in 4.0s
t=   7.0s  connect #4 open
t=   7.0s  closed(1011) -> retry in 8.0s
t=  15.0s  connect #5 open
t=  15.0s  closed(1011) -> retry in 16.0s
t=  31.0s  connect #6 open
t=  31.0s  closed(1011) -> give-up"""


def _flap_timeline(lab: Lab) -> str:
    return format_log(lab.entries("open", "fault", "rules"), 20)


@EXERCISE.scenario("a flapping server (accepts, then closes 1011 at once): the backoff "
                   "grows and the limit ends it", real=True)
async def flapping(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    lab.max_connects = 200
    flap = await _Flapping(lab, 1011, "server: flapping (accept, then close 1011)").start()
    driver = _Driver(lab, _new(cls, POLICY), until=60.0, max_connects=100)
    try:
        await _drive(lab, driver, 61.0)
    finally:
        await flap.end()
    actual = _flap_timeline(lab)
    handshakes = lab.handshakes
    if actual != EXPECTED_FLAP:
        delays = driver.retry_delays()
        kind = _diagnose_outage(delays, POLICY, driver.ended)
        detail = (f"handshakes in the first minute: {handshakes}, expected 6; waits "
                  f"{', '.join(fmt_seconds(d) for d in delays[:8]) or 'none'}"
                  f"{' ...' if len(delays) > 8 else ''}")
        if kind == "resets-on-open":
            detail = (f"connected {handshakes} times in a minute against a flapping server "
                      f"(expected 6): reset the attempt counter only after min_uptime "
                      f"({POLICY.min_uptime:g} s up)")
        elif driver.ended in ("give-up", "done") and not delays:
            kind = "gives-up-on-outage"
            detail = f"closed(1011) returned {driver.decisions[0][2].action!r}: 1011 is an outage"
        raise Failed(kind, detail, EXPECTED_FLAP, actual)
    return Verdict(EXPECTED_FLAP, actual, f"{handshakes} handshakes, then it gave up")


#: code -> what must follow a close with it from a connection that was up 10 s.
CODES = [1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
         3000, 4000, 4401, 4403, 4404, 4999]


def _expected_code_line(code: int) -> str:
    action = RECOMMENDED.decide(code)
    if action is CloseAction.RETRY:
        return f"{code}: retry in 1.0s, connected again"
    if action is CloseAction.REFRESH:
        return f"{code}: refresh, connected again"
    return f"{code}: {action.value}, no reconnect"


def _code_kind(code: int, got: Decision) -> str:
    want = RECOMMENDED.decide(code)
    if want is CloseAction.DONE:
        return "retries-1000" if got.action in ("retry", "refresh") else "not-done"
    if want is CloseAction.GIVE_UP:
        return "retries-refusal"
    if want is CloseAction.RETRY:
        return "gives-up-on-outage" if got.action != "retry" else "wrong-delay"
    return "backs-off-on-4401" if got.action == "retry" else "gives-up-on-4401"


async def _one_code(lab: Lab, cls: Any, code: int) -> tuple[str, Decision | None]:
    """A fresh session, 10 s up, then the server closes with ``code``: what follows?"""
    driver = _Driver(lab, _new(cls, POLICY), max_connects=2)
    task = asyncio.get_running_loop().create_task(driver.run(), name="wslearn-driver")
    opens = lab.opens
    await lab.until(lambda: lab.opens > opens or task.done(), 5.0)
    await asyncio.sleep(6)  # a stable connection (up > 5 s): only the code decides
    reopened = lab.opens
    await lab.fault("drop_all", code, text=f"server: close {code}")
    await lab.until(lambda: bool(driver.decisions) or task.done(), 5.0)
    await lab.until(lambda: lab.opens > reopened or task.done(), 2.0)
    again = lab.opens > reopened
    await stop(task)
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    if not driver.decisions:
        return f"{code}: no decision", None
    got = driver.decisions[0][2]
    if got.action == "retry":
        return f"{code}: retry in {fmt_seconds(got.delay)}s, " + (
            "connected again" if again else "no reconnect yet"), got
    return f"{code}: {got.action}, " + ("connected again" if again else "no reconnect"), got


@EXERCISE.scenario("the server closes with each code: outages are retried, refusals and "
                   "other 4xxx give up, 1000 is done", real=True)
async def close_codes(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    expected = "\n".join(_expected_code_line(c) for c in CODES)
    lines: list[str] = []
    first_wrong: tuple[int, Decision] | None = None
    for code in CODES:
        line, got = await _one_code(lab, cls, code)
        lines.append(line)
        if line != _expected_code_line(code) and first_wrong is None and got is not None:
            first_wrong = (code, got)
    actual = "\n".join(lines)
    if first_wrong is not None:
        code, got = first_wrong
        raise Failed(_code_kind(code, got), f"closed({code}) -> {got.text()}, expected "
                     f"{_expected_code_line(code).split(': ', 1)[1]}", expected, actual)
    return Verdict(expected, actual)


EXPECTED_TOKEN = """\
t=   0.0s  connect #1 open
t=  30.0s  #1 lost (4401)
t=  30.0s  closed(4401) -> refresh
t=  30.0s  connect #2 open
t=  60.0s  #2 lost (4401)
t=  60.0s  closed(4401) -> refresh
t=  60.0s  login: hands out the expired token again
t=  60.0s  connect #3 open
t=  60.0s  #3 lost (4401)
t=  60.0s  closed(4401) -> give-up
t=  60.0s  client: a forged token
t=  60.0s  connect #4 open
t=  60.0s  #4 lost (4403)
t=  60.0s  closed(4403) -> give-up"""


def _token_mistake(expired: list[Decision], forged: list[Decision],
                   refreshes: int) -> tuple[str, str]:
    first = expired[0] if expired else None
    if first is None:
        return "bad-return", "no decision after the 4401"
    if first.action == "retry":
        return "backs-off-on-4401", (f"retried 4401 with backoff ({first.text()}): refresh the "
                                     "token and connect at once")
    if first.action != "refresh":
        return "gives-up-on-4401", f"closed(4401) -> {first.text()} at t=30"
    second = expired[1] if len(expired) > 1 else None
    if second is not None and second.action != "refresh":
        kind = "refresh-never-reset" if second.action == "give-up" else "backs-off-on-4401"
        return kind, (f"the 4401 at t=60, after 30 s up, gave {second.text()}: a stable "
                      "connection proved the last refresh, so refresh again")
    third = expired[2] if len(expired) > 2 else None
    if third is not None and third.action != "give-up":
        return "refreshes-forever", (f"refreshed {refreshes} times: a 4401 right after a "
                                     "refresh means the fresh token is refused too -- give up")
    if forged and forged[0].action != "give-up":
        return "retries-refusal", f"closed(4403) -> {forged[0].text()}: a forged token stays forged"
    return "refreshes-forever", "the refreshes came at other times"


class _Login:
    """The token source: a fresh token from the server (its ``GET /api/token``) -- until
    ``stale``, when it hands out the first, long expired token again."""

    def __init__(self, lab: Lab, server: Any, fresh: int) -> None:
        self.lab = lab
        self.server = server
        self.fresh = fresh
        self.tokens: list[str] = []

    def __call__(self) -> str:
        if len(self.tokens) < self.fresh:
            self.tokens.append(self.server.issue_token().value)
            return self.tokens[-1]
        if len(self.tokens) == self.fresh:
            self.tokens.append(self.tokens[0])
            self.lab.note("login: hands out the expired token again", "fault")
        return self.tokens[0]


@EXERCISE.scenario("tokens (the server in auth mode, tokens live 30 s): an expired one "
                   "(4401) is refreshed and the client connects at once; a refresh that does "
                   "not help, and a forged token (4403), give up")
async def tokens(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None and lab.mode == "sim"  # the real run has 4401/4403 in close_codes
    from ..auth import TokenIssuer

    loop = asyncio.get_running_loop()
    main = lab.server
    lab.server = server = main.network.serve(auth=TokenIssuer(lifetime=30.0, secret=b"course"))
    login = _Login(lab, server, fresh=2)
    driver = _Driver(lab, _new(cls, POLICY), token=login, max_connects=8)

    def forge() -> str:
        lab.note("client: a forged token", "fault")
        return "not-a-token-the-server-issued"

    forged = _Driver(lab, _new(cls, POLICY), token=forge, max_connects=4)
    try:
        task = loop.create_task(driver.run(), name="wslearn-driver")
        await lab.until(task.done, 200.0)
        await stop(task)
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        second = loop.create_task(forged.run(), name="wslearn-driver")
        await lab.until(second.done, 30.0)
        await stop(second)
        if not second.cancelled() and second.exception() is not None:
            raise second.exception()  # type: ignore[misc]
    finally:
        lab.server = main
        await lab.close_everything()
        server.stop()
    actual = _timeline(lab)
    if actual != EXPECTED_TOKEN:
        kind, detail = _token_mistake([d for _, _, d in driver.decisions],
                                      [d for _, _, d in forged.decisions], driver.refreshes)
        raise Failed(kind, detail, EXPECTED_TOKEN, actual)
    return Verdict(EXPECTED_TOKEN, actual, f"{driver.refreshes} refreshes, then give-up; the "
                   "forged token: give-up")


EXPECTED_OUTAGES = """\
t=   0.0s  connect #1 open
t=  20.0s  server: stopped (1001 going away)
t=  20.0s  #1 lost (1001)
t=  20.0s  closed(1001) -> retry in 1.0s
t=  21.0s  connect #2 failed (connection refused)
t=  21.0s  closed(1006) -> retry in 2.0s
t=  23.0s  connect #3 failed (connection refused)
t=  23.0s  closed(1006) -> retry in 4.0s
t=  27.0s  connect #4 failed (connection refused)
t=  27.0s  closed(1006) -> retry in 8.0s
t=  30.0s  server: started again
t=  35.0s  connect #5 open
t= 100.0s  server: refuse handshakes (HTTP 503), drop all (1006)
t= 100.0s  #5 lost (1006)
t= 100.0s  closed(1006) -> retry in 1.0s
t= 101.0s  connect #6 failed (HTTP 503)
t= 101.0s  closed(1006) -> retry in 2.0s
t= 103.0s  connect #7 failed (HTTP 503)
t= 103.0s  closed(1006) -> retry in 4.0s
t= 107.0s  connect #8 failed (HTTP 503)
t= 107.0s  closed(1006) -> retry in 8.0s
t= 115.0s  connect #9 failed (HTTP 503)
t= 115.0s  closed(1006) -> retry in 16.0s
t= 131.0s  connect #10 failed (HTTP 503)
t= 131.0s  closed(1006) -> give-up"""


@EXERCISE.scenario("two outages in a row: stop() and start(), then a long connection, then "
                   "refused for good -- the second outage gets every retry again", real=True)
async def outages(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    driver = _Driver(lab, _new(cls, POLICY), max_connects=20)
    task = asyncio.get_running_loop().create_task(driver.run(), name="wslearn-driver")
    try:
        await lab.until(lambda: lab.opens >= 1, 5.0)
        await asyncio.sleep(20.0 - lab.now())
        await lab.fault("stop", text="server: stopped (1001 going away)")
        await asyncio.sleep(30.0 - lab.now())
        if not task.done():
            await lab.fault("start", text="server: started again")
        await asyncio.sleep(100.0 - lab.now())
        if not task.done():
            await lab.fault("refuse", text="server: refuse handshakes (HTTP 503), drop all (1006)")
            await lab._server_call("drop_all")
        await lab.until(task.done, 100.0)
    finally:
        await stop(task)
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    actual = _timeline(lab, 30)
    if actual != EXPECTED_OUTAGES:
        delays = driver.retry_delays()
        first, later = delays[:4], delays[4:]
        if first != POLICY.delays()[:4]:
            kind = _diagnose_outage(first, POLICY, None)
            if driver.ended == "give-up" and len(delays) < 4:
                kind = "gives-up-on-outage" if not delays else "off-by-one-limit"
            detail = ("the first outage (stop, 10 s down, start): waits "
                      + ", ".join(fmt_seconds(d) for d in first) + ", expected 1, 2, 4, 8")
        else:
            kind = ("no-reset" if later[:1] != [POLICY.delay(1)]
                    else _diagnose_outage(later, POLICY, driver.ended))
            detail = ("after 65 s up, the second outage: waits "
                      + ", ".join(fmt_seconds(d) for d in later[:8])
                      + f" then {driver.ended}; expected 1, 2, 4, 8, 16 then give-up")
        raise Failed(kind, detail, EXPECTED_OUTAGES, actual)
    return Verdict(EXPECTED_OUTAGES, actual)


# -- pure scenarios: the edges, with exact numbers --------------------------------------------


@dataclass(frozen=True)
class _Close:
    code: int
    t: float
    want: Decision
    kind: str  # the mistake a different answer shows
    why: str
    #: the mistake when it gives up here instead (default: ``kind``)
    gave_up: str | None = None


@dataclass(frozen=True)
class _Open:
    t: float


def _retry(delay: float) -> Decision:
    return Decision("retry", delay)


GIVE_UP = Decision("give-up", 0.0)
REFRESH = Decision("refresh", 0.0)


def _play(cls: type, policy: BackoffPolicy, steps: list[_Open | _Close]) -> Verdict:
    """Feed ``steps`` to a fresh ``cls(policy)``; fail at the first different decision."""
    rules = _new(cls, policy)
    expected: list[str] = []
    actual: list[str] = []
    wrong: tuple[_Close, Decision] | None = None
    for step in steps:
        stamp = f"t={fmt_seconds(step.t):>6}s  "
        if isinstance(step, _Open):
            rules.opened(step.t)
            expected.append(stamp + "opened")
            actual.append(stamp + "opened")
            continue
        got = _decide(rules, step.code, step.t)
        expected.append(stamp + f"closed({step.code}) -> {step.want.text()}")
        actual.append(stamp + f"closed({step.code}) -> {got.text()}")
        if wrong is None and (got.action, got.action == "retry" and got.delay) != (
                step.want.action, step.want.action == "retry" and step.want.delay):
            wrong = (step, got)
    if wrong is not None:
        step, got = wrong
        kind = step.gave_up if got.action == "give-up" and step.gave_up else step.kind
        raise Failed(kind, f"closed({step.code}) at t={fmt_seconds(step.t)} -> "
                     f"{got.text()}, expected {step.want.text()}: {step.why}",
                     "\n".join(expected), "\n".join(actual))
    return Verdict("\n".join(expected), "\n".join(actual))


PURE_CODES = [1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
              1014, 3000, 3999, 4000, 4403, 4404, 4999]


@EXERCISE.scenario("every close code after a stable connection, as chapter 11's table "
                   "(RECOMMENDED) decides", network=False)
async def codes_table(lab: Lab | None, cls: Any) -> Verdict:
    expected: list[str] = []
    actual: list[str] = []
    wrong: tuple[int, Decision] | None = None
    for code in PURE_CODES:
        rules = _new(cls, POLICY)
        rules.opened(0.0)
        got = _decide(rules, code, 10.0)
        want = RECOMMENDED.decide(code)
        want_text = f"retry in {fmt_seconds(POLICY.delay(1))}s" if want is CloseAction.RETRY \
            else want.value
        expected.append(f"{code}: {want_text}")
        actual.append(f"{code}: {got.text()}")
        if actual[-1] != expected[-1] and wrong is None:
            wrong = (code, got)
    if wrong is not None:
        code, got = wrong
        raise Failed(_code_kind(code, got), f"closed({code}) -> {got.text()}, expected "
                     f"{expected[PURE_CODES.index(code)].split(': ', 1)[1]}",
                     "\n".join(expected), "\n".join(actual))
    return Verdict("\n".join(expected), "\n".join(actual))


@EXERCISE.scenario("minimum uptime: a connection lost before 5 s up continues the count; "
                   "5 s up resets it; a failed connect was never up", network=False)
async def uptime(lab: Lab | None, cls: Any) -> Verdict:
    return _play(cls, POLICY, [
        _Open(0.0),
        _Close(1011, 4.5, _retry(1.0), "wrong-delay", "the first retry waits policy.delay(1)"),
        _Open(5.5),
        _Close(1006, 10.0, _retry(2.0), "resets-on-open",
               "up 4.5 s, less than min_uptime: the outage goes on, attempt 2"),
        _Open(12.0),
        _Close(1006, 42.0, _retry(1.0), "no-reset",
               "up 30 s: the connection was stable, so a new outage starts at attempt 1"),
        _Open(43.0),
        _Close(1011, 44.0, _retry(2.0), "resets-on-open", "up 1 s: attempt 2"),
        _Open(46.0),
        _Close(1012, 51.0, _retry(1.0), "uptime-wrong",
               "up exactly min_uptime (5 s): stable, so a new outage starts at attempt 1"),
        _Close(1006, 52.0, _retry(2.0), "uptime-wrong",
               "a failed connect (no opened() since the last close) was never up: attempt 2"),
        _Open(54.0),
        _Close(1006, 55.0, _retry(4.0), "uptime-wrong",
               "up 1 s, measured from the latest open: attempt 3"),
    ])


@EXERCISE.scenario("the attempt limit: the first connect and 5 retries fail, then give up",
                   network=False)
async def limit(lab: Lab | None, cls: Any) -> Verdict:
    steps: list[_Open | _Close] = []
    t = 0.0
    for k, delay in enumerate(POLICY.delays(), 1):
        steps.append(_Close(1006, t, _retry(delay), "wrong-delay",
                            f"retry {k} waits policy.delay({k})",
                            "off-by-one-limit" if k > 1 else "gives-up-on-outage"))
        t += delay
    steps.append(_Close(1006, t, GIVE_UP, "never-gives-up",
                        "retry 5 (policy.max_attempts) failed: give up"))
    try:
        return _play(cls, POLICY, steps)
    except Failed as exc:
        if exc.kind == "never-gives-up" and _retries(cls, POLICY) == 6:
            exc.kind = "off-by-one-limit"
            exc.detail += " (it gives up one failure later: 6 retries)"
        raise


def _retries(cls: type, policy: BackoffPolicy, most: int = 12) -> int | None:
    """How many failed connects in a row a fresh ``cls(policy)`` retries (None: > most)."""
    rules = _new(cls, policy)
    for n in range(most):
        if _decide(rules, 1006, float(n)).action != "retry":
            return n
    return None


OTHER = BackoffPolicy(base=0.5, factor=3.0, cap=10.0, max_attempts=3, min_uptime=2.0)


@EXERCISE.scenario("another policy (0.5, 1.5, 4.5 s; 3 attempts; stable after 2 s): the "
                   "rules read it, no numbers are built in", network=False)
async def other_policy(lab: Lab | None, cls: Any) -> Verdict:
    return _play(cls, OTHER, [
        _Open(0.0),
        _Close(1011, 1.0, _retry(0.5), "ignores-policy", "policy.delay(1) is 0.5 s here"),
        _Close(1006, 1.5, _retry(1.5), "ignores-policy", "policy.delay(2) is 1.5 s here"),
        _Open(3.0),
        _Close(1011, 5.0, _retry(0.5), "ignores-policy",
               "up 2 s = this policy's min_uptime: a new outage"),
        _Close(1006, 5.5, _retry(1.5), "ignores-policy", "retry 2"),
        _Close(1006, 7.0, _retry(4.5), "ignores-policy", "retry 3"),
        _Close(1006, 11.5, GIVE_UP, "ignores-policy",
               "retry 3 = this policy's max_attempts failed: give up"),
    ])


@EXERCISE.scenario("4401 twice: a refresh is proven only by a stable connection, and it "
                   "spends no attempt", network=False)
async def refresh_rules(lab: Lab | None, cls: Any) -> Verdict:
    _play(cls, POLICY, [
        _Open(0.0),
        _Close(1011, 1.0, _retry(1.0), "wrong-delay", "a flap: retry 1"),
        _Open(2.0),
        _Close(4401, 2.5, REFRESH, "backs-off-on-4401", "an expired token: refresh, at once"),
        _Open(2.5),
        _Close(1011, 3.0, _retry(2.0), "wrong-delay",
               "the refresh neither spends nor resets an attempt: retry 2"),
        _Open(5.0),
        _Close(4401, 6.0, GIVE_UP, "refreshes-forever",
               "a 4401 again, and no stable connection since the refresh: give up"),
    ])
    return _play(cls, POLICY, [
        _Open(0.0),
        _Close(4401, 30.0, REFRESH, "backs-off-on-4401", "an expired token: refresh"),
        _Open(30.0),
        _Close(4401, 60.0, REFRESH, "refresh-never-reset",
               "30 s up proved the refresh: this is a new expiry, refresh again"),
        _Open(60.0),
        _Close(4401, 60.0, GIVE_UP, "refreshes-forever",
               "the fresh token is refused at once: give up"),
    ])


# The pure scenarios pin each rule with exact numbers and name the mistake most precisely:
# they run first (the first failure picks the hint), then the attacks on the server.
EXERCISE.scenarios.sort(key=lambda s: s.network)
