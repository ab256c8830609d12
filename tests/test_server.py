"""The in-kernel server over real sockets: the wire protocol, lifecycle, observation.

Every test talks to a real ``wslearn.serve()`` on 127.0.0.1 (port 0) with the
``websockets`` client, inside ``support.arun`` (a fresh loop that fails on leftover
tasks); the autouse leak guard fails a test that leaves a thread or socket behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support import arun, wait_until
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wslearn.app import App, WebSocket
from wslearn.server import ConnectionInfo, Server, _stop_all_servers, serve
from wslearn.topics import topic_app


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


async def recv_json(client: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(client.recv(), timeout))


async def open_client(server: Server, topics: list[str] | None = None) -> ClientConnection:
    """Connect and read the welcome (so the server has registered the subscription)."""
    client = await connect(server.url(topics=topics), open_timeout=10)
    welcome = await recv_json(client)
    assert welcome == {"type": "welcome", "topics": topics or []}
    return client


async def publish(server: Server, topic: str, type: str, **fields: Any) -> int:
    """``server.publish`` is a blocking call meant for notebook code: run it off-loop."""
    return await asyncio.to_thread(server.publish, topic, type, **fields)


async def closed_with(client: ClientConnection) -> tuple[int | None, str | None]:
    """Wait for the server to close ``client``; (code, reason), code None = no close frame."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(client.recv(), 10)
    rcvd = info.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd else (None, None)


# -- wire protocol -------------------------------------------------------------------------


def test_topic_filtering_three_topics_two_clients(server: Server) -> None:
    async def main() -> None:
        a = await open_client(server, ["analysis", "proposals"])
        b = await open_client(server, ["knowledge", "proposals"])
        async with a, b:
            assert await publish(server, "analysis", "analysis.updated", id=1) == 1
            assert await publish(server, "proposals", "proposal.created", id=7) == 2
            assert await publish(server, "knowledge", "knowledge.added", id=3) == 1
            assert await publish(server, "nobody", "lost", id=0) == 0
            got_a = [await recv_json(a) for _ in range(2)]
            got_b = [await recv_json(b) for _ in range(2)]
            assert [(m["type"], m["id"]) for m in got_a] == [
                ("analysis.updated", 1), ("proposal.created", 7)]
            assert [(m["type"], m["id"]) for m in got_b] == [
                ("proposal.created", 7), ("knowledge.added", 3)]
            assert got_a[1] == {"type": "proposal.created", "topic": "proposals", "id": 7}

    arun(main())


def test_ping_pong(server: Server) -> None:
    async def main() -> None:
        async with await open_client(server) as client:
            await client.send('{"type": "ping", "seq": 1}')
            assert await recv_json(client) == {"type": "pong", "seq": 1}

    arun(main())


def test_subscribe_and_unsubscribe_change_what_arrives(server: Server) -> None:
    async def main() -> None:
        async with await open_client(server) as client:
            await client.send('{"type": "subscribe", "topics": ["a", "b"]}')
            assert await recv_json(client) == {"type": "subscribed", "topics": ["a", "b"]}
            assert server.connections == [ConnectionInfo(1, "/ws", ("a", "b"))]
            await publish(server, "a", "a.one")
            assert (await recv_json(client))["type"] == "a.one"
            await client.send('{"type": "unsubscribe", "topics": ["a"]}')
            assert await recv_json(client) == {"type": "subscribed", "topics": ["b"]}
            assert await publish(server, "a", "a.two") == 0
            await publish(server, "b", "b.one")
            assert (await recv_json(client))["type"] == "b.one"  # a.two never came

    arun(main())


def test_echo_returns_text_and_binary_frames(server: Server) -> None:
    async def main() -> None:
        async with connect(server.url("/echo")) as client:
            await client.send("hello")
            assert await client.recv() == "hello"
            await client.send(b"\x00\x01")
            assert await client.recv() == b"\x00\x01"

    arun(main())


def test_unknown_websocket_path_is_404_naming_the_known_paths(server: Server) -> None:
    async def main() -> None:
        with pytest.raises(InvalidStatus) as info:
            await connect(server.url("/nope"))
        response = info.value.response
        assert response.status_code == 404
        assert b"/echo, /ws" in response.body

    arun(main())
    assert server.handshake_attempts == 1
    assert server.connection_count == 0


# -- observation ---------------------------------------------------------------------------


def test_connections_count_ids_and_repr(server: Server) -> None:
    assert repr(server) == "<Server running, 0 connections>"

    async def main() -> None:
        one = await open_client(server, ["x"])
        two = await open_client(server)
        assert server.connection_count == 2
        assert repr(server) == "<Server running, 2 connections>"
        assert server.connections == [ConnectionInfo(1, "/ws", ("x",)), ConnectionInfo(2, "/ws")]
        await one.close()
        await two.close()
        async with await open_client(server) as three:
            assert [c.id for c in server.connections] == [3]
            await three.send('{"type": "ping"}')
            await recv_json(three)

    arun(main())
    assert server.handshake_attempts == 3
    server.reset_counters()
    assert server.handshake_attempts == 0
    assert repr(server) == "<Server running, 0 connections>"


def test_connection_count_drops_when_a_client_leaves(server: Server) -> None:
    async def main() -> None:
        client = await open_client(server)
        assert server.connection_count == 1
        await client.close()
        # No waiting needed: the server stopped counting it when it answered the close.
        assert server.connection_count == 0
        assert server.connections == []

    arun(main())


def test_listeners_see_events_on_the_server_thread(server: Server) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    threads: set[str] = set()

    def listen(event: str, info: dict[str, Any]) -> None:
        events.append((event, info))
        threads.add(threading.current_thread().name)

    assert server.add_listener(listen) is listen

    async def main() -> None:
        async with await open_client(server, ["a"]) as client:
            await publish(server, "a", "a.x")
            await recv_json(client)

    arun(main())
    with contextlib.suppress(TimeoutError):  # "disconnect" comes once the handler finished
        wait_until(lambda: any(e == "disconnect" for e, _ in events))
    server.remove_listener(listen)
    names = [e for e, _ in events]
    assert names == ["handshake", "connect", "publish", "disconnect"]
    assert events[3][1] == {"id": 1, "path": "/ws", "code": 1000}
    assert events[1][1] == {"id": 1, "path": "/ws"}
    assert events[2][1] == {"topic": "a", "type": "a.x", "delivered": 1}
    assert threads and all(name.startswith("wslearn-server") for name in threads)


def test_a_failing_listener_is_logged_not_raised(server: Server,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: str, info: dict[str, Any]) -> None:
        raise ValueError("listener bug")

    server.add_listener(broken)
    with caplog.at_level(logging.ERROR, logger="wslearn.server"):
        assert server.publish("a", "t") == 0
    assert any("listener" in r.getMessage() for r in caplog.records)


def test_blocking_calls_from_the_server_thread_are_clear_errors(server: Server) -> None:
    errors: list[str] = []

    def listen(event: str, info: dict[str, Any]) -> None:
        if event == "publish" and info["type"] == "first":
            for call in (server.stop, server.restart, server.drop_all):
                try:
                    call()
                except RuntimeError as exc:
                    errors.append(str(exc))
            server.publish("a", "second")  # publishing from the server thread works

    server.add_listener(listen)
    seen: list[str] = []
    server.add_listener(lambda event, info: seen.append(info.get("type", "")))
    server.publish("a", "first")
    assert len(errors) == 3
    assert all("notebook code" in e for e in errors)
    assert "second" in seen
    assert server.running


# -- lifecycle -------------------------------------------------------------------------------


def test_stop_closes_clients_with_1001_and_start_reuses_the_port() -> None:
    server = serve()
    port = server.port

    async def main() -> None:
        client = await open_client(server)
        await asyncio.to_thread(server.stop)
        assert await closed_with(client) == (1001, "server stopped")
        assert not server.running
        assert repr(server) == "<Server stopped>"
        with pytest.raises(OSError):
            await connect(server.url(), open_timeout=5)
        await asyncio.to_thread(server.start)
        assert server.port == port
        async with await open_client(server) as again:
            await again.send('{"type": "ping"}')
            assert await recv_json(again) == {"type": "pong"}

    try:
        arun(main())
    finally:
        server.stop()
        server.stop()  # idempotent


def test_restart_closes_with_1012_and_serves_again(server: Server) -> None:
    async def main() -> None:
        client = await open_client(server, ["a"])
        await asyncio.to_thread(server.restart)
        code, _ = await closed_with(client)
        assert code == 1012
        async with await open_client(server, ["a"]) as again:
            assert await publish(server, "a", "after.restart") == 1
            assert (await recv_json(again))["type"] == "after.restart"

    arun(main())


def test_publish_when_stopped_returns_0_but_records_the_event() -> None:
    server = serve()
    server.stop()
    assert server.publish("a", "while.down", n=1) == 0
    assert server.app.state.hub.version("a") == 1
    with pytest.raises(RuntimeError, match="start"):
        server.freeze()


def test_200_concurrent_clients_receive_one_publish(server: Server) -> None:
    async def main() -> None:
        clients = await asyncio.gather(*(open_client(server, ["news"]) for _ in range(200)))
        others = [await open_client(server, ["sport"]) for _ in range(3)]
        try:
            assert server.connection_count == 203
            assert await publish(server, "news", "news.flash", id=1) == 200
            got = await asyncio.gather(*(recv_json(c, timeout=20) for c in clients))
            assert all(m == {"type": "news.flash", "topic": "news", "id": 1} for m in got)
            await publish(server, "sport", "sport.score")
            assert [(await recv_json(o))["type"] for o in others] == ["sport.score"] * 3
        finally:
            await asyncio.gather(*(c.close() for c in [*clients, *others]))

    arun(main(), timeout=60)


def test_several_servers_do_not_interfere() -> None:
    with serve() as one, serve() as two:
        assert one.port != two.port

        async def main() -> None:
            a = await open_client(one, ["t"])
            b = await open_client(two, ["t"])
            async with a, b:
                assert await publish(one, "t", "from.one") == 1
                assert (await recv_json(a))["type"] == "from.one"
                await asyncio.to_thread(one.stop)
                await closed_with(a)
                assert await publish(two, "t", "from.two") == 1
                assert (await recv_json(b))["type"] == "from.two"
                assert [c.id for c in two.connections] == [1]

        arun(main())


def test_custom_app_and_one_app_per_running_server() -> None:
    app = App()

    @app.websocket("/hello")
    async def hello(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"hello": websocket.query_params.get("name", "?")})

    with serve(app) as server:

        async def main() -> None:
            async with connect(server.url("/hello") + "?name=ada") as client:
                assert json.loads(await client.recv()) == {"hello": "ada"}
                with pytest.raises(ConnectionClosed):
                    await client.recv()
                assert client.close_code == 1000

        arun(main())
        with pytest.raises(RuntimeError, match="no TopicHub"):
            server.publish("a", "t")
        with pytest.raises(RuntimeError, match="already served"):
            serve(app)
    serve(app).stop()  # free again once the first server stopped


def test_urls() -> None:
    server = Server(key=False)  # the keyed URLs: tests/test_server_safety.py
    with pytest.raises(RuntimeError, match="start"):
        server.url()
    with server:
        base = f"127.0.0.1:{server.port}"
        assert server.url() == f"ws://{base}/ws"
        assert server.url(topics=["a", "b"]) == f"ws://{base}/ws?topics=a,b"
        assert server.url(topics="a") == f"ws://{base}/ws?topics=a"
        assert server.url(topics=[]) == f"ws://{base}/ws"
        assert server.url("/echo") == f"ws://{base}/echo"
        assert server.url(topics=["Bad Topic"]) == f"ws://{base}/ws?topics=Bad%20Topic"
        assert server.http_url() == f"http://{base}/"
        assert server.http_url("/api/topics/a") == f"http://{base}/api/topics/a"
        with pytest.raises(ValueError, match="start with"):
            server.url("ws")


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(TypeError, match=r"wslearn\.App"):
        serve(app=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        serve(port=70000)
    with pytest.raises(ValueError, match="max_size"):
        serve(max_size=0)
    with pytest.raises(TypeError, match="list of origins"):
        serve(origins="http://x")  # type: ignore[arg-type]


def test_a_taken_port_says_what_to_do() -> None:
    with serve() as first, pytest.raises(OSError, match="port=0"):
        serve(port=first.port, app=topic_app())


def test_interpreter_exit_hook_stops_running_servers() -> None:
    server = serve()
    _stop_all_servers()
    assert not server.running


def test_a_forgotten_server_stops_cleanly_when_the_interpreter_exits() -> None:
    """A kernel shutdown with a running server: the process exits, clients see 1001."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = (
        "import sys, wslearn.server as s\n"
        "server = s.serve()\n"
        "print(server.url(), flush=True)\n"
        "sys.stdin.readline()\n"  # exit (without stop()) when the test says so
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=root, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": root},
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        url = child.stdout.readline().strip()

        async def main() -> tuple[int | None, str | None]:
            async with connect(url) as client:
                await client.recv()  # welcome
                assert child.stdin is not None
                child.stdin.write("exit\n")
                child.stdin.flush()
                return await closed_with(client)

        assert arun(main()) == (1001, "server stopped")
        assert child.wait(20) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(20)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()


def test_until_waits_for_a_condition_without_blocking_the_loop() -> None:
    """``wait_for_connections`` lets a client on the same loop finish connecting."""
    from websockets.asyncio.client import connect

    from wslearn.server import serve

    async def main() -> None:
        with serve() as server:
            async with connect(server.url(topics=["a"])):
                assert await server.wait_for_connections(1) == 1
            assert await server.wait_for_connections(0) == 0
            with pytest.raises(TimeoutError, match="5 open connections"):
                await server.wait_for_connections(5, timeout=0.05)

    arun(main())
