"""wslearn.lessons.naive: the seed's wrong clients, wrong in exactly the documented way."""

from __future__ import annotations

import asyncio

import pytest

import wslearn
from wslearn import SimNetwork, run_virtual
from wslearn.lessons.naive import OneShotSocket, seed_keep_connected, until


async def _flaky(reset: bool, blips: int = 6) -> tuple[int, wslearn.Timeline | None]:
    net = SimNetwork()
    server = net.serve()
    task = asyncio.create_task(
        seed_keep_connected(server.url(), dialer=net.dialer, reset_on_success=reset)
    )
    drops = 0
    for _ in range(blips):
        await asyncio.sleep(600)
        drops += server.drop_all()
    await asyncio.sleep(60)
    timeline = task.result() if task.done() else None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    server.stop()
    return drops, timeline


def test_seed_max_attempts_gives_up_on_a_healthy_server() -> None:
    drops, timeline = run_virtual(_flaky(reset=False), limit=4000)
    assert drops == 6
    assert timeline is not None
    assert timeline.kinds().count("connected") == 6  # every reconnect worked
    assert timeline.kinds()[-1] == "gave-up"
    assert [e.delay for e in timeline if e.delay] == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_reset_on_success_keeps_going() -> None:
    drops, timeline = run_virtual(_flaky(reset=True), limit=4000)
    assert drops == 6
    assert timeline is None  # still running after the hour


def test_seed_max_attempts_against_a_down_server_gives_up_after_5() -> None:
    async def main() -> tuple[int, list[str]]:
        net = SimNetwork()
        server = net.serve()
        server.refuse()
        timeline = await seed_keep_connected(server.url(), dialer=net.dialer)
        count = server.handshake_attempts
        server.stop()
        return count, timeline.kinds()

    count, kinds = run_virtual(main())
    assert count == 6  # the first connect + 5 retries
    assert kinds.count("attempt") == 5
    assert kinds[-1] == "gave-up"


def test_one_shot_socket_stays_dead() -> None:
    async def main() -> None:
        server = wslearn.serve()
        try:
            sock = await OneShotSocket(server.url(topics=["a"])).open()
            assert sock.ready_state == "OPEN"
            await until(lambda: server.connection_count == 1)
            server.publish("a", "x", n=1)
            await until(lambda: sock.received == 1)
            server.stop()
            await until(lambda: sock.ready_state == "CLOSED")
            server.start()
            server.reset_counters()
            await asyncio.sleep(0.2)
            assert sock.ready_state == "CLOSED"
            assert server.handshake_attempts == 0
            await sock.close()
        finally:
            server.stop()

    asyncio.run(main())


def test_one_shot_socket_failed_open_is_logged() -> None:
    async def main() -> OneShotSocket:
        net = SimNetwork()
        server = net.serve()
        server.refuse()
        sock = await OneShotSocket(server.url(), dialer=net.dialer).open()
        server.stop()
        return sock

    sock = run_virtual(main())
    assert sock.ready_state == "CLOSED"
    assert sock.log[0] == "onerror: Connection failed (HTTP 503)"


def test_until_times_out() -> None:
    async def main() -> None:
        await until(lambda: False, timeout=0.05, what="never")

    with pytest.raises(TimeoutError, match="never"):
        asyncio.run(main())
