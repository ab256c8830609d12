"""``App`` / ``WebSocket`` over an in-memory channel: the FastAPI-style API itself.

No sockets here: these tests pin down what an endpoint sees, which is the same on
the real server and on the simulated network.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from support import arun

from wslearn.app import App, Channel, Router, WebSocket, WebSocketDisconnect, fit_reason
from wslearn.protocol import ProtocolError


class FakeChannel:
    """A channel whose peer is the test: ``feed()`` frames in, read ``sent`` out."""

    def __init__(self, path: str = "/ws", query: str = "", id: int = 1) -> None:
        self.id = id
        self.path = path
        self.query = query
        self.inbox: asyncio.Queue[str | bytes | WebSocketDisconnect] = asyncio.Queue()
        self.sent: list[str | bytes] = []
        self.closed: tuple[int, str] | None = None

    def feed(self, *items: str | bytes | WebSocketDisconnect) -> None:
        for item in items:
            self.inbox.put_nowait(item)

    async def recv(self) -> str | bytes:
        item = await self.inbox.get()
        if isinstance(item, WebSocketDisconnect):
            raise item
        return item

    async def send(self, data: str | bytes) -> None:
        if self.closed is not None:
            raise WebSocketDisconnect(*self.closed)
        await asyncio.sleep(0)  # a real send may yield
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed is None:
            self.closed = (code, reason)


def test_fake_channel_satisfies_the_channel_protocol() -> None:
    assert isinstance(FakeChannel(), Channel)


def test_endpoint_reads_and_writes_like_fastapi() -> None:
    app = App()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        async for data in websocket.iter_json():
            await websocket.send_json({"type": "update", "got": data["n"]})

    async def main() -> FakeChannel:
        channel = FakeChannel()
        channel.feed('{"n": 1}', b'{"n": 2}', WebSocketDisconnect(1000))
        await app.handle(channel)
        return channel

    channel = arun(main())
    assert channel.sent == ['{"type":"update","got":1}', '{"type":"update","got":2}']
    assert channel.closed is None  # the peer left: nothing to close


def test_query_params_are_read_only_and_last_value_wins() -> None:
    websocket = WebSocket(FakeChannel(query="topics=a,b&x=1&x=2&empty="))
    assert dict(websocket.query_params) == {"topics": "a,b", "x": "2", "empty": ""}
    with pytest.raises(TypeError):
        websocket.query_params["x"] = "3"  # type: ignore[index]


def test_endpoint_that_returns_is_closed_with_1000() -> None:
    app = App()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("bye")

    channel = FakeChannel()
    arun(app.handle(channel))
    assert channel.sent == ["bye"]
    assert channel.closed == (1000, "")


def test_endpoint_that_never_accepts_is_closed_with_1008() -> None:
    app = App()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        return None

    channel = FakeChannel()
    arun(app.handle(channel))
    assert channel.closed == (1008, "endpoint did not accept")


def test_receive_before_accept_is_a_clear_error_and_closes_1011() -> None:
    app = App()
    seen: list[str] = []

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        try:
            await websocket.receive_text()
        except RuntimeError as exc:
            seen.append(str(exc))
            raise

    channel = FakeChannel()
    arun(app.handle(channel))
    assert "accept()" in seen[0]
    assert channel.closed is not None and channel.closed[0] == 1011


def test_endpoint_that_raises_closes_1011_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    app = App()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise ZeroDivisionError("boom")

    channel = FakeChannel()
    channel.feed("hi")
    with caplog.at_level(logging.ERROR, logger="wslearn.server"):
        arun(app.handle(channel))
    reason = "server error: endpoint raised ZeroDivisionError (see server log)"
    assert channel.closed == (1011, reason)
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_unknown_path_is_closed_with_1008_naming_the_known_paths() -> None:
    app = App()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()

    channel = FakeChannel(path="/nope")
    arun(app.handle(channel))
    assert channel.closed == (1008, "no endpoint at /nope; known: /ws")


def test_binary_frame_that_is_not_utf8_is_a_protocol_error() -> None:
    async def main() -> None:
        channel = FakeChannel()
        websocket = WebSocket(channel)
        await websocket.accept()
        channel.feed(b"\xff\xfe", b"ok", "text")
        with pytest.raises(ProtocolError, match="bad-utf8"):
            await websocket.receive_text()
        assert await websocket.receive_text() == "ok"
        assert await websocket.receive_bytes() == b"text"

    arun(main())


def test_send_text_rejects_non_str_with_a_hint() -> None:
    async def main() -> None:
        websocket = WebSocket(FakeChannel())
        await websocket.accept()
        with pytest.raises(TypeError, match="send_json"):
            await websocket.send_text({"a": 1})  # type: ignore[arg-type]

    arun(main())


def test_accept_twice_is_an_error() -> None:
    async def main() -> None:
        websocket = WebSocket(FakeChannel())
        await websocket.accept()
        with pytest.raises(RuntimeError, match="already"):
            await websocket.accept()

    arun(main())


def test_close_reason_is_cut_to_123_bytes() -> None:
    reason = "é" * 200
    assert len(fit_reason(reason).encode()) <= 123
    assert fit_reason("short") == "short"

    async def main() -> FakeChannel:
        channel = FakeChannel()
        websocket = WebSocket(channel)
        await websocket.accept()
        await websocket.close(1008, "x" * 500)
        await websocket.close(1000)  # idempotent
        return channel

    channel = arun(main())
    assert channel.closed is not None and len(channel.closed[1].encode()) == 123


def test_send_nowait_falls_back_to_an_ordered_queue_and_leaves_no_task() -> None:
    app = App()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        for i in range(3):
            assert websocket.send_nowait(f"event {i}")
        await websocket.send_text("reply")  # queued behind the events, order kept

    channel = FakeChannel()
    arun(app.handle(channel))
    assert channel.sent == ["event 0", "event 1", "event 2", "reply"]
    assert channel.closed == (1000, "")


def test_send_nowait_on_a_closed_or_unaccepted_socket_returns_false() -> None:
    async def main() -> None:
        websocket = WebSocket(FakeChannel())
        assert websocket.send_nowait("x") is False
        await websocket.accept()
        await websocket.close()
        assert websocket.send_nowait("x") is False

    arun(main())


def test_router_and_include_router() -> None:
    router = Router()

    @router.websocket("/feed")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()

    app = App()
    app.include_router(router, prefix="/v1")
    assert app.paths == ["/v1/feed"]
    assert repr(app) == "<App /v1/feed>"


def test_bad_routes_are_clear_errors() -> None:
    app = App()
    with pytest.raises(ValueError, match="start with '/'"):
        app.websocket("ws")
    with pytest.raises(ValueError, match="query"):
        app.websocket("/ws?x=1")
    with pytest.raises(TypeError, match="async def"):
        app.websocket("/ws")(lambda websocket: None)  # type: ignore[arg-type,return-value]

    @app.websocket("/ws")
    async def one(websocket: WebSocket) -> None: ...

    with pytest.raises(ValueError, match="already"):
        app.websocket("/ws")(one)


def test_websocket_disconnect_carries_code_and_reason() -> None:
    exc = WebSocketDisconnect(1001, "going away")
    assert (exc.code, exc.reason) == (1001, "going away")
    assert str(exc) == "websocket disconnected with code 1001: going away"
    assert repr(WebSocket(FakeChannel(id=3))) == "<WebSocket 3 /ws new>"
