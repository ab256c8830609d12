"""Benchmark: the wslearn server against a bare ``websockets`` server doing the same work.

Run: ``.venv/bin/python bench/server.py`` (add ``--quick`` for a smoke run).

Both servers run the same way -- in a background thread with their own event loop,
``compression=None``, no server keepalive -- and are driven by the same clients
(``websockets`` clients on this thread's loop), alternating rounds so that noise
from other processes hits both alike. Measured:

* echo round trip (one client, one frame at a time): p50 and p99;
* fan-out: one publish to 1, 100 and 1000 subscribers, repeated, until every
  subscriber got every event: messages delivered per second. A publish comes from
  another thread, as in a notebook (``server.publish`` / ``call_soon_threadsafe``).
* server-side cost of one publish to N subscribers (inside the server loop).

Ratios are "wslearn / bare" as performance (higher is better; 1.0 = as fast as
bare ``websockets``); the target is >= 0.8 on each line.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

import wslearn.server
from wslearn.protocol import DEFAULT_MAX_SIZE

PAYLOAD = json.dumps({"type": "ping", "data": "x" * 80})


class BareServer:
    """A plain ``websockets`` server with the same behaviour as ``topic_app``'s hot paths.

    ``/echo`` echoes; ``/ws?topics=...`` sends a welcome and receives events, which
    ``publish`` encodes once and writes with ``websockets.broadcast``.
    """

    def __init__(self) -> None:
        self.subscribers: dict[str, set[ServerConnection]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self._stop: asyncio.Future[None] | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main(ready)),
                                       name="bare-server")
        self.thread.start()
        ready.wait(10)

    async def _main(self, ready: threading.Event) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = self.loop.create_future()
        async with serve(self._handler, "127.0.0.1", 0, compression=None, ping_interval=None,
                         max_size=DEFAULT_MAX_SIZE) as server:
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stop

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path, _, query = ws.request.path.partition("?")
        if path == "/echo":
            async for message in ws:
                await ws.send(message)
            return
        topics = [t for t in dict(parse_qsl(query)).get("topics", "").split(",") if t]
        await ws.send(json.dumps({"type": "welcome", "topics": topics}))
        for topic in topics:
            self.subscribers.setdefault(topic, set()).add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            for topic in topics:
                self.subscribers[topic].discard(ws)

    def _publish_here(self, topic: str, type: str, **fields: Any) -> int:
        text = json.dumps({"type": type, "topic": topic, **fields}, separators=(",", ":"))
        subscribers = self.subscribers.get(topic, set())
        broadcast(subscribers, text)
        return len(subscribers)

    def publish(self, topic: str, type: str, **fields: Any) -> int:
        return self.call(self._publish_here, topic, type, **fields)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        assert self.loop is not None
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(10)

    def url(self, path: str = "/ws", topics: list[str] | None = None) -> str:
        query = f"?topics={','.join(topics)}" if topics else ""
        return f"ws://127.0.0.1:{self.port}{path}{query}"

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set_result, None)
        self.thread.join(10)


class Wslearn:
    """The same interface over ``wslearn.serve()`` (the topic app)."""

    def __init__(self) -> None:
        self.server = wslearn.server.serve()

    def url(self, path: str = "/ws", topics: list[str] | None = None) -> str:
        return self.server.url(path, topics=topics)

    def publish(self, topic: str, type: str, **fields: Any) -> int:
        return self.server.publish(topic, type, **fields)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.server._call(fn, "bench", *args)

    def _publish_here(self, topic: str, type: str, **fields: Any) -> int:
        return self.server.app.state.hub.publish(topic, type, **fields)

    def stop(self) -> None:
        self.server.stop()


# -- measurements -------------------------------------------------------------------------------


async def echo_latencies(targets: dict[str, Any], blocks: int,
                         per_block: int = 100) -> dict[str, list[float]]:
    """Round trips, alternating short blocks between servers so both see the same noise."""
    clients = {name: await connect(t.url("/echo"), compression=None, ping_interval=None)
               for name, t in targets.items()}
    samples: dict[str, list[float]] = {name: [] for name in targets}
    try:
        for block in range(blocks + 1):
            for name, ws in clients.items():
                for _ in range(per_block):
                    start = time.perf_counter()
                    await ws.send(PAYLOAD)
                    await ws.recv()
                    if block:  # block 0 warms up
                        samples[name].append(time.perf_counter() - start)
    finally:
        for ws in clients.values():
            await ws.close()
    return samples


async def open_subscribers(target: Any, n: int) -> list[ClientConnection]:
    clients: list[ClientConnection] = []
    for start in range(0, n, 100):  # in batches: 1000 simultaneous handshakes just queue
        batch = await asyncio.gather(*(
            connect(target.url(topics=["bench"]), compression=None, ping_interval=None,
                    open_timeout=30, max_queue=None)
            for _ in range(start, min(n, start + 100))))
        clients.extend(batch)
    for client in clients:
        await client.recv()  # welcome
    return clients


async def fan_out_rate(target: Any, clients: list[ClientConnection], publishes: int) -> float:
    """Messages delivered per second for ``publishes`` publishes to all ``clients``."""

    async def drain(ws: ClientConnection) -> None:
        for _ in range(publishes):
            await ws.recv()

    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    receivers = [asyncio.ensure_future(drain(c)) for c in clients]

    def publish_all() -> None:
        for i in range(publishes):
            target.publish("bench", "bench.event", n=i)

    await loop.run_in_executor(None, publish_all)
    await asyncio.gather(*receivers)
    return len(clients) * publishes / (time.perf_counter() - start)


def server_publish_cost(target: Any, repeat: int) -> float:
    """Seconds of server-loop time per publish (the clients drain the frames later)."""

    def timed() -> float:
        start = time.perf_counter()
        for i in range(repeat):
            target._publish_here("bench", "bench.event", n=i)
        return (time.perf_counter() - start) / repeat

    return target.call(timed)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


async def run(quick: bool) -> None:
    sizes = (1, 100, 200) if quick else (1, 100, 1000)
    rounds = 2 if quick else 3
    echo_blocks = 4 if quick else 30
    raise_fd_limit(4 * max(sizes) + 256)
    names = ("wslearn", "bare")
    targets = {"wslearn": Wslearn(), "bare": BareServer()}
    try:
        echo = await echo_latencies(targets, echo_blocks)
        rates: dict[int, dict[str, list[float]]] = {}
        costs: dict[int, dict[str, list[float]]] = {}
        for size in sizes:
            publishes = max(10, (5_000 if quick else 40_000) // size)
            publishes = min(publishes, 2_000)
            rates[size] = {n: [] for n in names}
            costs[size] = {n: [] for n in names}
            clients = {n: await open_subscribers(targets[n], size) for n in names}
            try:
                for _ in range(rounds if size >= 1000 else rounds + 2):
                    for name in names:
                        rates[size][name].append(
                            await fan_out_rate(targets[name], clients[name], publishes))
                for _ in range(4 * rounds):  # short, interleaved, best of: noise only adds
                    for name in names:
                        repeat = 5
                        costs[size][name].append(
                            await asyncio.to_thread(server_publish_cost, targets[name], repeat))
                        await asyncio.gather(*(_drain(c, repeat) for c in clients[name]))
            finally:
                for group in clients.values():
                    await asyncio.gather(*(c.close() for c in group))
    finally:
        for target in targets.values():
            target.stop()

    print(f"wslearn server vs bare websockets {_version()} (ratio: wslearn performance / bare;"
          " higher is better, target >= 0.8)\n")
    print(f"{'measure':42} {'wslearn':>12} {'bare':>12} {'ratio':>7}")
    for label, q in (("echo round trip p50", 0.5), ("echo round trip p99", 0.99)):
        w, b = pct(echo["wslearn"], q), pct(echo["bare"], q)
        print(f"{label:42} {w * 1e6:9.0f} us {b * 1e6:9.0f} us {b / w:7.2f}")
    for size in sizes:
        w, b = max(rates[size]["wslearn"]), max(rates[size]["bare"])
        label = f"fan-out to {size:>4} subscribers (msg/s, best)"
        print(f"{label:42} {w:12.0f} {b:12.0f} {w / b:7.2f}")
    for size in sizes:
        w, b = min(costs[size]["wslearn"]), min(costs[size]["bare"])
        label = f"server time per publish to {size:>4} (us, best)"
        print(f"{label:42} {w * 1e6:12.1f} {b * 1e6:12.1f} {b / w:7.2f}")


async def _drain(ws: ClientConnection, n: int) -> None:
    for _ in range(n):
        await ws.recv()


def _version() -> str:
    import websockets

    return websockets.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    start = time.perf_counter()
    asyncio.run(run(args.quick))
    print(f"\n(finished in {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
