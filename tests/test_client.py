"""Client: the asyncio driver's API -- lifecycle, step(), listeners, send, topics, cleanup."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from tests.support import arun
from wslearn.backoff import BackoffPolicy
from wslearn.client import Client, Frame
from wslearn.clock import SpedUpClock, run_virtual
from wslearn.heartbeat import HeartbeatPolicy
from wslearn.server import serve
from wslearn.simnet import SimNetwork
from wslearn.states import State
from wslearn.waiting import until


def sim(**server_kwargs: Any) -> tuple[SimNetwork, Any]:
    net = SimNetwork()
    return net, net.serve(**server_kwargs)


def virtual(fn: Any) -> Any:
    return run_virtual(fn, strict=True)


# -- construction -------------------------------------------------------------------------


def test_bad_arguments_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="websocket URL"):
        Client("http://example.org/ws")
    with pytest.raises(TypeError, match="url must be a str"):
        Client(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of names"):
        Client("ws://x/ws", topics="news")
    with pytest.raises(ValueError, match="invalid topic"):
        Client("ws://x/ws", topics=["Bad Topic"])
    with pytest.raises(TypeError, match="Clock"):
        Client("ws://x/ws", clock=1)  # type: ignore[arg-type]


def test_url_topics_and_extra_query_are_kept() -> None:
    client = Client("ws://x/ws?topics=a,b&token=t", topics=["c", "a"])
    assert client.topics == ("a", "b", "c")
    assert client.url == "ws://x/ws?token=t&topics=a,b,c"
    assert repr(client) == "<Client disconnected topics=a,b,c attempt 0/5>"
    assert client.state is State.DISCONNECTED


def test_close_before_connect_needs_no_loop_work() -> None:
    async def main() -> None:
        client = Client("ws://x/ws")
        await client.close()
        await client.close()  # idempotent
        assert client.state == "closed"
        with pytest.raises(RuntimeError, match="was closed"):
            await client.connect()
        with pytest.raises(ConnectionError, match="closed"):
            await client.wait_for("connected")

    arun(main())


# -- lifecycle against the simulation -------------------------------------------------


def test_context_manager_connects_and_cleans_up() -> None:
    async def main() -> None:
        net, server = sim()
        states: list[str] = []
        async with Client(server.url(topics=["news"]), dialer=net.dialer) as client:
            client.add_listener(lambda kind, p: states.append(p) if kind == "state" else None)
            assert client.state == "connected" and server.connection_count == 1
            assert server.connections[0].topics == ("news",)
        assert client.state == "closed" and server.connection_count == 0
        assert states == ["closed"]
        server.stop()

    virtual(main)


def test_first_connect_failing_leaves_the_client_retrying() -> None:
    async def main() -> None:
        net, server = sim()
        server.stop()
        client = Client(server.url(), dialer=net.dialer)
        await client.connect()  # returns once the first attempt settled
        assert client.state == "reconnecting" and client.attempt == 1
        server.start()
        await client.wait_for("connected")
        await client.close()
        server.stop()

    virtual(main)


def test_reconnect_button_after_giving_up() -> None:
    async def main() -> None:
        net, server = sim()
        client = Client(server.url(), dialer=net.dialer, policy=BackoffPolicy(max_attempts=2))
        await client.connect()
        server.stop()
        await client.wait_for("reconnecting")
        with pytest.raises(ConnectionError, match="became disconnected"):
            await client.wait_for("connected")
        assert client.notifications == ["WebSocket unavailable"]
        server.start()
        await client.reconnect()
        assert client.state == "connected"
        assert "reconnect requested" in client.timeline.where("connect")[-1].text
        await client.close()
        server.stop()

    virtual(main)


def test_close_during_a_held_handshake_cancels_the_dial() -> None:
    async def main() -> None:
        net, server = sim()
        server.freeze()
        client = Client(server.url(), dialer=net.dialer, paused=True)
        await client.connect()  # the dial hangs in the frozen server
        await asyncio.sleep(1)
        assert server.handshake_attempts == 1
        await client.close()
        server.thaw()
        await asyncio.sleep(1)
        assert server.connection_count == 0
        server.stop()

    virtual(main)


def test_open_timeout_fails_a_hanging_attempt() -> None:
    async def main() -> None:
        net, server = sim()
        server.freeze()
        client = Client(server.url(), dialer=net.dialer, open_timeout=5,
                        policy=BackoffPolicy(max_attempts=1))
        await client.connect()
        assert client.timeline[-1].text == (
            "connect failed (no answer within 5.0s); attempt 1/1 in 1.0s"
        )
        server.thaw()
        await client.wait_for("connected")
        await client.close()
        server.stop()

    virtual(main)


def test_wait_for_timeout_and_bad_state() -> None:
    async def main() -> None:
        net, server = sim()
        async with Client(server.url(), dialer=net.dialer) as client:
            with pytest.raises(TimeoutError):
                await client.wait_for("reconnecting", timeout=3)
            with pytest.raises(ValueError, match="unknown state"):
                await client.wait_for("online")
        server.stop()

    virtual(main)


# -- step by step -----------------------------------------------------------------------

STORY = """\
t=    0.0s  connected     server stopped
t=    0.0s  reconnecting  connection lost (1001 going away: server stopped); attempt 1/3 in 1.0s
---
t=    1.0s  reconnecting  attempt 1/3: opening the socket
---
t=    1.0s  reconnecting  attempt 1/3 failed (connection refused); attempt 2/3 in 2.0s
---
t=    3.0s  reconnecting  attempt 2/3: opening the socket
---
t=    3.0s  connected     connected on attempt 2/3; attempts reset; resubscribe + invalidate \
subscribed queries"""


def test_step_shows_the_story_between_stopped_and_reconnected() -> None:
    async def main() -> str:
        net, server = sim()
        client = Client(server.url(), dialer=net.dialer, policy=BackoffPolicy(max_attempts=3))
        await client.connect()
        client.pause()
        start = len(client.timeline)
        client.note("server stopped")
        server.stop()
        chunks = []
        for _ in range(3):
            chunks.append((await client.step()).to_text())
        client.note("server started")
        server.start()
        start2 = len(client.timeline) - 1
        chunks.append((await client.step()).to_text())
        chunks.append((await client.step()).to_text())
        assert client.timeline.since(start2)[0].text == "server started"
        client.resume()
        await client.close()
        server.stop()
        chunks[0] = client.timeline.since(start)[:2].to_text()
        return "\n---\n".join(chunks)

    assert virtual(main) == STORY


def test_step_with_nothing_to_do_times_out_and_step_needs_a_started_client() -> None:
    async def main() -> None:
        net, server = sim()
        client = Client(server.url(), dialer=net.dialer)
        with pytest.raises(RuntimeError, match="connect"):
            await client.step()
        await client.connect()
        with pytest.raises(TimeoutError):
            await client.step(timeout=100)  # connected, no heartbeat: nothing will happen
        await client.close()
        with pytest.raises(RuntimeError, match="closed"):
            await client.step()
        server.stop()

    virtual(main)


def test_messages_flow_while_paused_and_requests_act_at_once() -> None:
    async def main() -> None:
        net, server = sim()
        got: list[int] = []
        client = Client(server.url(topics=["news"]), dialer=net.dialer, paused=True)
        client.on("news.posted", lambda d: got.append(d["id"]))
        await client.connect()
        assert client.state == "connecting"  # paused: the open waits for step()
        await client.step()
        server.publish("news", "news.posted", id=1)
        await asyncio.sleep(0.1)
        assert got == [1]  # frames are not transitions: they flow while paused
        server.stop()
        await asyncio.sleep(10)  # the loss is a transition: it waits for step()
        assert client.state == "connected"
        assert [e.kind for e in await client.step()] == ["lost"]
        await asyncio.sleep(10)  # the reconnect timer fired, but waits for step() too
        assert client.state == "reconnecting" and client.attempt == 1
        assert server.handshake_attempts == 1
        await client.close()  # a request does not wait for step()

    virtual(main)


def test_pong_is_a_transition_in_step_mode() -> None:
    async def main() -> None:
        net, server = sim()
        client = Client(server.url(), dialer=net.dialer, paused=True,
                        heartbeat=HeartbeatPolicy(interval=5, timeout=2))
        await client.connect()
        assert [e.kind for e in await client.step()] == ["connected"]
        assert [e.text for e in await client.step()] == ["ping sent; pong due within 2.0s"]
        assert [e.text for e in await client.step()] == ["pong received; next ping in 5.0s"]
        assert client.machine.t == 5.0
        await client.close()
        server.stop()

    virtual(main)


# -- messages, handlers, listeners ---------------------------------------------------


def test_listeners_see_states_entries_frames_and_notifications() -> None:
    async def main() -> list[str]:
        net, server = sim()
        seen: list[str] = []

        def listener(kind: str, payload: Any) -> None:
            if kind == "entry":
                seen.append(f"entry:{payload.kind}")
            elif kind == "frame":
                seen.append(f"frame:{payload.direction}:{payload.type}")
            else:
                seen.append(f"{kind}:{payload}")

        client = Client(server.url(topics=["news"]), dialer=net.dialer,
                        policy=BackoffPolicy(max_attempts=1))
        remove = client.add_listener(listener)
        await client.connect()
        server.publish("news", "news.posted", id=1)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        server.stop()
        await client.wait_for("disconnected")
        remove()
        await client.close()
        return seen

    assert virtual(main) == [
        "entry:connect", "state:connecting",
        "entry:connected", "state:connected",
        "frame:in:welcome", "frame:in:news.posted",
        "entry:lost", "state:reconnecting",
        "entry:attempt",
        "entry:gave-up", "notify:WebSocket unavailable", "state:disconnected",
    ]


def test_a_listener_that_raises_becomes_an_error_entry() -> None:
    async def main() -> None:
        net, server = sim()
        client = Client(server.url(), dialer=net.dialer)

        def broken(kind: str, payload: Any) -> None:
            raise RuntimeError("widget crashed")

        client.add_listener(broken)
        async with client:
            assert client.state == "connected"
        errors = [e.text for e in client.timeline.where("error")]
        assert errors and errors[0] == "listener broken raised RuntimeError: widget crashed"
        server.stop()

    virtual(main)


def test_async_handlers_are_isolated_too() -> None:
    async def main() -> None:
        net, server = sim()
        done: list[int] = []
        async with Client(server.url(topics=["news"]), dialer=net.dialer) as client:

            @client.on("news.posted")
            async def slow(data: dict) -> None:
                await asyncio.sleep(1)
                if data["id"] == 1:
                    raise KeyError("boom")
                done.append(data["id"])

            server.publish("news", "news.posted", id=1)
            server.publish("news", "news.posted", id=2)
            await asyncio.sleep(2)
            assert done == [2]
            assert [e.text for e in client.timeline.where("error")] == [
                "handler error: KeyError: 'boom' in slow"
            ]
        server.stop()

    virtual(main)


def test_send_and_frames() -> None:
    async def main() -> None:
        net, server = sim()
        client = Client(server.url(), dialer=net.dialer)
        with pytest.raises(ConnectionError, match="not connected"):
            await client.send({"type": "ping"})
        async with client:
            await asyncio.sleep(0.1)  # the welcome arrives
            await client.send({"type": "ping", "n": 1})
            await client.send('{"type": "nonsense"}')
            await asyncio.sleep(0.1)
            with pytest.raises(ValueError, match='"type"'):
                await client.send({"no": "type"})
            with pytest.raises(TypeError):
                await client.send(42)  # type: ignore[arg-type]
        texts = [str(f) for f in client.frames]
        assert texts == [
            '<- {"type":"welcome","topics":[]}',
            '-> {"type":"ping","n":1}',
            '-> {"type": "nonsense"}',
            '<- {"type":"pong","n":1}',
            '<- {"type":"error","error":"unknown-type","detail":"unknown message type '
            "'nonsense'\"}",
        ]
        assert client.frames[1] == Frame("out", "ping", None, '{"type":"ping","n":1}')
        server.stop()

    virtual(main)


# -- topics ---------------------------------------------------------------------------


def test_subscribe_while_connected_and_offline_then_resubscribe_on_reconnect() -> None:
    async def main() -> None:
        net, server = sim()
        async with Client(server.url(topics=["a"]), dialer=net.dialer) as client:
            await client.subscribe("b")
            await asyncio.sleep(0.1)
            assert server.connections[0].topics == ("a", "b")
            await client.unsubscribe("a", "never-had")
            await asyncio.sleep(0.1)
            assert server.connections[0].topics == ("b",)
            server.stop()
            await client.wait_for("reconnecting")
            await client.subscribe("c")  # offline: remembered for the next connect
            assert client.url.endswith("?topics=b,c")
            server.start()
            await client.wait_for("connected")
            await asyncio.sleep(0.1)
            assert server.connections[0].topics == ("b", "c")
            assert client.subscriptions.in_sync
        server.stop()

    virtual(main)


# -- zero leftovers ---------------------------------------------------------------------


def test_close_leaves_no_task_and_no_connection() -> None:
    async def main() -> None:
        net, server = sim()
        clients = [Client(server.url(), dialer=net.dialer,
                          heartbeat=HeartbeatPolicy(interval=1, timeout=1)) for _ in range(10)]
        for c in clients:
            await c.connect()
        assert server.connection_count == 10
        await asyncio.sleep(3.5)  # some pings in flight
        await asyncio.gather(*(c.close() for c in clients))
        assert server.connection_count == 0
        current = asyncio.current_task()
        assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []
        server.stop()

    virtual(main)


def test_real_server_round_trip_and_cleanup() -> None:
    """The real network path: connect, publish, heartbeat, close -> zero connections."""

    async def main() -> None:
        server = await asyncio.to_thread(serve)
        try:
            got: list[int] = []
            client = Client(server.url(topics=["news"]), clock=SpedUpClock(20),
                            heartbeat=HeartbeatPolicy(interval=1, timeout=40))
            client.on("news.posted", lambda d: got.append(d["id"]))
            async with client:
                await asyncio.to_thread(server.publish, "news", "news.posted", id=3)
                with contextlib.suppress(TimeoutError):
                    await until(lambda: got and client.machine.pongs, 3.0)
                assert got == [3] and client.machine.pongs >= 1
            with contextlib.suppress(TimeoutError):
                await until(lambda: server.connection_count == 0, 3.0)
            assert server.connection_count == 0
        finally:
            await asyncio.to_thread(server.stop)

    arun(main())


def test_real_dial_failures_have_stable_reasons() -> None:
    async def main() -> list[str]:
        server = await asyncio.to_thread(serve)
        url = server.url()
        try:
            await asyncio.to_thread(server.refuse)
            c1 = Client(url, policy=BackoffPolicy(max_attempts=1))
            await c1.connect()
            await c1.close()
            await asyncio.to_thread(server.accept_again)
            c2 = Client(url.replace("/ws", "/nowhere"), policy=BackoffPolicy(max_attempts=1))
            await c2.connect()
            await c2.close()
        finally:
            await asyncio.to_thread(server.stop)
        c3 = Client(url, policy=BackoffPolicy(max_attempts=1))
        await c3.connect()
        await c3.close()
        return [c.timeline.where("failed")[0].text for c in (c1, c2, c3)]

    assert arun(main()) == [
        "connect failed (HTTP 503); attempt 1/1 in 1.0s",
        "connect failed (HTTP 404); attempt 1/1 in 1.0s",
        "connect failed (connection refused); attempt 1/1 in 1.0s",
    ]


def test_client_cannot_move_between_loops() -> None:
    client_box: list[Client] = []

    async def first() -> None:
        net, server = sim()
        client = Client(server.url(), dialer=net.dialer)
        client_box.append(client)
        await client.connect()
        await client.close()
        server.stop()

    virtual(first)

    async def second() -> None:
        with pytest.raises(RuntimeError, match="closed"):
            await client_box[0].connect()

    virtual(second)


def test_wait_for_after_giving_up_says_what_to_do() -> None:
    """A client that gave up never reconnects on its own: waiting for ``connected`` must
    fail at once with the next step, not hang (the seed's "Reconnect" button moment)."""
    from wslearn.clock import run_virtual
    from wslearn.simnet import SimNetwork

    async def main() -> str:
        net = SimNetwork()
        server = net.serve()
        client = Client(server.url(), dialer=net.dialer)
        await client.connect()
        await client.wait_for("connected")
        server.stop()
        await client.wait_for("reconnecting")
        with contextlib.suppress(ConnectionError):
            await client.wait_for("connected")  # raised on the transition to disconnected
        try:
            await client.wait_for("connected")
        except ConnectionError as exc:
            message = str(exc)
        else:
            message = ""
        await client.close()
        return message

    assert "client.reconnect()" in run_virtual(main)
