"""Resume (issue 15, wire protocol 1 and 2): sequence numbers, replay from the hub's bounded
buffer, or ``resync`` -- on the real server and the simulated one alike, and on the
server-sent event stream with ``Last-Event-ID``. Sockets that do not ask for it get
exactly chapter 01's bytes."""

from __future__ import annotations

import json

import pytest
from rig_support import KINDS, Rig, param, run
from support import arun
from test_server_sse import open_stream

from wslearn.server import Server, serve
from wslearn.simnet import SimNetwork
from wslearn.topics import TopicHub


def url(rig: Rig, topics: list[str], resume: str | None = None) -> str:
    base = rig.server.url(topics=topics)
    return base if resume is None else param(base, resume=resume)


@pytest.mark.parametrize("kind", KINDS)
def test_resume_replays_exactly_the_missed_events(kind: str) -> None:
    async def body(rig: Rig) -> None:
        for n in (1, 2, 3):
            await rig.publish("a", "e", n=n)
        peer = await rig.connect(url(rig, ["a"], "a:1"))
        assert await peer.recv() == '{"type":"welcome","topics":["a"],"seq":{"a":3}}'
        assert await peer.recv() == '{"type":"e","topic":"a","n":2,"seq":2}'
        assert await peer.recv() == '{"type":"e","topic":"a","n":3,"seq":3}'
        assert await rig.publish("a", "e", n=4) == 1
        assert await peer.recv() == '{"type":"e","topic":"a","n":4,"seq":4}'  # seq goes last
        await peer.close()

    run(kind, body)


@pytest.mark.parametrize("kind", KINDS)
def test_resume_resyncs_when_the_gap_is_older_than_the_buffer(kind: str) -> None:
    async def body(rig: Rig) -> None:
        for n in range(5):
            await rig.publish("a", "e", n=n)
        peer = await rig.connect(url(rig, ["a"], "a:1"))
        assert (await peer.recv_json())["seq"] == {"a": 5}
        assert await peer.recv() == '{"type":"resync","topic":"a","seq":5,"missed":4}'
        assert await peer.quiet()  # nothing else: no partial replay
        await peer.close()

    run(kind, body, replay=2)


@pytest.mark.parametrize("kind", KINDS)
def test_resume_resyncs_with_missed_0_when_the_client_is_ahead(kind: str) -> None:
    async def body(rig: Rig) -> None:
        await rig.publish("a", "e")
        await rig.publish("a", "e")
        peer = await rig.connect(url(rig, ["a"], "a:9"))  # the server forgot (a restart)
        await peer.recv_json()
        assert await peer.recv_json() == {"type": "resync", "topic": "a", "seq": 2, "missed": 0}
        await peer.close()

    run(kind, body)


@pytest.mark.parametrize("kind", KINDS)
def test_up_to_date_cursor_replays_nothing_and_other_topics_follow_cursor_order(
        kind: str) -> None:
    async def body(rig: Rig) -> None:
        await rig.publish("a", "e", n=1)
        await rig.publish("b", "e", n=1)
        await rig.publish("b", "e", n=2)
        # "zz" is not subscribed: ignored. "b" comes first in the cursor, so first replayed.
        peer = await rig.connect(url(rig, ["a", "b"], "zz:0,b:0,a:1"))
        welcome = await peer.recv_json()
        assert welcome == {"type": "welcome", "topics": ["a", "b"], "seq": {"a": 1, "b": 2}}
        assert [(m["topic"], m["seq"]) for m in [await peer.recv_json() for _ in range(2)]] == [
            ("b", 1), ("b", 2)]
        assert await peer.quiet()  # "a" was up to date
        await peer.close()

    run(kind, body)


@pytest.mark.parametrize("kind", KINDS)
def test_empty_resume_numbers_events_and_subscribed_carries_heads(kind: str) -> None:
    async def body(rig: Rig) -> None:
        await rig.publish("b", "e")
        peer = await rig.connect(url(rig, ["a"], ""))
        assert await peer.recv_json() == {"type": "welcome", "topics": ["a"], "seq": {"a": 0}}
        await rig.publish("a", "e")
        assert (await peer.recv_json())["seq"] == 1
        await peer.send({"type": "subscribe", "topics": ["b"]})
        assert await peer.recv() == ('{"type":"subscribed","topics":["a","b"],'
                                     '"seq":{"a":1,"b":1}}')
        await peer.close()

    run(kind, body)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("cursor", "reason"), [
    ("a:x", "resume position 'a:x' is not topic:number"),
    ("a:-1", "resume position 'a:-1' is not topic:number"),
    ("BAD:1", "invalid topic 'BAD': use 1-64 characters of a-z 0-9 . _ -"),
    ("a:9007199254740992", "sequence number 9007199254740992 is too large"),
])
def test_bad_cursor_closes_1008_with_the_detail(kind: str, cursor: str, reason: str) -> None:
    async def body(rig: Rig) -> None:
        peer = await rig.connect(url(rig, ["a"], cursor))
        assert await peer.closed() == (1008, reason)

    run(kind, body)


@pytest.mark.parametrize("kind", KINDS)
def test_sockets_that_do_not_resume_get_todays_bytes(kind: str) -> None:
    async def body(rig: Rig) -> None:
        plain = await rig.connect(url(rig, ["a"]))
        numbered = await rig.connect(url(rig, ["a"], ""))
        assert await plain.recv() == '{"type":"welcome","topics":["a"]}'
        await numbered.recv()
        assert await rig.publish("a", "proposal.created", id=7, title="é") == 2
        assert await plain.recv() == '{"type":"proposal.created","topic":"a","id":7,"title":"é"}'
        assert await numbered.recv() == ('{"type":"proposal.created","topic":"a","id":7,'
                                         '"title":"é","seq":1}')
        await plain.send({"type": "subscribe", "topics": ["b"]})
        assert await plain.recv() == '{"type":"subscribed","topics":["a","b"]}'
        await plain.send({"type": "auth", "token": "x"})  # only a first frame means that
        assert (await plain.recv_json())["error"] == "unknown-type"
        await plain.close()
        await numbered.close()

    run(kind, body)


@pytest.mark.parametrize("kind", KINDS)
def test_replay_0_keeps_nothing_and_every_resume_resyncs(kind: str) -> None:
    async def body(rig: Rig) -> None:
        await rig.publish("a", "e")
        peer = await rig.connect(url(rig, ["a"], "a:0"))
        await peer.recv_json()
        assert await peer.recv_json() == {"type": "resync", "topic": "a", "seq": 1, "missed": 1}
        await peer.close()
        hub = rig.server.app.state.hub
        assert len(hub.replay_buffer) == 0

    run(kind, body, replay=0)


def test_the_buffer_is_bounded_per_topic_and_in_topics() -> None:
    hub = TopicHub(replay=3)
    for n in range(100):
        hub.publish("a", "e", n=n)
    assert len(hub.replay_buffer) == 3
    assert [seq for seq, _ in hub.catch_up("a", 97)[0]] == [98, 99, 100]
    assert hub.catch_up("a", 96) == ([], {"type": "resync", "topic": "a", "seq": 100,
                                           "missed": 4})
    for n in range(hub.replay_buffer.max_topics + 10):
        hub.publish(f"t{n}", "e")
    assert len(hub.replay_buffer) <= 3 * hub.replay_buffer.max_topics
    # "a" was evicted: its clients resync (never a wrong replay), even from 100.
    assert hub.catch_up("a", 100) == ([], None)
    assert hub.catch_up("a", 99)[1] == {"type": "resync", "topic": "a", "seq": 100,
                                        "missed": 1}


def test_publish_refuses_the_reserved_seq_field_on_both_servers() -> None:
    with serve() as server, pytest.raises(ValueError, match='"seq" is reserved'):
        server.publish("a", "e", seq=3)
    with pytest.raises(ValueError, match='"seq" is reserved'):
        SimNetwork().serve().publish("a", "e", seq=3)


@pytest.mark.parametrize("replay", [-1, True, 1.5, "100"])
def test_replay_must_be_a_count(replay: object) -> None:
    with pytest.raises(ValueError, match="replay must be an int >= 0"):
        SimNetwork().serve(replay=replay)
    with pytest.raises(ValueError, match="replay must be an int >= 0"):
        serve(replay=replay)


# -- server-sent events: Last-Event-ID ---------------------------------------------------


def test_sse_last_event_id_replays_the_missed_events() -> None:
    async def main(server: Server) -> None:
        for n in (1, 2, 3):
            server.publish("a", "e", n=n)
        stream = await open_stream(server, "/api/stream/a",
                                   headers="Last-Event-ID: 1\r\n")
        assert stream.status == 200
        assert (await stream.event())[0] == b'id: 2\ndata: {"type":"e","topic":"a","n":2}\n\n'
        assert (await stream.event())[0] == b'id: 3\ndata: {"type":"e","topic":"a","n":3}\n\n'
        server.publish("a", "e", n=4)
        assert (await stream.event())[0] == b'id: 4\ndata: {"type":"e","topic":"a","n":4}\n\n'
        await stream.close()

    with serve() as server:
        arun(main(server))


def test_sse_last_event_id_resyncs_when_too_old_and_rejects_bad_values() -> None:
    async def main(server: Server) -> None:
        for n in range(4):
            server.publish("a", "e", n=n)
        stream = await open_stream(server, "/api/stream/a",
                                   headers="Last-Event-ID: 1\r\n")
        raw, _ = await stream.event()
        assert raw == (b'event: resync\nid: 4\n'
                       b'data: {"type":"resync","topic":"a","seq":4,"missed":3}\n\n')
        await stream.close()
        up_to_date = await open_stream(server, "/api/stream/a",
                                       headers="Last-Event-ID: 4\r\n")
        server.publish("a", "e", n=5)
        assert (await up_to_date.event())[1]["id"] == "5"  # nothing replayed first
        await up_to_date.close()
        for bad in ("x", "-1", "1.5", "9007199254740992"):
            answer = await open_stream(server, "/api/stream/a",
                                       headers=f"Last-Event-ID: {bad}\r\n")
            assert answer.status == 400
            assert json.loads((await answer.body()).split(b"\r\n\r\n")[-1])["error"] == (
                "bad-resume")
            await answer.close()

    with serve(replay=2) as server:
        arun(main(server))
