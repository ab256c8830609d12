"""Client: chapter 11's options, each on its own -- close policy, connect timeout, token
and auth, resume with a cursor, the send queue, and the browser's signals.

These run on the in-memory network under ``run_virtual`` against small *scripted*
servers (an ``App`` whose endpoint plays exactly the frames a test needs), so each
client rule is checked without depending on the topic server's own resume and auth
code; ``tests/test_resilience_matrix.py`` runs the same behaviours against the real
``Server`` and ``SimServer`` side by side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest

from wslearn.app import App, WebSocket
from wslearn.backoff import BackoffPolicy
from wslearn.cache import QueryCache
from wslearn.client import MAX_QUEUE_ENTRIES, Client
from wslearn.clock import run_virtual
from wslearn.close_policy import MODULE_07, RECOMMENDED
from wslearn.machine import Resync
from wslearn.protocol import AUTH_EXPIRED, encode
from wslearn.send_queue import SendQueue, SendQueueFull
from wslearn.simnet import SimNetwork
from wslearn.waiting import until

TOKEN = "1.30000.0123456789abcdef0123456789abcdef"

Script = Callable[[WebSocket, int], Coroutine[Any, Any, None]]


class Scripted:
    """A server whose endpoint runs ``script(websocket, n)`` for connection ``n`` (1, 2...).

    It records every connection's query parameters and the frames it received.
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.queries: list[dict[str, str]] = []
        self.received: list[list[str]] = []
        app = App()

        @app.websocket("/ws")
        async def endpoint(websocket: WebSocket) -> None:
            await websocket.accept()
            self.queries.append(dict(websocket.query_params))
            self.received.append([])
            n = len(self.queries)
            loop = asyncio.get_running_loop()
            reader = loop.create_task(self._read(websocket, n))
            script = loop.create_task(self.script(websocket, n))
            try:
                await reader  # the connection is over (either side closed it)
                await asyncio.wait({script}, timeout=0)
            finally:
                for task in (reader, script):
                    task.cancel()
                await asyncio.gather(reader, script, return_exceptions=True)

        self.net = SimNetwork()
        self.server = self.net.serve(app)

    async def _read(self, websocket: WebSocket, n: int) -> None:
        async for text in websocket.iter_text():
            self.received[n - 1].append(text)

    def client(self, **kwargs: Any) -> Client:
        kwargs.setdefault("topics", ["news"])
        return Client("ws://sim/ws", dialer=self.net.dialer, **kwargs)


async def welcome(ws: WebSocket, **seq: int) -> None:
    topics = sorted(seq) or ["news"]
    message: dict[str, Any] = {"type": "welcome", "topics": topics}
    if seq:
        message["seq"] = seq
    await ws.send_text(encode(message))


async def event(ws: WebSocket, seq: int | None, topic: str = "news", **fields: Any) -> None:
    message = {"type": f"{topic}.posted", "topic": topic, **fields}
    if seq is not None:
        message["seq"] = seq
    await ws.send_text(encode(message))


def virtual(main: Callable[[], Awaitable[Any]]) -> Any:
    return run_virtual(main, strict=True)


def bound_cache() -> QueryCache:
    cache = QueryCache()
    for topic in ("news", "sport"):
        cache.define((topic,), lambda: "data")
        cache.bind(topic, (topic,))
        cache.observe((topic,))  # fetch 1 of each
    return cache


# -- construction ---------------------------------------------------------------------------


def test_bad_options_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="auth must be one of"):
        Client("ws://x/ws", auth="cookie")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs token="):
        Client("ws://x/ws", auth="first-message")
    with pytest.raises(TypeError, match="token must be a str or a function"):
        Client("ws://x/ws", token=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        Client("ws://x/ws", token="")
    with pytest.raises(TypeError, match="SendQueue"):
        Client("ws://x/ws", send_queue=[])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="resume must be True or False"):
        Client("ws://x/ws", resume="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ClosePolicy"):
        Client("ws://x/ws", close_policy="recommended")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="or None"):
        Client("ws://x/ws", open_timeout=0)


def test_options_reach_the_machine_and_defaults_stay_module_07() -> None:
    plain = Client("ws://x/ws")
    assert plain.machine.close_policy is MODULE_07
    assert plain.machine.open_timeout == 10.0 and plain.cursor is None and plain.send_queue is None
    tuned = Client("ws://x/ws", close_policy=RECOMMENDED, open_timeout=None, resume=True,
                   policy=BackoffPolicy(min_uptime=5))
    assert tuned.machine.close_policy is RECOMMENDED
    assert tuned.machine.open_timeout is None and tuned.machine.resume
    assert tuned.policy.min_uptime == 5
    assert tuned.resume_stats == {"replayed": 0, "resynced": 0, "gaps": 0, "duplicates": 0}


def test_the_token_is_never_in_url_or_repr() -> None:
    client = Client("ws://x/ws?topics=a&token=old&lang=uk", token=TOKEN, resume=True)
    assert client.url == "ws://x/ws?lang=uk&topics=a&resume="
    assert TOKEN not in repr(client) and "old" not in client.url
    # without token= the URL's own query is kept as the user wrote it (Module 07)
    assert Client("ws://x/ws?token=t").url == "ws://x/ws?token=t"


# -- token and auth -----------------------------------------------------------------------------


def test_query_token_is_dialled_but_never_shown() -> None:
    async def script(ws: WebSocket, n: int) -> None:
        await welcome(ws)

    server = Scripted(script)

    async def main() -> Client:
        async with server.client(token=TOKEN) as client:
            await until(lambda: client.frames, what="the welcome")
        return client

    client = virtual(main)
    assert server.queries == [{"topics": "news", "token": TOKEN}]
    shown = client.timeline.to_text() + "".join(map(str, client.frames)) + repr(client)
    assert TOKEN not in shown and TOKEN not in client.url
    assert client.token_fetches == 0  # a str is the token itself: nothing to ask


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_token_function_is_asked_again_after_4401_only(kind: str) -> None:
    tokens = iter(["t1", "t2", "t3"])

    def sync_token() -> str:
        return next(tokens)

    async def async_token() -> str:
        await asyncio.sleep(0.5)  # a token endpoint takes a while
        return next(tokens)

    async def script(ws: WebSocket, n: int) -> None:
        await welcome(ws)
        if n == 1:
            await ws.close(AUTH_EXPIRED, "token expired")

    server = Scripted(script)
    source = sync_token if kind == "sync" else async_token

    async def main() -> Client:
        client = server.client(token=source, close_policy=RECOMMENDED)
        await client.connect()
        await until(lambda: len(server.queries) == 2 and client.state == "connected",
                    what="the refreshed connect")
        await client.close()
        return client

    client = virtual(main)
    assert [q["token"] for q in server.queries] == ["t1", "t2"]
    assert client.token_fetches == 2 and client.machine.refreshes == 1
    text = client.timeline.to_text()
    assert "refreshing the token" in text and "attempt 1/5" not in text  # no backoff


def test_second_4401_right_after_a_refresh_gives_up() -> None:
    async def script(ws: WebSocket, n: int) -> None:
        await ws.close(AUTH_EXPIRED, "token expired")

    server = Scripted(script)

    async def main() -> Client:
        client = server.client(token=lambda: TOKEN, close_policy=RECOMMENDED)
        await client.connect()
        await until(lambda: client.state == "disconnected", what="giving up")
        await client.close()
        return client

    client = virtual(main)
    assert len(server.queries) == 2 and client.token_fetches == 2
    assert client.notifications == ["WebSocket unavailable: log in again (4401 unauthorized: "
                                    "token missing or expired: token expired)"]


def test_each_expiry_after_a_working_token_refreshes_again() -> None:
    """Tokens that live 30 s: every expiry refreshes (the fresh token proved itself)."""
    tokens = (f"t{n}" for n in range(1, 100))

    async def script(ws: WebSocket, n: int) -> None:
        await welcome(ws)
        await asyncio.sleep(30)
        await ws.close(AUTH_EXPIRED, "token expired")

    server = Scripted(script)

    async def main() -> Client:
        client = server.client(token=lambda: next(tokens), close_policy=RECOMMENDED,
                               heartbeat=None)
        await client.connect()
        await until(lambda: len(server.queries) == 4, 200, what="three refreshes")
        await client.close()
        return client

    client = virtual(main)
    assert [q["token"] for q in server.queries] == ["t1", "t2", "t3", "t4"]
    assert client.machine.refreshes == 3 and client.notifications == []
    assert "up for 1.0s: the refreshed token works" in client.timeline.to_text()


def test_first_message_auth_goes_first_and_is_shown_redacted() -> None:
    async def script(ws: WebSocket, n: int) -> None:
        await welcome(ws)

    server = Scripted(script)

    async def main() -> Client:
        queue: SendQueue[str] = SendQueue(limit=5)
        client = server.client(token=TOKEN, auth="first-message", send_queue=queue)
        await client.send({"type": "chat.say", "text": "hi"})  # queued before the open
        await client.connect()
        await until(lambda: len(server.received[0]) == 2, what="auth + the queued message")
        await client.close()
        return client

    client = virtual(main)
    assert "token" not in server.queries[0]
    first, second = server.received[0]
    assert first == encode({"type": "auth", "token": TOKEN})
    assert second == encode({"type": "chat.say", "text": "hi"})
    out = [str(f) for f in client.frames if f.direction == "out"]
    assert out[0] == '-> {"type":"auth","token":"***"}' or '"***"' in out[0]
    assert TOKEN not in "".join(out) + client.timeline.to_text()


def test_a_failing_token_function_is_a_failed_open_without_its_text() -> None:
    calls = 0

    def token() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError(f"login server down, secret={TOKEN}")
        return TOKEN

    async def script(ws: WebSocket, n: int) -> None:
        await welcome(ws)

    server = Scripted(script)

    async def main() -> Client:
        client = server.client(token=token)
        await client.connect()
        await client.wait_for("connected")
        await client.close()
        return client

    client = virtual(main)
    text = client.timeline.to_text()
    assert "connect failed (no token (RuntimeError)); attempt 1/5 in 1.0s" in text
    assert TOKEN not in text and server.queries[0]["token"] == TOKEN


# -- resume ---------------------------------------------------------------------------------------


def test_resume_cursor_replay_duplicates_gaps_and_resync() -> None:
    """Open 1: welcome at #3, live #4 #4(dup) #6(gap). Open 2 (?resume=news:6): welcome
    at #8 and the replay #7 #8. Open 3: a resync for news at #20."""

    async def script(ws: WebSocket, n: int) -> None:
        if n == 1:
            await welcome(ws, news=3, sport=0)
            for seq in (4, 4, 6):
                await event(ws, seq)
            await event(ws, 1, topic="sport")
        elif n == 2:
            await welcome(ws, news=8, sport=1)
            await event(ws, 7)
            await event(ws, 8)
        else:
            await welcome(ws, news=20, sport=1)
            await ws.send_text(encode({"type": "resync", "topic": "news", "seq": 20,
                                       "missed": 12}))
        await ws.send_text(encode({"type": "done"}))
        if n < 3:
            await ws.close(1012, "restart")

    server = Scripted(script)
    cache = bound_cache()
    seen: list[int] = []

    async def main() -> Client:
        client = server.client(topics=["news", "sport"], resume=True, cache=cache)
        client.on("news.posted", lambda data: seen.append(data["seq"]))
        client.on("sport.posted", lambda data: None)
        dones: list[int] = []
        client.on("done", lambda data: dones.append(1))
        await client.connect()
        await until(lambda: len(dones) == 3, 60, what="three connections")
        await client.close()
        return client

    client = virtual(main)
    assert [q["resume"] for q in server.queries] == ["", "news:6,sport:1", "news:8,sport:1"]
    assert seen == [4, 6, 7, 8]
    assert client.resume_stats == {"replayed": 2, "resynced": 1, "gaps": 1, "duplicates": 1}
    assert client.cursor is not None and client.cursor.positions == {"news": 20, "sport": 1}
    virtual(lambda: client.unsubscribe("sport"))  # closed: only the local state changes
    assert client.cursor.positions == {"news": 20} and client.url.endswith("resume=news:20")
    text = client.timeline.to_text()
    assert "gap in news: #6 after #4; invalidate news queries" in text
    assert "resume from news #6 (server at #8)" in text
    assert "resync news: 12 events missed, more than the server kept; invalidate news " \
           "queries, continue from #20" in text
    assert "resubscribe + resume from the cursor" in text
    assert "cache after reconnect" not in text  # resume: no invalidate-everything
    # news: fetch 1 + event 4 + gap at 6 (one refetch: the topic's queries and the event's
    # own, in one pass) + 7 + 8 + resync; sport: fetch 1 + its one event -- never
    # refetched by a reconnect
    assert cache.fetch_count(("sport",)) == 2
    assert cache.fetch_count(("news",)) == 1 + 1 + 1 + 2 + 1
    assert "cache after gap: gap in news: message news.posted" in text


def test_without_resume_a_reconnect_still_invalidates_everything() -> None:
    async def script(ws: WebSocket, n: int) -> None:
        await welcome(ws, news=5)
        await event(ws, 6)
        if n == 1:
            await ws.close(1012, "restart")

    server = Scripted(script)
    cache = bound_cache()

    async def main() -> Client:
        client = server.client(cache=cache)
        await client.connect()
        await until(lambda: len(server.queries) == 2 and cache.fetch_count(("news",)) == 4,
                    what="the second connection")
        await client.close()
        return client

    client = virtual(main)
    assert "resume" not in server.queries[1]
    assert client.resume_stats["duplicates"] == 0  # no cursor: #6 twice is handled twice
    assert "cache after reconnect: reconnect: news" in client.timeline.to_text()
    assert Resync() == Resync(invalidate=True)


def test_bad_seq_fields_are_errors_not_crashes() -> None:
    async def script(ws: WebSocket, n: int) -> None:
        await ws.send_text(encode({"type": "welcome", "topics": ["news"], "seq": {"news": -1}}))
        await ws.send_text(encode({"type": "resync", "topic": "news", "seq": "x"}))
        await event(ws, None)  # unnumbered: handled as today
        await ws.send_text(encode({"type": "news.posted", "topic": "news", "seq": True}))

    server = Scripted(script)
    handled: list[int] = []

    async def main() -> Client:
        client = server.client(resume=True)
        client.on("news.posted", lambda data: handled.append(1))
        await client.connect()
        await until(lambda: len(handled) == 2, what="both events")
        await client.close()
        return client

    client = virtual(main)
    errors = [e.text for e in client.timeline if e.kind == "error"]
    assert errors == [
        'bad welcome message ignored (bad-message: "seq" must map topics to event numbers >= 0)',
        "bad resync message ignored (bad-message: resync needs \"seq\": the topic's event number)",
    ]


# -- send queue ---------------------------------------------------------------------------------


def test_without_a_queue_send_offline_raises_as_before() -> None:
    async def main() -> None:
        client = Client("ws://x/ws")
        with pytest.raises(ConnectionError, match="not connected"):
            await client.send({"type": "x"})
        await client.close()

    virtual(main)


def test_queue_flushes_in_order_after_the_open() -> None:
    async def script(ws: WebSocket, n: int) -> None:
        await welcome(ws)

    server = Scripted(script)

    async def main() -> Client:
        queue: SendQueue[str] = SendQueue(limit=2, overflow="drop-oldest")
        client = server.client(send_queue=queue)
        for i in range(3):
            await client.send({"type": "move", "i": i})
        assert len(queue) == 2 and queue.dropped == 1
        await client.connect()
        await until(lambda: len(server.received[0]) == 2, what="the flush")
        await client.send({"type": "move", "i": 3})  # connected: straight out
        await until(lambda: len(server.received[0]) == 3, what="a live send")
        await client.close()
        return client

    client = virtual(main)
    assert server.received[0] == [encode({"type": "move", "i": i}) for i in (1, 2, 3)]
    infos = [e.text for e in client.timeline if e.kind == "info"]
    assert infos == [
        "not connected: 'move' queued (1 waiting)",
        "not connected: 'move' queued (2 waiting)",
        "not connected: 'move' queued, the oldest dropped (2 waiting, 1 dropped)",
        "send queue: 2 messages sent after the open, oldest first",
    ]


def test_queue_reject_drop_and_bounded_lines() -> None:
    async def main() -> None:
        reject = Client("ws://x/ws", send_queue=SendQueue(limit=1, overflow="reject"))
        await reject.send({"type": "a"})
        with pytest.raises(SendQueueFull):
            await reject.send({"type": "b"})
        assert [e.kind for e in reject.timeline] == ["info", "error"]
        drop = Client("ws://x/ws", send_queue=SendQueue(limit=0))
        await drop.send({"type": "a"})
        assert drop.send_queue is not None and drop.send_queue.dropped == 1
        assert drop.timeline[-1].text == ("not connected: 'a' dropped (drop (messages sent "
                                          "while offline are lost))")
        many = Client("ws://x/ws", send_queue=SendQueue(limit=None))
        for i in range(50):
            await many.send({"type": "m", "i": i})
        assert len(many.timeline) == MAX_QUEUE_ENTRIES + 1  # then only counted
        for client in (reject, drop, many):
            await client.close()
        with pytest.raises(ConnectionError):
            await many.send({"type": "m"})  # closed: nothing would ever flush it

    virtual(main)


# -- connect timeout and the browser's signals -------------------------------------------------


def test_open_timeout_none_hangs_on_a_frozen_server_until_closed() -> None:
    async def script(ws: WebSocket, n: int) -> None:
        await welcome(ws)

    server = Scripted(script)

    async def main() -> Client:
        server.server.freeze()
        client = server.client(open_timeout=None)
        connecting = asyncio.create_task(client.connect())  # returns only once settled
        await asyncio.sleep(600)  # ten minutes: still "connecting", no timer armed
        assert client.state == "connecting" and client.machine.armed == {}
        await client.close()
        await connecting  # the close settled it
        server.server.thaw()
        return client

    client = virtual(main)
    assert client.timeline.to_text().splitlines()[-1].endswith(
        "closed by the client (was connecting)")


def test_offline_pauses_and_online_connects_now() -> None:
    async def script(ws: WebSocket, n: int) -> None:
        await welcome(ws)

    server = Scripted(script)

    async def main() -> Client:
        server.server.stop()
        client = server.client()
        await client.connect()  # refused: attempt 1/5 in 1 s
        await client.offline()
        await asyncio.sleep(100)
        assert client.state == "reconnecting" and client.machine.armed == {}
        server.server.start()
        await client.online()
        await client.wait_for("connected")
        await client.close()
        await client.online()  # harmless once closed
        return client

    client = virtual(main)
    text = client.timeline.to_text()
    assert "offline: attempt 1/5 paused until the network is back" in text
    assert "online: the network is back; connecting now (attempts reset)" in text
    assert len(server.queries) == 1


def test_visible_retries_now_instead_of_waiting_out_the_backoff() -> None:
    async def script(ws: WebSocket, n: int) -> None:
        await welcome(ws)

    server = Scripted(script)

    async def main() -> Client:
        server.server.stop()
        client = server.client()
        await client.connect()
        server.server.start()
        await client.visible()
        await client.wait_for("connected")
        assert client.machine.t == 0  # no backoff wait was spent
        await client.close()
        return client

    assert "page visible again: attempt 1/5 now" in virtual(main).timeline.to_text()
