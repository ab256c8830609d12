"""Issue 15's faults for chapter 11 (wire protocol 3-5): a flapping server, close codes on
demand, and a handshake that never completes -- real and simulated alike."""

from __future__ import annotations

import asyncio

import pytest
from rig_support import KINDS, Rig, run
from support import arun

from wslearn.backoff import BackoffPolicy
from wslearn.client import Client
from wslearn.server import serve


@pytest.mark.parametrize("kind", KINDS)
def test_flapping_accepts_then_closes_at_once_and_counts_handshakes(kind: str) -> None:
    async def body(rig: Rig) -> None:
        server = rig.server
        steady = await rig.connect(server.url(topics=["a"]))
        await steady.recv_json()
        await rig.call(server.flap)
        assert server.flapping and "flapping" in repr(server)
        for _ in range(3):
            peer = await rig.connect(server.url(topics=["a"]))  # the handshake succeeds ...
            assert await peer.closed() == (1011, "flapping")  # ... then it closes: no welcome
        assert server.handshakes == 4
        assert await rig.publish("a") == 1  # the connection from before is untouched
        assert (await steady.recv_json())["type"] == "e"
        await rig.call(server.flap, 1012, "restarting again")
        peer = await rig.connect(server.url())
        assert await peer.closed() == (1012, "restarting again")
        await rig.call(server.steady)
        assert not server.flapping
        peer = await rig.connect(server.url())
        assert (await peer.recv_json())["type"] == "welcome"
        assert server.handshakes == 6
        server.reset_counters()  # type: ignore[attr-defined]
        assert server.handshakes == 0
        await peer.close()
        await steady.close()

    run(kind, body)


@pytest.mark.parametrize("kind", KINDS)
def test_flap_checks_its_code_and_stop_ends_it(kind: str) -> None:
    async def body(rig: Rig) -> None:
        server = rig.server
        with pytest.raises(ValueError, match="1006"):
            server.flap(1006)
        with pytest.raises(ValueError, match="1006"):
            server.flap(1005)
        await rig.call(server.flap)
        await rig.call(server.stop)
        assert not server.flapping  # a stopped-then-started server is a fresh process
        await rig.call(server.start)
        peer = await rig.connect(server.url())
        assert (await peer.recv_json())["type"] == "welcome"
        await peer.close()

    run(kind, body)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("code", "reason"), [
    (1000, "server closed the connection"), (1001, "server going away"),
    (1011, "server error (injected by drop_all)"), (1012, "server restarting"),
    (1013, "server busy: try again later"), (4401, "token expired"), (4403, "forbidden"),
    (3000, "dropped by server"), (4999, "dropped by server"),
])
def test_drop_all_sends_each_close_code_chapter_11_needs(kind: str, code: int,
                                                         reason: str) -> None:
    async def body(rig: Rig) -> None:
        peer = await rig.connect(rig.server.url())
        await peer.recv_json()
        assert await rig.call(rig.server.drop_all, code) == 1
        assert await peer.closed() == (code, reason)

    run(kind, body)


def test_frozen_server_leaves_a_handshake_without_its_101_until_thaw() -> None:
    """A frozen server accepts TCP and never answers the upgrade: the client's connect
    timeout is the only way out (the real client, real socket, real seconds)."""

    async def main() -> None:
        with serve() as server:
            await asyncio.to_thread(server.freeze)
            client = Client(server.url(), open_timeout=0.5,
                            policy=BackoffPolicy(max_attempts=1))
            await client.connect()
            await client.wait_for("disconnected", timeout=10)
            assert any(entry.text.startswith("connect failed (no answer within 0.5s)")
                       for entry in client.timeline)
            assert server.handshake_attempts >= 1  # the requests arrived ...
            assert server.handshakes == 0  # ... and was never answered with 101
            await asyncio.to_thread(server.thaw)
            await client.close()
            await server.until(lambda s: s.connection_count == 0)

    arun(main())


def test_open_timeout_none_waits_for_ever_until_thaw() -> None:
    async def main() -> None:
        with serve() as server:
            await asyncio.to_thread(server.freeze)
            client = Client(server.url(), open_timeout=None,  # type: ignore[arg-type]
                            policy=BackoffPolicy(max_attempts=1))
            connecting = asyncio.ensure_future(client.connect())
            done, _ = await asyncio.wait({connecting}, timeout=0.6)
            assert not done and client.state.value == "connecting"  # no timeout: it hangs
            assert server.handshakes == 0
            await asyncio.to_thread(server.thaw)
            await asyncio.wait_for(connecting, 10)
            await client.wait_for("connected", timeout=10)
            # The client reads the 101 a moment before the server's handler counts it.
            await server.until(lambda s: s.handshakes == 1, what="one handshake")
            await client.close()

    arun(main())
