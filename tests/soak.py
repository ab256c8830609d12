"""The soak of issue 12: chapters 03-09's faults, in order, against many real clients.

Shared by ``tests/test_soak.py`` (200 clients, asserts) and ``bench/soak.py`` (prints the
figures). One *cycle* starts a fleet of ``wslearn.Client`` on a real keyed server and
plays the course's fault sequence; between faults every client must be connected and
must receive every event published to its topics -- none lost, none twice:

* ch. 03 ``restart()`` (1012) -> every client reconnects with backoff;
* ch. 04 ``stop()``, a short outage, ``start()``; then ``refuse()`` + ``drop_all(1012)``
  -> handshakes answered 503 for a while, ``accept_again()``;
* ch. 05 ``freeze()`` -> the heartbeat finds the half-open connections, ``thaw()``;
* ch. 06 bad frames from a third of the clients -> each gets an error, nobody drops;
* ch. 07 ``subscribe``/``unsubscribe`` of an extra topic on every other client;
* ch. 08 pushes that invalidate (every verification round publishes);
* ch. 09 ``drop_all()`` (1006, the pulled cable) -> reconnect.

Then the fleet closes and the server must hold nothing for it. Memory is measured
between cycles (no client alive): after the first cycle (warm-up) and after the last.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from wslearn.backoff import BackoffPolicy
from wslearn.client import Client
from wslearn.heartbeat import HeartbeatPolicy
from wslearn.server import Server, serve
from wslearn.states import State
from wslearn.waiting import until

TOPICS = ("analysis", "proposals", "knowledge")
#: Events per topic in one verification round.
PER_ROUND = 3


@dataclass
class SoakResult:
    clients: int
    cycles: int
    rounds: int = 0
    published: int = 0
    delivered: int = 0
    missing: list[str] = field(default_factory=list)
    duration: float = 0.0
    blocks: list[int] = field(default_factory=list)  #: allocated blocks after each cycle
    rss_kib: list[int] = field(default_factory=list)  #: resident set after each cycle
    server_errors: list[str] = field(default_factory=list)
    frames_lost: int = 0
    reconnected_mid_round: int = 0  #: heartbeat false alarms on a busy machine

    def summary(self) -> str:
        growth = self.blocks[-1] - self.blocks[0] if len(self.blocks) > 1 else 0
        return (
            f"clients {self.clients}, cycles {self.cycles}, verification rounds {self.rounds}\n"
            f"events published {self.published}, delivered to connected clients "
            f"{self.delivered}, lost {len(self.missing)}\n"
            f"memory after warm-up: {self.blocks[0]} blocks, {self.rss_kib[0]} KiB RSS; "
            f"after the last cycle: {self.blocks[-1]} blocks ({growth:+d}), "
            f"{self.rss_kib[-1]} KiB RSS\n"
            f"duration {self.duration:.1f} s, server errors {len(self.server_errors)}, "
            f"frames lost to faults {self.frames_lost}, clients that reconnected during a "
            f"round (not counted) {self.reconnected_mid_round}"
        )


def _rss_kib() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class _Fleet:
    def __init__(self, server: Server, n: int) -> None:
        self.server = server
        policy = BackoffPolicy(base=0.05, factor=2, cap=0.4, max_attempts=None)
        heartbeat = HeartbeatPolicy(interval=1.0, timeout=1.0)
        self.got: list[dict[str, list[int]]] = [defaultdict(list) for _ in range(n)]
        self.clients = [
            Client(server.url(), topics=[TOPICS[i % len(TOPICS)]], policy=policy,
                   heartbeat=heartbeat, open_timeout=5.0)
            for i in range(n)
        ]
        #: State changes per client: a client that left CONNECTED during a round was not
        #: "a connected client" for that round (on a busy machine a late pong is a lost
        #: heartbeat), so what it missed is not counted as lost -- only reported.
        self.changes = [0] * n
        for i, client in enumerate(self.clients):
            client.on("soak.event", self._handler(i))
            client.add_listener(self._counter(i))
        self.round = 0

    def _counter(self, i: int) -> Any:
        def count(kind: str, payload: Any) -> None:
            if kind == "state":
                self.changes[i] += 1

        return count

    def _handler(self, i: int) -> Any:
        got = self.got[i]

        def handle(message: dict[str, Any]) -> None:
            got[message["topic"]].append(message["n"])

        return handle

    async def all_connected(self, what: str) -> None:
        n = len(self.clients)
        hub = self.server.app.state.hub

        def ready() -> bool:
            if not all(c.state is State.CONNECTED for c in self.clients):
                return False
            # The server's view must match: the same multiset of topic sets (ids differ).
            server_view = sorted(tuple(sorted(t)) for t in hub.subscriptions().values())
            return server_view == sorted(tuple(sorted(c.topics)) for c in self.clients)

        await until(ready, 60, what=f"all {n} clients connected and subscribed ({what})")

    async def verify_round(self, result: SoakResult) -> None:
        """Publish PER_ROUND events per topic; every client must get exactly its own."""
        self.round += 1
        result.rounds += 1
        base = self.round * 1000
        for got in self.got:
            got.clear()
        before = list(self.changes)
        for k in range(PER_ROUND):
            for topic in TOPICS:
                await asyncio.to_thread(self.server.publish, topic, "soak.event", n=base + k)
                result.published += 1
        want = [base + k for k in range(PER_ROUND)]

        def stayed(i: int) -> bool:
            return self.changes[i] == before[i]

        def complete() -> bool:
            return all(got.get(t) == want for i, (c, got) in
                       enumerate(zip(self.clients, self.got, strict=True))
                       for t in c.topics if stayed(i))

        try:
            await until(complete, 60, what=f"round {self.round}: every event delivered")
        except TimeoutError:
            for i, (client, got) in enumerate(zip(self.clients, self.got, strict=True)):
                for topic in client.topics:
                    if got.get(topic) != want and stayed(i):
                        result.missing.append(f"client {i} {topic}: {got.get(topic)}")
        result.reconnected_mid_round += sum(not stayed(i) for i in range(len(self.clients)))
        for client, got in zip(self.clients, self.got, strict=True):
            extra = set(got) - set(client.topics)
            if extra:
                result.missing.append(f"events of topics it does not have: {extra}")
            result.delivered += sum(len(got.get(t, [])) for t in client.topics)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients))


async def _cycle(server: Server, n: int, result: SoakResult) -> None:
    fleet = _Fleet(server, n)
    call = asyncio.to_thread
    try:
        await asyncio.gather(*(c.connect() for c in fleet.clients))
        await fleet.all_connected("start")
        await fleet.verify_round(result)
        # ch. 03: restart
        await call(server.restart)
        await fleet.all_connected("after restart")
        await fleet.verify_round(result)
        # ch. 04: an outage, then a refusing server
        await call(server.stop)
        await asyncio.sleep(0.2)
        await call(server.start)
        await fleet.all_connected("after an outage")
        await call(server.refuse)
        await call(server.drop_all, 1012)
        await asyncio.sleep(0.2)
        await call(server.accept_again)
        await fleet.all_connected("after refuse")
        await fleet.verify_round(result)
        # ch. 05: a half-open server; the heartbeat notices (within interval + timeout)
        await call(server.freeze)
        await until(lambda: all(c.state is not State.CONNECTED for c in fleet.clients), 30,
                    what="every heartbeat to notice the frozen server")
        await call(server.thaw)
        await fleet.all_connected("after freeze")
        await fleet.verify_round(result)
        # ch. 06: bad frames are answered, nobody is dropped
        await asyncio.gather(*(c.send("{not json") for c in fleet.clients[::3]))
        await fleet.verify_round(result)
        # ch. 07: subscriptions change while connected
        extra = fleet.clients[::2]
        for i, client in enumerate(extra):
            await client.subscribe(TOPICS[(i + 1) % len(TOPICS)])
        await fleet.all_connected("after subscribe")
        await fleet.verify_round(result)
        for i, client in enumerate(extra):
            await client.unsubscribe(TOPICS[(i + 1) % len(TOPICS)])
        await fleet.all_connected("after unsubscribe")
        await fleet.verify_round(result)
        # ch. 09: the pulled cable
        await call(server.drop_all)
        await fleet.all_connected("after drop_all")
        await fleet.verify_round(result)
    finally:
        await fleet.close()
    await server.wait_for_connections(0, timeout=30)
    hub = server.app.state.hub
    await until(lambda: not hub.subscriptions(), 10, what="the hub to forget every client")


async def run_soak(clients: int = 200, cycles: int = 3) -> SoakResult:
    """Run the soak; return its figures (assertions are the caller's)."""
    result = SoakResult(clients, cycles)
    started = time.perf_counter()
    server = serve()
    try:
        for _ in range(cycles):
            await _cycle(server, clients, result)
            gc.collect()
            result.blocks.append(sys.getallocatedblocks())
            result.rss_kib.append(_rss_kib())
    finally:
        await asyncio.to_thread(server.stop)
    result.duration = time.perf_counter() - started
    result.server_errors = server.errors
    result.frames_lost = server.frames_lost
    hub = server.app.state.hub
    assert not hub._subscribers and not hub._topics and not hub._waiters, "hub kept entries"
    return result
