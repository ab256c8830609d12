"""How fast is the client, in simulation and on the real network?

1. **Checker-style outage under virtual time.** The server stops; the client makes its 5
   attempts (1, 2, 4, 8, 16 s) and gives up -- 31 s of real time in a browser. Here the
   same ``Client`` driver runs against ``SimNetwork`` under ``run_virtual``; we time it
   (median of several runs) and print how many times faster than real time it is.
2. **Messages per second through dispatch + cache invalidation.** A real in-kernel
   server (``serve()``) pushes a burst of events; the client decodes each, dispatches it
   to a handler and invalidates the bound query (which refetches, since it is active).
   The same burst is also measured on the in-memory network for comparison.

Usage: ``python bench/client.py [--runs 20] [--messages 5000]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wslearn.app import App, WebSocket
from wslearn.cache import QueryCache
from wslearn.client import Client
from wslearn.clock import run_virtual
from wslearn.server import serve
from wslearn.simnet import SimNetwork

REAL_OUTAGE_SECONDS = 31.0


async def outage() -> str:
    """What an exercise checker does: connect, stop the server, wait for the verdict."""
    net = SimNetwork()
    server = net.serve()
    async with Client(server.url(topics=["news"]), dialer=net.dialer) as client:
        server.stop()
        await client.wait_for("disconnected")
        assert [e.t for e in client.timeline.where("attempt")] == [1, 3, 7, 15, 31]
    return client.timeline.to_text()


def bench_outage(runs: int) -> None:
    timings = []
    texts = set()
    for _ in range(runs):
        start = time.perf_counter()
        texts.add(run_virtual(outage, strict=True))
        timings.append(time.perf_counter() - start)
    median = statistics.median(timings)
    print(f"virtual-time outage (5 attempts, 31 s planned), {runs} runs:")
    print(f"  median {median * 1000:.2f} ms, min {min(timings) * 1000:.2f} ms, "
          f"max {max(timings) * 1000:.2f} ms")
    print(f"  {REAL_OUTAGE_SECONDS / median:,.0f}x faster than real time "
          f"({REAL_OUTAGE_SECONDS:g} s); identical timelines: {len(texts) == 1}")


def firehose_app(count: int) -> App:
    """An endpoint that pushes ``count`` events as fast as the socket takes them."""
    app = App()

    @app.websocket("/ws")
    async def firehose(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()  # "go"
        for i in range(count):
            await websocket.send_text(f'{{"type":"news.posted","topic":"news","id":{i}}}')
        async for _ in websocket.iter_text():
            pass

    return app


async def burst(client: Client, count: int) -> float:
    """Send "go", wait for ``count`` handled messages; return seconds (loop time)."""
    handled = 0
    done = asyncio.get_running_loop().create_future()

    def on_posted(data: dict) -> None:
        nonlocal handled
        handled += 1
        if handled == count and not done.done():
            done.set_result(None)

    client.on("news.posted", on_posted)
    start = time.perf_counter()
    await client.send({"type": "go"})
    await asyncio.wait_for(done, 60)
    return time.perf_counter() - start


def make_cache() -> QueryCache:
    cache = QueryCache()
    cache.define(("news",), lambda: "headlines")
    cache.bind("news.posted", ("news",))
    cache.observe(("news",))  # active: every push refetches
    return cache


async def bench_real(count: int) -> tuple[float, int]:
    server = await asyncio.to_thread(serve, firehose_app(count))
    try:
        cache = make_cache()
        async with Client(server.url(), cache=cache) as client:
            seconds = await burst(client, count)
        return seconds, cache.fetch_count(("news",)) - 1
    finally:
        await asyncio.to_thread(server.stop)


async def bench_sim(count: int) -> tuple[float, int]:
    net = SimNetwork()
    server = net.serve(firehose_app(count))
    cache = make_cache()
    async with Client(server.url(), dialer=net.dialer, cache=cache) as client:
        seconds = await burst(client, count)
    server.stop()
    return seconds, cache.fetch_count(("news",)) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()

    bench_outage(args.runs)

    seconds, refetches = asyncio.run(bench_real(args.messages))
    print(f"real server, {args.messages} pushes -> decode + dispatch + invalidate:")
    print(f"  {args.messages / seconds:,.0f} messages/s ({seconds * 1000:.0f} ms, "
          f"{refetches} refetches)")
    seconds, refetches = run_virtual(bench_sim(args.messages), strict=True)
    print(f"in-memory network, same burst: {args.messages / seconds:,.0f} messages/s "
          f"({refetches} refetches)")


if __name__ == "__main__":
    main()
