"""Issue 12, "input that is valid to one parser and not another": deep JSON, lone
surrogates, NaN/Infinity, and HTTP redirects on a websocket handshake."""

from __future__ import annotations

import asyncio
import http.client
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from support import arun
from websockets.asyncio.client import ClientConnection, connect

from wslearn.protocol import ProtocolError, decode, encode
from wslearn.server import Server, serve
from wslearn.transport import ConnectFailed, websocket_dialer


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


async def recv_json(client: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(client.recv(), timeout))


def test_deeply_nested_json_is_bad_json_not_a_crash() -> None:
    with pytest.raises(ProtocolError, match="bad-json"):
        decode("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("frame", [
    "[" * 30_000 + "]" * 30_000,  # fits in max_size (64 KiB), far deeper than recursion
    '{"type": "ping", "x": "\\ud800"}',
    '{"type": "ping", "x": NaN}',
    '{"type": "ping", "x": -Infinity}',
])
def test_odd_frames_get_an_error_and_the_connection_stays(server: Server, frame: str) -> None:
    async def main() -> None:
        async with connect(server.url(), max_size=None) as ws:
            await recv_json(ws)
            await ws.send(frame)
            reply = await recv_json(ws)
            assert reply["type"] == "error" and reply["error"] == "bad-json"
            await ws.send('{"type": "ping", "n": 1}')
            assert await recv_json(ws) == {"type": "pong", "n": 1}

    arun(main())


def test_surrogate_pairs_are_fine(server: Server) -> None:
    async def main() -> None:
        async with connect(server.url()) as ws:
            await recv_json(ws)
            await ws.send('{"type": "ping", "x": "\\ud83d\\ude00"}')
            assert await recv_json(ws) == {"type": "pong", "x": "\U0001f600"}

    arun(main())


def test_a_failed_publish_leaves_the_topic_working(server: Server) -> None:
    with pytest.raises(ValueError, match="surrogate"):
        server.publish("a", "bad", text="\ud800")
    with pytest.raises(ValueError, match="NaN"):
        server.publish("a", "bad", value=math.nan)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", f"/api/topics/a?key={server.key}")
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read()) == {"topic": "a", "version": 0, "last": None}
    finally:
        conn.close()
    assert server.running


def test_the_server_never_emits_nan() -> None:
    with pytest.raises(ValueError):
        encode({"type": "x", "v": math.inf})


def test_the_client_does_not_follow_redirects(server: Server) -> None:
    async def main() -> None:
        async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(f"HTTP/1.1 302 Found\r\nLocation: {server.url()}\r\n"
                         "Content-Length: 0\r\n\r\n".encode())
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        listener = await asyncio.start_server(redirect, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        try:
            with pytest.raises(ConnectFailed) as info:
                await websocket_dialer()(f"ws://127.0.0.1:{port}/ws")
            assert info.value.status == 302
        finally:
            listener.close()
            await listener.wait_closed()

    server.reset_counters()
    arun(main())
    assert server.handshake_attempts == 0  # the redirect target was never dialed
