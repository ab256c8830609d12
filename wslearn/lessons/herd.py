"""The thundering herd (chapter 03, beyond the seed): many clients, one restarted server.

When a server restarts, every client loses its connection *in the same instant*. With
the seed's schedule (1, 2, 4, 8, 16 s, no jitter) they all retry in the same instants
too, so the server that just came back receives every handshake at once. Jitter
(``BackoffPolicy(jitter="full")``) spreads them out.

``thundering_herd()`` measures it instead of asserting it: it runs ``clients`` real
``Client`` drivers against the in-memory server of ``wslearn.simnet`` under virtual
time (``run_virtual``: a 30-second outage of 200 clients takes a fraction of a real
second), stops the server, starts it again ``down_for`` seconds later, and records the
virtual time of **every handshake the server sees**. Client ``i`` uses seed
``seed + i``, so the whole run is deterministic: same arguments, same numbers.

Used from a notebook cell::

    none = thundering_herd(200, jitter="none")
    full = thundering_herd(200, jitter="full")
    herd_histogram([none, full])
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from ..backoff import BackoffPolicy, Jitter
from ..charts import Histogram, histogram
from ..client import Client
from ..clock import run_virtual
from ..simnet import SimNetwork
from ..states import State

__all__ = ["HerdRun", "herd_histogram", "thundering_herd"]


@dataclass(frozen=True)
class HerdRun:
    """What the restarted server saw: handshake arrival times, in seconds after the stop."""

    clients: int
    jitter: str
    down_for: float
    policy: BackoffPolicy
    #: Virtual seconds (after the stop) of every handshake the server saw, sorted.
    arrivals: tuple[float, ...]
    #: Per client: seconds after the stop when it was connected again (None: gave up).
    back_at: tuple[float | None, ...]

    @property
    def name(self) -> str:
        return "no jitter" if self.jitter == "none" else f"{self.jitter} jitter"

    @property
    def gave_up(self) -> int:
        """Clients that used up every attempt before the server came back."""
        return sum(1 for t in self.back_at if t is None)

    @property
    def last_back(self) -> float:
        """When the last client that came back was connected again."""
        return max((t for t in self.back_at if t is not None), default=0.0)

    def peak(self, window: float = 0.1) -> int:
        """The most handshakes that arrived within one ``window`` (seconds, aligned bins)."""
        counts: dict[int, int] = {}
        for t in self.arrivals:
            k = int(t / window + 1e-9)
            counts[k] = counts.get(k, 0) + 1
        return max(counts.values(), default=0)

    def summary(self, window: float = 0.1) -> str:
        """One stable line: peak load, total handshakes, recovery time, clients lost."""
        return (
            f"{self.name:<12} peak {self.peak(window):>3} handshakes in one {window:g} s window; "
            f"{len(self.arrivals)} handshakes in all; last client back at "
            f"{self.last_back:.1f} s; gave up: {self.gave_up}"
        )

    def __repr__(self) -> str:
        return self.summary()


async def _herd(
    clients: int, policy: BackoffPolicy, down_for: float, seed: int, jitter: Jitter
) -> HerdRun:
    loop = asyncio.get_running_loop()
    net = SimNetwork()
    server = net.serve()
    arrivals: list[float] = []
    started = 0.0

    def on_event(event: str, info: object) -> None:
        if event == "handshake":
            arrivals.append(round(loop.time() - started, 6))

    herd = [
        Client(
            server.url(),
            policy=BackoffPolicy(
                base=policy.base,
                factor=policy.factor,
                cap=policy.cap,
                max_attempts=policy.max_attempts,
                jitter=jitter,
                seed=seed + i,
            ),
            dialer=net.dialer,
        )
        for i in range(clients)
    ]
    try:
        for client in herd:
            await client.connect()
        server.add_listener(on_event)
        started = loop.time()
        server.stop()
        await asyncio.sleep(down_for)
        server.start()
        back: list[float | None] = []
        for client in herd:
            # wait_for("connected") would wait forever on a client that already gave up.
            if client.state is not State.DISCONNECTED:
                with contextlib.suppress(ConnectionError):
                    await client.wait_for("connected")
            if client.state is State.CONNECTED:
                back.append(client.timeline.where("connected")[-1].t)
            else:
                back.append(None)
    finally:
        for client in herd:
            await client.close()
        server.stop()
    return HerdRun(
        clients=clients,
        jitter=jitter,
        down_for=down_for,
        policy=policy,
        arrivals=tuple(sorted(arrivals)),
        back_at=tuple(back),
    )


def thundering_herd(
    clients: int = 200,
    *,
    jitter: Jitter = "none",
    down_for: float = 10.0,
    policy: BackoffPolicy | None = None,
    seed: int = 0,
) -> HerdRun:
    """Stop a server holding ``clients`` connections, start it ``down_for`` s later, measure.

    ``policy`` gives base/factor/cap/max_attempts (default: the seed's 1, 2, 4, 8, 16 s
    with 5 attempts); ``jitter`` overrides its jitter; client ``i`` is seeded with
    ``seed + i``. Runs under virtual time; safe to call from a notebook cell.
    """
    if not isinstance(clients, int) or clients < 1:
        raise ValueError(f"clients must be an int >= 1, got {clients!r}")
    if down_for <= 0:
        raise ValueError(f"down_for must be > 0 seconds, got {down_for!r}")
    base = policy if policy is not None else BackoffPolicy()
    return run_virtual(_herd(clients, base, float(down_for), seed, jitter), limit=3600.0)


def herd_histogram(
    runs: list[HerdRun], *, bin_width: float = 0.5, start: float = 0.0, stop: float | None = None
) -> Histogram:
    """Handshake arrivals per ``bin_width`` seconds, one row per run, on one time axis.

    ``start`` / ``stop`` bound the axis (seconds after the stop); the server cannot see
    anything before ``down_for``, so ``start=down_for`` drops the empty bins.
    """
    if not runs:
        raise ValueError("herd_histogram() needs at least one HerdRun")
    end = stop if stop is not None else max(max(r.arrivals, default=0.0) for r in runs)
    clients = runs[0].clients
    return histogram(
        {r.name: r.arrivals for r in runs},
        bin_width=bin_width,
        start=start,
        stop=end,
        title=f"Handshakes reaching the restarted server ({clients} clients)",
        xlabel="seconds after the server stopped",
    )
