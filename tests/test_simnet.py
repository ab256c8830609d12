"""SimNetwork / SimServer: the in-memory server behaves like the real one, fault by fault."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support import arun
from wslearn.app import App, WebSocket
from wslearn.clock import run_virtual
from wslearn.server import ConnectionInfo, serve
from wslearn.simnet import SimNetwork, SimServer
from wslearn.transport import ConnectFailed, ConnectionLost, websocket_dialer


def virtual(fn: Any) -> Any:
    return run_virtual(fn, strict=True)


async def recv_text(transport: Any) -> str:
    data = await transport.recv()
    return data if isinstance(data, str) else data.decode()


def test_welcome_ping_and_topics() -> None:
    async def main() -> None:
        net = SimNetwork()
        server = net.serve()
        assert server.url(topics=["a", "b"]) == "ws://sim/ws?topics=a,b"
        t = await net.dialer(server.url(topics=["a"]))
        assert await recv_text(t) == '{"type":"welcome","topics":["a"]}'
        await t.send('{"type":"ping","n":1}')
        assert await recv_text(t) == '{"type":"pong","n":1}'
        assert server.connections == [ConnectionInfo(1, "/ws", ("a",))]
        assert server.publish("a", "x.y", id=1) == 1
        assert await recv_text(t) == '{"type":"x.y","topic":"a","id":1}'
        assert repr(server) == "<SimServer running, 1 connection>"
        await t.close()
        assert server.connection_count == 0
        with pytest.raises(ConnectionLost):
            await t.send("x")
        server.stop()
        assert repr(server) == "<SimServer stopped>"

    virtual(main)


def test_stop_start_and_refused_dials() -> None:
    async def main() -> None:
        net = SimNetwork()
        server = net.serve()
        t = await net.dialer(server.url())
        await t.recv()
        server.stop()
        with pytest.raises(ConnectionLost) as lost:
            await t.recv()
        assert (lost.value.code, lost.value.reason) == (1001, "server stopped")
        assert server.connection_count == 0
        with pytest.raises(ConnectFailed, match="connection refused"):
            await net.dialer(server.url())
        assert server.handshake_attempts == 1  # a stopped server sees nothing
        server.start()
        t2 = await net.dialer(server.url())
        server.restart()  # before the endpoint even sent its welcome
        with pytest.raises(ConnectionLost) as lost:
            await t2.recv()
        assert (lost.value.code, lost.value.reason) == (1012, "server restarting")
        server.stop()

    virtual(main)


def test_refuse_404_and_bad_urls() -> None:
    async def main() -> None:
        net = SimNetwork()
        server = net.serve()
        server.refuse()
        with pytest.raises(ConnectFailed) as failed:
            await net.dialer(server.url())
        assert (failed.value.reason, failed.value.status) == ("HTTP 503", 503)
        server.accept_again()
        with pytest.raises(ConnectFailed, match="HTTP 404"):
            await net.dialer(server.url("/nowhere"))
        assert server.handshake_attempts == 2
        server.reset_counters()
        assert server.handshake_attempts == 0
        with pytest.raises(ConnectFailed, match="refused"):
            await net.dialer("ws://elsewhere/ws")
        with pytest.raises(ValueError, match="websocket URL"):
            await net.dialer("http://sim/ws")
        server.stop()

    virtual(main)


def test_freeze_holds_both_directions_and_handshakes() -> None:
    async def main() -> None:
        net = SimNetwork()
        server = net.serve()
        t = await net.dialer(server.url(topics=["a"]))
        await t.recv()
        server.freeze()
        await t.send('{"type":"ping"}')
        server.publish("a", "e", n=1)
        dial = asyncio.ensure_future(net.dialer(server.url()))
        await asyncio.sleep(100)
        assert not dial.done() and server.handshake_attempts == 2
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(5):
                await t.recv()
        server.thaw()
        t2 = await dial
        got = {await recv_text(t), await recv_text(t)}
        assert got == {'{"type":"e","topic":"a","n":1}', '{"type":"pong"}'}
        assert server.connection_count == 2
        await t.close()
        await t2.close()
        server.stop()

    virtual(main)


def test_delay_keeps_order() -> None:
    async def main() -> None:
        net = SimNetwork()
        server = net.serve()
        t = await net.dialer(server.url(topics=["a"]))
        await t.recv()
        server.delay(3)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(5):
            server.publish("a", "e", n=n)
        texts = [await recv_text(t) for _ in range(5)]
        assert loop.time() - start == 3.0
        assert [text[-2] for text in texts] == ["0", "1", "2", "3", "4"]
        with pytest.raises(ValueError, match=r"0\.\.60"):
            server.delay(-1)
        server.stop()

    virtual(main)


@pytest.mark.parametrize(("code", "expected"), [
    (1006, (1006, "")),
    (1001, (1001, "server going away")),
    (1011, (1011, "server error (injected by drop_all)")),
    (4000, (4000, "dropped by server")),
])
def test_drop_all_codes(code: int, expected: tuple[int, str]) -> None:
    async def main() -> None:
        net = SimNetwork()
        server = net.serve()
        t = await net.dialer(server.url())
        await t.recv()
        assert server.drop_all(code) == 1
        assert server.connection_count == 0
        with pytest.raises(ConnectionLost) as lost:
            await t.recv()
        assert (lost.value.code, lost.value.reason) == expected
        with pytest.raises(ValueError, match="drop_all"):
            server.drop_all(1005)
        server.stop()

    virtual(main)


def test_publish_when_stopped_still_counts_the_version() -> None:
    async def main() -> None:
        server = SimNetwork().serve()
        server.stop()
        assert server.publish("a", "e") == 0
        assert server.app.state.hub.version("a") == 1
        with pytest.raises(ValueError, match="invalid topic"):
            server.publish("A B", "e")

    virtual(main)


def test_endpoint_that_ignores_disconnects_is_cancelled() -> None:
    app = App()

    @app.websocket("/ws")
    async def stubborn(websocket: WebSocket) -> None:
        await websocket.accept()
        await asyncio.sleep(3600)  # never reads, never ends on its own

    async def main() -> None:
        net = SimNetwork()
        server = net.serve(app)
        t = await net.dialer(server.url())
        server.stop()
        with pytest.raises(ConnectionLost):
            await t.recv()
        await asyncio.sleep(3)  # past CLOSE_TIMEOUT: the handler task was cancelled

    virtual(main)


def test_network_hosts() -> None:
    async def main() -> None:
        net = SimNetwork()
        a, b = net.serve(), net.serve()
        assert (a.host, b.host) == ("sim", "sim2")
        assert net.servers == [a, b] and a.dialer == net.dialer
        with pytest.raises(ValueError, match="taken"):
            SimServer(network=net, host="sim")
        with pytest.raises(TypeError, match="App"):
            SimServer(app=object())  # type: ignore[arg-type]
        a.stop()
        b.stop()

    virtual(main)


# -- parity with the real server ------------------------------------------------------


def script_events(kind: str) -> list[tuple[str, Any]]:
    """Run one fault script and return the server's listener events (names + key info)."""

    async def main() -> list[tuple[str, Any]]:
        if kind == "real":
            server: Any = await asyncio.to_thread(serve)
            dial = websocket_dialer()

            async def call(name: str, *args: Any) -> Any:
                return await asyncio.to_thread(getattr(server, name), *args)
        else:
            net = SimNetwork()
            server = net.serve()
            dial = net.dialer

            async def call(name: str, *args: Any) -> Any:
                return getattr(server, name)(*args)

        events: list[tuple[str, Any]] = []
        keep = ("fault", "code", "status", "id", "dropped")
        server.add_listener(
            lambda e, info: events.append((e, tuple(sorted((k, v) for k, v in info.items()
                                                           if k in keep))))
        )
        t = await dial(server.url(topics=["a"]))
        await t.recv()
        await call("publish", "a", "e")
        await t.recv()
        await call("refuse")
        with pytest.raises(ConnectFailed, match="HTTP 503"):
            await dial(server.url())
        await call("accept_again")
        await call("freeze")
        await call("thaw")
        await call("delay", 0)
        await call("drop_all", 1001)
        with pytest.raises(ConnectionLost) as lost:
            await t.recv()
        code = (lost.value.code, lost.value.reason)
        await t.close()
        await call("stop")
        return [*events, ("client saw", code)]

    if kind == "real":
        return arun(main())
    return virtual(main)


def test_listener_events_and_codes_match_the_real_server() -> None:
    real, simulated = script_events("real"), script_events("sim")
    assert simulated == real
    assert ("client saw", (1001, "server going away")) in real
