"""Each fault of the server handle, and each bad input, seen from a real client.

Absence ("no pong arrives") is checked with a short wait: that can only fail if the
server is wrong, never because the machine is slow. Presence uses generous timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from support import arun
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wslearn.app import App, WebSocket
from wslearn.protocol import DEFAULT_MAX_SIZE
from wslearn.server import Server, serve
from wslearn.topics import topic_app
from wslearn.waiting import until

#: How long "nothing arrives" is watched for.
QUIET = 0.3


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


async def recv_json(client: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(client.recv(), timeout))


async def open_client(server: Server, topics: list[str] | None = None,
                      path: str = "/ws") -> ClientConnection:
    url = server.url(path, topics=topics)
    client = await connect(url, open_timeout=10, close_timeout=1)
    if path == "/ws":
        assert (await recv_json(client))["type"] == "welcome"
    return client


async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Server handle methods block (they are for notebook code): run them off-loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def quiet(client: ClientConnection, seconds: float = QUIET) -> bool:
    """True if nothing arrives on ``client`` for ``seconds``."""
    try:
        await asyncio.wait_for(client.recv(), seconds)
    except TimeoutError:
        return True
    return False


async def closed_with(client: ClientConnection) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(client.recv(), 10)
    rcvd = info.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd else (None, None)


# -- drop_all --------------------------------------------------------------------------------


def test_drop_all_1006_aborts_without_a_close_frame(server: Server) -> None:
    async def main() -> None:
        a, b = await open_client(server), await open_client(server)
        assert await call(server.drop_all) == 2
        assert server.connection_count == 0  # drop_all returns once the server let go
        assert await closed_with(a) == (None, None)  # no close frame: the client says 1006
        assert a.close_code == 1006
        await closed_with(b)
        async with await open_client(server) as again:  # the server itself is fine
            await again.send('{"type": "ping"}')
            assert (await recv_json(again))["type"] == "pong"

    arun(main())


@pytest.mark.parametrize(("code", "reason"), [
    (1001, "server going away"),
    (1011, "server error (injected by drop_all)"),
    (1012, "server restarting"),
])
def test_drop_all_clean_variants_send_the_close_code(server: Server, code: int,
                                                     reason: str) -> None:
    async def main() -> None:
        client = await open_client(server)
        assert await call(server.drop_all, code) == 1
        assert await closed_with(client) == (code, reason)
        assert server.connection_count == 0

    arun(main())


def test_drop_all_rejects_codes_that_cannot_be_sent(server: Server) -> None:
    for code in (1005, 1015, 999, 2000, "1001"):
        with pytest.raises(ValueError, match="1006"):
            server.drop_all(code)  # type: ignore[arg-type]
    assert server.drop_all(4000, "custom") == 0


# -- freeze / thaw ------------------------------------------------------------------------------


def test_freeze_answers_nothing_until_thaw(server: Server) -> None:
    async def main() -> None:
        async with await open_client(server, ["a"]) as client:
            await call(server.freeze)
            assert server.frozen and "frozen" in repr(server)
            await client.send('{"type": "ping"}')
            pong_waiter = await client.ping()  # protocol-level ping
            assert await call(server.publish, "a", "held") == 1
            assert await quiet(client)  # no app pong, no event ...
            assert not pong_waiter.done()  # ... and no protocol pong: half-open
            assert server.connection_count == 1  # the socket is still open
            await call(server.thaw)
            # The event was queued while frozen; the ping is read only after thaw.
            assert (await recv_json(client))["type"] == "held"
            assert await recv_json(client) == {"type": "pong"}
            await asyncio.wait_for(pong_waiter, 5)

    arun(main())


def test_freeze_holds_new_handshakes_until_thaw(server: Server) -> None:
    async def main() -> None:
        await call(server.freeze)
        pending = asyncio.ensure_future(open_client(server))
        done, _ = await asyncio.wait({pending}, timeout=QUIET)
        assert not done  # the handshake hangs, like a frozen process
        assert server.handshake_attempts == 1  # it was seen, though
        await call(server.thaw)
        client = await asyncio.wait_for(pending, 10)
        await client.close()

    arun(main())


def test_stop_while_frozen_is_prompt_and_clean(server: Server) -> None:
    async def main() -> None:
        client = await open_client(server)
        await call(server.freeze)
        await call(server.stop)
        assert await closed_with(client) == (1001, "server stopped")
        await call(server.start)  # faults are cleared on start: not frozen any more
        assert not server.frozen
        async with await open_client(server) as again:
            await again.send('{"type": "ping"}')
            assert (await recv_json(again))["type"] == "pong"

    arun(main())


def test_drop_all_while_frozen_still_closes(server: Server) -> None:
    async def main() -> None:
        client = await open_client(server)
        await call(server.freeze)
        assert await call(server.drop_all, 1012) == 1
        assert (await closed_with(client))[0] == 1012
        await call(server.thaw)

    arun(main())


# -- refuse / accept_again ----------------------------------------------------------------------


def test_refuse_answers_503_and_counts_attempts(server: Server) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    server.add_listener(lambda event, info: events.append((event, info)))

    async def main() -> None:
        async with await open_client(server, ["a"]) as existing:
            await call(server.refuse)
            assert "refusing" in repr(server)
            for _ in range(3):
                with pytest.raises(InvalidStatus) as info:
                    await connect(server.url(), open_timeout=5)
                assert info.value.response.status_code == 503
                assert b"refuse()" in info.value.response.body
            assert server.handshake_attempts == 4  # 1 accepted + 3 refused
            assert await call(server.publish, "a", "still.here") == 1  # others unaffected
            assert (await recv_json(existing))["type"] == "still.here"
            await call(server.accept_again)
            async with await open_client(server):
                assert server.connection_count == 2

    arun(main())
    assert ("refused", {"path": "/ws", "status": 503}) in events
    assert ("fault", {"fault": "refuse"}) in events


# -- delay ----------------------------------------------------------------------------------------


def test_delay_sends_frames_late_and_in_order(server: Server) -> None:
    async def main() -> None:
        async with await open_client(server, ["a"]) as client:
            await call(server.delay, 0.6)
            assert "delay 0.6 s" in repr(server)
            # Causally ordered: each publish returns before the next frame is made.
            await call(server.publish, "a", "event", n=1)
            await call(server.publish, "a", "event", n=2)
            await client.send('{"type": "ping", "n": 3}')
            assert await quiet(client)  # nothing before the delay has passed
            got = [await recv_json(client) for _ in range(3)]
            assert [m["n"] for m in got] == [1, 2, 3]
            await call(server.delay, 0)
            await client.send('{"type": "ping", "n": 4}')
            assert (await recv_json(client, timeout=5))["n"] == 4

    arun(main())


def test_delay_rejects_bad_values(server: Server) -> None:
    for bad in (-1, float("nan"), 1e9, "1", True):
        with pytest.raises(ValueError, match="delay"):
            server.delay(bad)  # type: ignore[arg-type]


# -- bad input never takes the server down ------------------------------------------------------


@pytest.mark.parametrize(("frame", "error"), [
    ("{oops", "bad-json"),
    ("[1, 2, 3]", "not-an-object"),
    ("42", "not-an-object"),
    ('{"no": "type"}', "missing-type"),
    ('{"type": "dance"}', "unknown-type"),
    ('{"type": "subscribe", "topics": ["UPPER"]}', "bad-topic"),
    ('{"type": "subscribe", "topics": 7}', "bad-topics"),
    (b"\xc3\x28", "bad-utf8"),
])
def test_bad_input_gets_an_error_and_others_keep_receiving(server: Server, frame: str | bytes,
                                                            error: str) -> None:
    async def main() -> None:
        sender = await open_client(server, ["a"])
        other = await open_client(server, ["a"])
        async with sender, other:
            await sender.send(frame)
            answer = await recv_json(sender)
            assert answer["type"] == "error" and answer["error"] == error
            assert await call(server.publish, "a", "after.bad.input") == 2
            assert (await recv_json(sender))["type"] == "after.bad.input"
            assert (await recv_json(other))["type"] == "after.bad.input"

    arun(main())


def test_bad_topic_in_the_url_closes_1008_naming_it(server: Server) -> None:
    async def main() -> None:
        client = await connect(server.url(topics=["fine", "Not-Fine"]))
        code, reason = await closed_with(client)
        assert code == 1008 and reason is not None and "'Not-Fine'" in reason
        async with await open_client(server, ["fine"]):
            pass

    arun(main())


def test_frame_over_the_size_limit_closes_1009_for_that_client_only(server: Server) -> None:
    async def main() -> None:
        big = await open_client(server, ["a"])
        other = await open_client(server, ["a"])
        async with other:
            await big.send("x" * (DEFAULT_MAX_SIZE + 1))
            assert (await closed_with(big))[0] == 1009
            assert await call(server.publish, "a", "still.up") == 1
            assert (await recv_json(other))["type"] == "still.up"

    arun(main())


def test_a_custom_size_limit() -> None:
    with serve(max_size=10) as server:

        async def main() -> None:
            client = await open_client(server, path="/echo")
            await client.send("0123456789")
            assert await client.recv() == "0123456789"
            await client.send("0123456789!")
            assert (await closed_with(client))[0] == 1009

        arun(main())


def test_handler_that_raises_closes_1011_for_that_client_only(
        caplog: pytest.LogCaptureFixture) -> None:
    app = topic_app()

    @app.websocket("/fragile")
    async def fragile(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            if text == "crash":
                raise KeyError("bug in handler")
            await websocket.send_text(text.upper())

    with serve(app) as server, caplog.at_level(logging.ERROR, logger="wslearn.server"):

        async def main() -> None:
            crasher = await open_client(server, path="/fragile")
            fine = await open_client(server, path="/fragile")
            subscriber = await open_client(server, ["a"])
            async with fine, subscriber:
                await crasher.send("crash")
                code, reason = await closed_with(crasher)
                assert code == 1011 and reason is not None and "KeyError" in reason
                await fine.send("hi")
                assert await fine.recv() == "HI"
                assert await call(server.publish, "a", "ok") == 1
                assert (await recv_json(subscriber))["type"] == "ok"

        arun(main())
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)


def test_an_endpoint_that_ignores_disconnects_cannot_block_stop() -> None:
    app = App()

    @app.websocket("/stubborn")
    async def stubborn(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:  # never receives, so it never notices the close
            await asyncio.sleep(0.05)

    server = serve(app, close_timeout=0.3)  # the stubborn handler is cancelled after it

    async def main() -> None:
        client = await connect(server.url("/stubborn"), close_timeout=1)
        await call(server.stop)
        assert (await closed_with(client))[0] == 1001

    try:
        arun(main())
    finally:
        server.stop()


def test_a_client_that_stops_reading_is_closed_not_buffered_forever(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wslearn.server.MAX_BUFFERED", 256 * 1024)

    async def main() -> None:
        # max_queue=1: the client stops reading its socket after one unread message.
        stuck = await connect(server.url(topics=["big"]), max_queue=1, close_timeout=1)
        fine = await open_client(server, ["big"])
        async with fine:
            assert (await recv_json(stuck))["type"] == "welcome"
            chunk = "x" * 32_000
            for i in range(200):  # ~6 MB for a client that reads nothing
                await call(server.publish, "big", "blob", i=i, data=chunk)
                await fine.recv()  # the reading client keeps up
                if server.connection_count == 1:
                    break
            with contextlib.suppress(TimeoutError):
                await until(lambda: server.connection_count == 1, 5.0)
            assert [c.id for c in server.connections] == [2]  # only the stuck one went
            assert await call(server.publish, "big", "small", i=-1) == 1
            while (await recv_json(fine))["type"] != "small":
                pass
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(stuck.recv(), 10)

    arun(main())
