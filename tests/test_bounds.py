"""Issue 12, "unbounded state from input": everything network input can grow is bounded
or cleaned up, work per message stops at the first violation, and the limits that
servers people trust have (connections, handshake time, keepalive) are set and tested."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from support import arun
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wslearn import server as server_module
from wslearn.client import Client
from wslearn.protocol import MAX_TOPICS, ProtocolError, validate_topics
from wslearn.server import Server, serve
from wslearn.simnet import SimNetwork
from wslearn.topics import TopicHub
from wslearn.waiting import until


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


async def recv_json(client: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(client.recv(), timeout))


def hub_sizes(hub: TopicHub) -> tuple[int, int, int]:
    return len(hub._subscribers), len(hub._topics), len(hub._waiters)


# -- the topic hub forgets what nobody uses -------------------------------------------------


def test_subscribe_unsubscribe_loop_leaves_no_empty_topic_entries(server: Server) -> None:
    hub = server.app.state.hub

    async def main() -> None:
        async with connect(server.url()) as ws:
            await recv_json(ws)
            for i in range(200):
                await ws.send(json.dumps({"type": "subscribe", "topics": [f"t{i}"]}))
                await recv_json(ws)
                await ws.send(json.dumps({"type": "unsubscribe", "topics": [f"t{i}"]}))
                await recv_json(ws)
            assert len(hub._subscribers) == 0
            await ws.send(json.dumps({"type": "subscribe", "topics": ["kept"]}))
            await recv_json(ws)
        # the endpoint's cleanup runs a moment after the socket left OPEN: wait for it
        await server.until(lambda s: not hub.subscriptions(), what="the endpoint's cleanup")

    arun(main())
    assert hub_sizes(hub) == (0, 0, 0)  # disconnect forgot "kept" too


def test_long_polls_on_new_topic_names_leave_no_waiters(server: Server) -> None:
    import http.client

    for i in range(20):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("GET", f"/api/topics/poll{i}?after=0&wait=0.01&key={server.key}")
            assert conn.getresponse().status == 200
        finally:
            conn.close()
    assert server.app.state.hub._waiters == {}


# -- held frames count toward the slow-reader limit ----------------------------------------


@pytest.mark.parametrize("fault", ["freeze", "delay"])
def test_held_frames_are_bounded_and_end_in_client_too_slow(fault: str) -> None:
    with serve(max_buffered=64 * 1024) as server:

        async def main() -> tuple[int | None, str | None]:
            ws = await connect(server.url(topics=["big"]), max_size=None)
            await recv_json(ws)
            if fault == "freeze":
                await asyncio.to_thread(server.freeze)
            else:
                await asyncio.to_thread(server.delay, 30)
            payload = "x" * 4096
            for _ in range(40):  # 160 KiB > the 64 KiB limit
                await asyncio.to_thread(server.publish, "big", "blob", data=payload)
            if fault == "freeze":
                await asyncio.to_thread(server.thaw)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed:
                pass
            await ws.close()
            rcvd = ws.close_code
            return rcvd, ws.close_reason

        code, reason = arun(main())
        assert code == 1008 and reason is not None and "too slow" in reason
        assert server.frames_lost > 0


def test_simulated_link_has_the_same_hold_limit() -> None:
    from wslearn.hold import Hold

    hold: Hold[str] = Hold(limit=10)
    assert hold.push("12345", now=0, size=5)
    assert hold.push("12345", now=0, size=5)
    assert not hold.push("1", now=0, size=1)
    assert hold.held_bytes == 10


# -- the client's timeline is bounded too ---------------------------------------------------


def test_client_timeline_is_bounded_under_a_flood_of_invalid_frames() -> None:
    net = SimNetwork()
    sim = net.serve()

    async def main() -> tuple[int, int]:
        client = Client(sim.url(), dialer=net.dialer)
        async with client:
            await client.wait_for("connected")
            for link in list(sim._links.values()):
                for i in range(500):
                    link.channel.send_nowait(f"not json {i}")
            await until(lambda: client.ignored_frames >= 500, 5, what="500 ignored frames")
            return len(client.timeline), client.ignored_frames

    entries, ignored = arun(main())
    assert ignored == 500
    assert entries < 60


# -- topic validation stops at the first violation -----------------------------------------


def test_validate_topics_stops_at_the_cap_without_reading_the_rest() -> None:
    consumed = 0

    def topics() -> Iterator[str]:
        nonlocal consumed
        for i in range(1_000_000):
            consumed += 1
            yield f"t{i}"

    with pytest.raises(ProtocolError, match="too-many-topics"):
        validate_topics(topics())
    assert consumed == MAX_TOPICS + 1


def test_validate_topics_dedupes_in_order() -> None:
    assert validate_topics(["b", "a", "b", "a", "c"] * 1000) == ["b", "a", "c"]


# -- connections, handshake time, keepalive ------------------------------------------------


def test_connections_past_the_cap_get_503() -> None:
    with serve(max_connections=3) as server:

        async def main() -> int:
            clients = [await connect(server.url("/echo")) for _ in range(3)]
            try:
                with pytest.raises(InvalidStatus) as info:
                    await connect(server.url("/echo"))
                assert b"max_connections" in info.value.response.body
                return info.value.response.status_code
            finally:
                for c in clients:
                    await c.close()

        assert arun(main()) == 503


def test_handshake_timeout_is_close_to_websockets_default() -> None:
    assert server_module.OPEN_TIMEOUT <= 10.0
    with serve(open_timeout=0.3) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        try:
            sock.settimeout(5)
            sock.sendall(b"GET /ws HTTP/1.1\r\n")  # ... and never the rest
            with contextlib.suppress(ConnectionResetError):  # a reset is hanging up too
                assert sock.recv(100) == b""  # the server hung up
        finally:
            sock.close()


def test_long_poll_still_waits_longer_than_the_handshake_timeout() -> None:
    import http.client

    with serve(open_timeout=0.2) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("GET", f"/api/topics/a?after=0&wait=0.6&key={server.key}")
            response = conn.getresponse()
            assert response.status == 200
        finally:
            conn.close()


def test_keepalive_reaps_a_dead_peer() -> None:
    with serve(keepalive=0.2) as server:

        async def main() -> None:
            # A peer that never answers pings: a client whose reading is paused.
            ws = await connect(server.url("/echo"), ping_interval=None)
            ws.transport.pause_reading()
            await server.until(lambda s: s.connection_count == 0, timeout=5,
                               what="the dead peer is reaped")
            ws.transport.abort()
            await ws.wait_closed()

        arun(main())


def test_keepalive_is_on_beyond_loopback_only() -> None:
    assert Server()._keepalive_interval() is None
    with pytest.warns(UserWarning, match="every network interface"):
        wide = Server(host="0.0.0.0")
    assert wide._keepalive_interval() == server_module.KEEPALIVE_INTERVAL


def test_held_handshakes_of_a_frozen_server_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "MAX_PENDING", 2)
    with serve(max_connections=2) as server:
        server.freeze()
        socks = []
        try:
            for _ in range(6):
                sock = socket.create_connection(("127.0.0.1", server.port))
                sock.sendall(f"GET /ws?key={server.key} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n".encode())
                socks.append(sock)
            dropped = 0
            for sock in socks[4:]:  # past max_connections + MAX_PENDING: dropped at once
                sock.settimeout(5)
                try:
                    dropped += sock.recv(100) == b""
                except ConnectionResetError:
                    dropped += 1
            assert dropped == 2
        finally:
            for sock in socks:
                sock.close()
            server.thaw()
