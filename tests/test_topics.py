"""``TopicHub`` and ``topic_app()`` over in-memory channels: the wire protocol itself.

The same protocol is tested over real sockets in ``test_server*.py``; here each rule
is pinned down without the network, so a failure points at the app, not the IO.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from support import arun

from wslearn.app import WebSocket, WebSocketDisconnect
from wslearn.protocol import MAX_TOPICS, ProtocolError
from wslearn.topics import TopicHub, topic_app


class FakeChannel:
    """A channel whose peer is the test (see ``test_app.FakeChannel``)."""

    def __init__(self, path: str = "/ws", query: str = "", id: int = 1) -> None:
        self.id, self.path, self.query = id, path, query
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.sent: list[Any] = []
        self.closed: tuple[int, str] | None = None

    async def recv(self) -> str | bytes:
        item = await self.inbox.get()
        if isinstance(item, WebSocketDisconnect):
            raise item
        return item

    async def send(self, data: str | bytes) -> None:
        self.sent.append(data)

    def send_nowait(self, data: str | bytes) -> bool:
        self.sent.append(data)
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = self.closed or (code, reason)


async def accepted(id: int = 1) -> tuple[WebSocket, FakeChannel]:
    channel = FakeChannel(id=id)
    websocket = WebSocket(channel)
    await websocket.accept()
    return websocket, channel


async def talk(query: str, *frames: str | bytes) -> FakeChannel:
    """Run the topic app's /ws endpoint: send ``frames``, then disconnect."""
    app = topic_app()
    channel = FakeChannel(query=query)
    for frame in frames:
        channel.inbox.put_nowait(frame)
    channel.inbox.put_nowait(WebSocketDisconnect(1000))
    await app.handle(channel)
    assert app.state.hub.subscriptions() == {}  # disconnect cleaned up the hub
    return channel


def replies(channel: FakeChannel) -> list[dict[str, Any]]:
    return [json.loads(frame) for frame in channel.sent]


# -- TopicHub ---------------------------------------------------------------------------


def test_publish_goes_only_to_subscribers_and_encodes_once() -> None:
    async def main() -> None:
        hub = TopicHub()
        (a, ca), (b, cb), (c, cc) = [await accepted(i) for i in (1, 2, 3)]
        hub.connect(a, ["analysis"])
        hub.connect(b, ["analysis", "proposals"])
        hub.connect(c, [])
        assert hub.publish("analysis", "analysis.updated", id=1) == 2
        assert hub.publish("proposals", "proposal.created", id=7) == 1
        assert hub.publish("knowledge", "k", id=0) == 0
        assert ca.sent == ['{"type":"analysis.updated","topic":"analysis","id":1}']
        assert cb.sent[1] == '{"type":"proposal.created","topic":"proposals","id":7}'
        assert cc.sent == []
        assert ca.sent[0] is cb.sent[0]  # one encode, the same str for every subscriber

    arun(main())


def test_subscribe_unsubscribe_and_subscriptions_snapshot() -> None:
    async def main() -> None:
        hub = TopicHub()
        a, _ = await accepted(1)
        hub.connect(a, ["x"])
        assert hub.subscribe(a, ["y", "x", "z"]) == ["x", "y", "z"]
        assert hub.unsubscribe(a, ["x", "never"]) == ["y", "z"]
        assert hub.subscriptions() == {1: ("y", "z")}
        assert hub.publish("x", "t") == 0
        with pytest.raises(ProtocolError, match="bad-topic"):
            hub.subscribe(a, ["Bad Topic"])
        with pytest.raises(ProtocolError, match="too-many-topics"):
            hub.subscribe(a, [f"t{i}" for i in range(MAX_TOPICS)])
        assert hub.topics_of(a) == ["y", "z"]  # a failed subscribe changes nothing
        hub.disconnect(a)
        hub.disconnect(a)  # idempotent
        assert hub.subscriptions() == {}

    arun(main())


def test_publish_records_version_and_last_and_wakes_waiters() -> None:
    async def main() -> None:
        hub = TopicHub()
        assert (hub.version("a"), hub.last("a")) == (0, None)
        waiter = hub.changed("a")
        other = hub.changed("b")
        hub.publish("a", "a.changed", n=1)
        hub.publish("a", "a.changed", n=2)
        assert waiter.done() and not other.done()
        hub.forget("b", other)
        other.cancel()
        assert hub.version("a") == 2
        assert hub.last("a") == {"type": "a.changed", "topic": "a", "n": 2}

    arun(main())


def test_publish_rejects_bad_input_clearly() -> None:
    hub = TopicHub()
    with pytest.raises(ProtocolError, match="invalid topic"):
        hub.publish("No Such", "t")
    with pytest.raises(ValueError, match="non-empty str type"):
        hub.publish("a", "")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        hub.publish("a", "t", value={1, 2})
    assert hub.version("a") == 0  # nothing was recorded


# -- topic_app over a channel ------------------------------------------------------------


def test_welcome_lists_the_topics_of_the_url() -> None:
    channel = arun(talk("topics=analysis,proposals,analysis"))
    assert replies(channel) == [{"type": "welcome", "topics": ["analysis", "proposals"]}]


def test_ping_gets_pong_with_extra_fields_echoed() -> None:
    channel = arun(talk("", '{"type": "ping"}', '{"type": "ping", "id": 3, "t": "x"}'))
    assert replies(channel)[1:] == [{"type": "pong"}, {"type": "pong", "id": 3, "t": "x"}]


def test_subscribe_and_unsubscribe_answer_with_all_current_topics() -> None:
    channel = arun(talk(
        "topics=a",
        '{"type": "subscribe", "topics": ["b", "c"]}',
        '{"type": "unsubscribe", "topics": ["a"]}',
    ))
    assert replies(channel)[1:] == [
        {"type": "subscribed", "topics": ["a", "b", "c"]},
        {"type": "subscribed", "topics": ["b", "c"]},
    ]


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("{not json", "bad-json"),
        ("[1, 2]", "not-an-object"),
        ('"text"', "not-an-object"),
        ("{}", "missing-type"),
        ('{"type": 5}', "missing-type"),
        ('{"type": "dance"}', "unknown-type"),
        ('{"type": "subscribe", "topics": ["Bad!"]}', "bad-topic"),
        ('{"type": "subscribe", "topics": "a,b"}', "bad-topics"),
        ('{"type": "unsubscribe"}', "bad-topics"),
        (b"\xff\x00", "bad-utf8"),
    ],
)
def test_bad_input_gets_an_error_and_the_connection_stays(frame: str | bytes, error: str) -> None:
    channel = arun(talk("", frame, '{"type": "ping"}'))
    _welcome, answer, pong = replies(channel)
    assert answer["type"] == "error" and answer["error"] == error and answer["detail"]
    assert pong == {"type": "pong"}
    assert channel.closed is None


def test_bad_topic_in_url_closes_1008_with_a_reason_naming_it() -> None:
    channel = arun(talk("topics=ok,Not_OK"))
    assert channel.sent == []
    assert channel.closed is not None
    code, reason = channel.closed
    assert code == 1008 and "'Not_OK'" in reason


def test_too_many_topics_in_url_closes_1008() -> None:
    query = "topics=" + ",".join(f"t{i}" for i in range(MAX_TOPICS + 1))
    channel = arun(talk(query))
    assert channel.closed is not None and channel.closed[0] == 1008
    assert "at most" in channel.closed[1]


def test_echo_returns_every_frame_as_it_came() -> None:
    async def main() -> FakeChannel:
        app = topic_app()
        channel = FakeChannel(path="/echo")
        for item in ("text", b"\x00bytes", WebSocketDisconnect(1000)):
            channel.inbox.put_nowait(item)
        await app.handle(channel)
        return channel

    assert arun(main()).sent == ["text", b"\x00bytes"]


def test_each_topic_app_has_its_own_hub() -> None:
    one, two = topic_app(), topic_app()
    assert one.state.hub is not two.state.hub
    assert one.paths == ["/echo", "/ws"]
