"""Issue 12, "shutdown and faults never print, never lose the port": chapter 05's
freeze -> publish -> stop, delay() keeping every frame in order, argument checks of
stop()/restart(), and a failing shutdown that still releases the port."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
from typing import Any

import pytest
from support import arun
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from wslearn.server import serve


async def recv_json(client: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(client.recv(), timeout))


@pytest.mark.parametrize("end", ["stop", "restart", "drop_all"])
def test_freeze_publish_stop_leaves_no_task_error(end: str, caplog: pytest.LogCaptureFixture,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.ERROR)
    server = serve()
    try:
        async def main() -> None:
            ws = await connect(server.url(topics=["a"]), close_timeout=0.5)
            await recv_json(ws)
            await asyncio.to_thread(server.freeze)
            for i in range(3):
                await asyncio.to_thread(server.publish, "a", "held", n=i)
            if end == "drop_all":
                await asyncio.to_thread(server.drop_all, 1001)
            else:
                await asyncio.to_thread(getattr(server, end))
            await ws.close()

        arun(main())
    finally:
        server.stop()
    gc.collect()
    assert server.errors == []
    assert "never retrieved" not in caplog.text
    assert "Traceback" not in capfd.readouterr().err
    assert server.frames_lost == 3  # held when the server ended them: counted, not silent


def test_delay_keeps_pongs_and_close_frames_in_order() -> None:
    with serve() as server:

        async def main() -> tuple[float, str]:
            ws = await connect(server.url(topics=["a"]), ping_interval=None)
            await recv_json(ws)
            await asyncio.to_thread(server.delay, 0.3)
            await asyncio.to_thread(server.publish, "a", "first")
            latency = await (await ws.ping())  # a protocol ping, answered by websockets
            # "first" was sent before the pong, so it is here already: no wait needed.
            first = json.loads(await asyncio.wait_for(ws.recv(), 0.05))["type"]
            await ws.close()
            return latency, first

        latency, first = arun(main())
        assert latency >= 0.3  # the pong was delayed too (a lower bound: never flaky)
        assert first == "first"


def test_delay_delivers_held_frames_before_an_endpoint_close() -> None:
    from wslearn.app import App, WebSocket

    app = App()

    @app.websocket("/bye")
    async def bye(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("one")
        await websocket.send_text("two")
        await websocket.close(4000, "done")

    with serve(app) as server:
        server.delay(0.2)

        async def main() -> tuple[list[str], int | None]:
            got: list[str] = []
            ws = await connect(server.url("/bye"))
            try:
                while True:
                    got.append(str(await asyncio.wait_for(ws.recv(), 5)))
            except ConnectionClosed:
                pass
            return got, ws.close_code

        assert arun(main()) == (["one", "two"], 4000)


@pytest.mark.parametrize("call", [
    lambda s: s.stop(code=1006),
    lambda s: s.stop(code=1005),
    lambda s: s.stop(code="1001"),
    lambda s: s.stop(reason=42),
    lambda s: s.stop(timeout=-1),
])
def test_stop_validates_its_arguments(call: Any) -> None:
    with serve() as server:
        with pytest.raises((TypeError, ValueError)):
            call(server)
        assert server.running


def test_an_exception_during_shutdown_releases_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve()
    port = server.port

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(server, "_shutdown", broken)
    with pytest.raises(RuntimeError, match="boom"):
        server.stop()
    assert not server.running
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port is free again


def test_simulated_delay_also_delivers_held_frames_before_an_endpoint_close() -> None:
    from wslearn.app import App, WebSocket
    from wslearn.simnet import SimNetwork
    from wslearn.transport import ConnectionLost

    app = App()

    @app.websocket("/bye")
    async def bye(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("one")
        await websocket.send_text("two")
        await websocket.close(4000, "done")

    async def main() -> tuple[list[str], int]:
        net = SimNetwork()
        sim = net.serve(app)
        sim.delay(0.2)
        transport = await net.dialer(sim.url("/bye"))
        got: list[str] = []
        try:
            while True:
                got.append(str(await transport.recv()))
        except ConnectionLost as exc:
            code = exc.code
        await transport.close()
        sim.stop()
        return got, code

    assert arun(main()) == (["one", "two"], 4000)


def test_simulated_stop_validates_its_arguments_too() -> None:
    from wslearn.simnet import SimNetwork

    sim = SimNetwork().serve()
    with pytest.raises(ValueError, match="1006"):
        sim.stop(code=1006)
    with pytest.raises(TypeError, match="reason"):
        sim.stop(reason=42)  # type: ignore[arg-type]
    assert sim.running
    sim.stop()
