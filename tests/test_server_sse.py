"""Server-sent events: ``GET /api/stream/<topic>`` on the server's second listener
(``server.sse_url``), read with plain ``asyncio.open_connection`` (real sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from support import arun, with_key

from wslearn import server as server_module
from wslearn.lessons.polling import http_get
from wslearn.server import Server, serve


class Stream:
    """One raw HTTP connection to the SSE listener."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 head: bytes) -> None:
        self.reader, self.writer, self.head = reader, writer, head

    @property
    def status(self) -> int:
        return int(self.head.split(b" ", 2)[1])

    def header(self, name: str) -> str | None:
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        return None

    async def event(self, timeout: float = 5.0) -> tuple[bytes, dict[str, str]]:
        """The next event: its raw bytes and its fields (``id``, ``data``)."""
        raw = await asyncio.wait_for(self.reader.readuntil(b"\n\n"), timeout)
        fields = dict(line.split(": ", 1) for line in raw.decode().strip("\n").split("\n"))
        return raw, fields

    async def body(self) -> bytes:
        return await asyncio.wait_for(self.reader.read(), 5.0)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def open_stream(server: Server, path: str, *, method: str = "GET",
                      headers: str = "") -> Stream:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sse_port)
    path = with_key(server, path)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
    return Stream(reader, writer, head)


async def error_of(server: Server, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    stream = await open_stream(server, path, **kwargs)
    try:
        assert stream.header("Content-Type") == "application/json"
        return stream.status, json.loads(await stream.body())
    finally:
        await stream.close()


def test_three_publishes_are_three_events_in_order_for_that_topic_only() -> None:
    async def main() -> None:
        with serve() as server:
            assert server.sse_url("prices") == with_key(
                server, f"http://127.0.0.1:{server.sse_port}/api/stream/prices")
            stream = await open_stream(server, "/api/stream/prices")
            assert stream.status == 200
            assert stream.header("Content-Type") == "text/event-stream"
            assert stream.header("Cache-Control") == "no-cache"
            assert server.app.state.hub.subscriptions() == {"sse-1": ("prices",)}
            assert repr(server) == "<Server running, 0 connections>"  # websockets only
            sizes = len(stream.head)
            for i in range(3):
                assert server.publish("prices", "price.changed", id=i) == 1
                server.publish("orders", "order.created", id=i)  # not this stream's topic
            for i in range(3):
                raw, fields = await stream.event()
                sizes += len(raw)
                assert fields["id"] == str(i + 1)  # the topic's version
                assert json.loads(fields["data"]) == {"type": "price.changed",
                                                      "topic": "prices", "id": i}
            with pytest.raises(TimeoutError):  # nothing from "orders"
                await stream.event(timeout=0.2)
            assert server.http_requests == 1
            assert server.http_bytes_sent == sizes
            await stream.close()
            await server.until(lambda s: not s.app.state.hub.subscriptions(),
                               what="the stream to unsubscribe")
            assert server.publish("prices", "price.changed", id=9) == 0

    arun(main())


def test_the_data_is_what_websocket_subscribers_get() -> None:
    async def main() -> None:
        from websockets.asyncio.client import connect

        with serve() as server:
            stream = await open_stream(server, "/api/stream/a")
            async with connect(server.url(topics=["a"]), proxy=None) as ws:
                await ws.recv()  # welcome
                server.publish("a", "a.changed", text="two\nlines", n=1.5)
                _, fields = await stream.event()
                assert fields["data"] == await ws.recv()
            await stream.close()

    arun(main())


@pytest.mark.parametrize(("path", "kwargs", "status", "error"), [
    ("/api/stream/Bad%20Topic", {}, 400, "bad-topic"),
    ("/api/stream/", {}, 400, "bad-topic"),
    ("/api/topics/a", {}, 404, "not-found"),
    ("/", {}, 404, "not-found"),
    ("/api/stream/a", {"method": "POST"}, 405, "bad-method"),
    ("/api/stream/a", {"headers": "Origin: https://evil.example\r\n"}, 403, "bad-origin"),
])
def test_bad_requests_get_a_json_error(path: str, kwargs: dict[str, Any], status: int,
                                       error: str) -> None:
    async def main() -> None:
        with serve() as server:
            got_status, body = await error_of(server, path, **kwargs)
            assert (got_status, body["type"], body["error"]) == (status, "error", error)
            assert server.http_requests == 1 and server.http_bytes_sent > 0
            assert not server.app.state.hub.subscriptions()

    arun(main())


def test_bad_topic_error_names_the_topic_and_allowed_origins_get_cors() -> None:
    async def main() -> None:
        with serve(origins=["https://hub.example.org"]) as server:
            _, body = await error_of(server, "/api/stream/Bad%20Topic")
            assert "'Bad Topic'" in body["detail"]
            for origin in ("https://hub.example.org", f"http://localhost:{server.port}"):
                stream = await open_stream(server, "/api/stream/a",
                                           headers=f"Origin: {origin}\r\n")
                assert stream.status == 200
                assert stream.header("Access-Control-Allow-Origin") == origin
                await stream.close()

    arun(main())


def test_oversized_request_head_is_431() -> None:
    async def main() -> None:
        with serve() as server:
            junk = "X-Junk: " + "x" * server_module.MAX_SSE_HEAD + "\r\n"
            status, body = await error_of(server, "/api/stream/a", headers=junk)
            assert (status, body["error"]) == (431, "too-large")

    arun(main())


def test_stream_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "MAX_SSE_STREAMS", 2)

    async def main() -> None:
        with serve() as server:
            streams = [await open_stream(server, "/api/stream/a") for _ in range(2)]
            status, body = await error_of(server, "/api/stream/a")
            assert (status, body["error"]) == (503, "too-many-streams")
            await streams[0].close()
            await server.until(lambda s: len(s.app.state.hub.subscriptions()) == 1)
            streams[0] = await open_stream(server, "/api/stream/a")
            assert streams[0].status == 200
            for stream in streams:
                await stream.close()

    arun(main())


def test_stop_closes_the_stream_and_start_serves_on_the_same_port() -> None:
    async def main() -> None:
        server = serve()
        try:
            port = server.sse_port
            stream = await open_stream(server, "/api/stream/a")
            server.publish("a", "a.changed", id=1)
            server.stop()
            # the event written before stop() is still delivered, then EOF
            assert (await stream.body()).startswith(b"id: 1\ndata: ")
            await stream.close()
            server.start()
            assert server.sse_port == port
            stream = await open_stream(server, "/api/stream/a")
            server.publish("a", "a.changed", id=2)
            _, fields = await stream.event()
            assert json.loads(fields["data"])["id"] == 2
            await stream.close()
        finally:
            server.stop()

    arun(main())


def test_freeze_holds_events_and_a_frozen_server_still_stops() -> None:
    async def main() -> None:
        with serve() as server:
            stream = await open_stream(server, "/api/stream/a")
            server.freeze()
            server.publish("a", "a.changed", id=1)
            with pytest.raises(TimeoutError):
                await stream.event(timeout=0.2)
            server.thaw()
            _, fields = await stream.event()
            assert json.loads(fields["data"])["id"] == 1
            server.freeze()
            server.publish("a", "a.changed", id=2)
        assert await stream.body() == b""  # held event dropped, stream closed promptly
        await stream.close()

    arun(main())


def test_websocket_port_points_to_the_sse_port() -> None:
    async def main() -> None:
        with serve() as server:
            reply = await http_get(server.host, server.port, "/api/stream/a")
            assert reply.status == 404 and b"sse_url" in reply.body

    arun(main())


def test_stop_ends_unfinished_requests_and_streams_that_nobody_reads() -> None:
    async def main() -> None:
        server = serve()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.sse_port)
            writer.write(b"GET /api/stream/a HTTP/1.1\r\n")  # the head never ends
            idle = await open_stream(server, "/api/stream/a")  # never read below
            for i in range(50):
                server.publish("a", "a.changed", pad="x" * 1000, id=i)
            await server.until(lambda s: s.http_requests == 1)
            server.stop()
            assert await asyncio.wait_for(reader.read(), 5.0) == b""
            writer.close()
            await idle.close()
        finally:
            server.stop()

    arun(main())
