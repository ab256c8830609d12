"""The client's topic set: messages to send now, the URL for the next connect, reconciling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslearn.protocol import MAX_TOPICS, ProtocolError
from wslearn.subscriptions import Subscriptions


class FakeServer:
    """The server side of the wire protocol, for topics only (in order, like the hub)."""

    def __init__(self, query: str) -> None:
        self.topics: list[str] = query.removeprefix("topics=").split(",") if query else []

    def welcome(self) -> dict:
        return {"type": "welcome", "topics": list(self.topics)}

    def handle(self, message: dict) -> dict:
        if message["type"] == "subscribe":
            self.topics += [t for t in message["topics"] if t not in self.topics]
        else:
            self.topics = [t for t in self.topics if t not in message["topics"]]
        return {"type": "subscribed", "topics": list(self.topics)}


def test_initial_topics_are_validated_deduplicated_and_ordered() -> None:
    subs = Subscriptions(["proposals", "analysis", "proposals"])
    assert subs.topics == ("proposals", "analysis")
    assert subs.query() == "topics=proposals,analysis"
    assert repr(subs) == "Subscriptions(topics=('proposals', 'analysis'))"
    assert Subscriptions().query() == ""


def test_bad_input_says_what_to_do() -> None:
    with pytest.raises(ProtocolError, match="invalid topic 'Bad Topic'"):
        Subscriptions(["Bad Topic"])
    with pytest.raises(TypeError, match=r"Subscriptions\(\['proposals'\]\)"):
        Subscriptions("proposals")
    with pytest.raises(TypeError, match="separate arguments"):
        Subscriptions().subscribe(["a", "b"], connected=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Subscriptions().subscribe("a")  # type: ignore[call-arg]  # connected is required
    full = Subscriptions([f"t{i}" for i in range(MAX_TOPICS)])
    with pytest.raises(ProtocolError, match="unsubscribe from some first"):
        full.subscribe("one-more", connected=True)
    assert len(full.topics) == MAX_TOPICS, "a refused subscribe changes nothing"


def test_subscribe_while_connected_sends_only_the_new_topics() -> None:
    subs = Subscriptions(["proposals"])
    assert subs.subscribe("proposals", "analysis", connected=True) == [
        {"type": "subscribe", "topics": ["analysis"]}
    ]
    assert subs.subscribe("analysis", connected=True) == [], "nothing new, nothing sent"
    assert subs.topics == ("proposals", "analysis")


def test_unsubscribe_while_connected_sends_only_topics_we_had() -> None:
    subs = Subscriptions(["proposals", "analysis"])
    assert subs.unsubscribe("analysis", "never-had", connected=True) == [
        {"type": "unsubscribe", "topics": ["analysis"]}
    ]
    assert subs.unsubscribe("analysis", connected=True) == [], "idempotent, for cleanup code"
    assert subs.topics == ("proposals",)


def test_changes_while_disconnected_go_into_the_next_url() -> None:
    subs = Subscriptions(["proposals"])
    assert subs.subscribe("knowledge", connected=False) == []
    assert subs.unsubscribe("proposals", connected=False) == []
    assert subs.query() == "topics=knowledge"
    assert subs.on_connected() == [], "the URL already carries the topics"


def test_welcome_reconciles_a_change_made_during_the_handshake() -> None:
    subs = Subscriptions(["proposals"])
    server = FakeServer(subs.query())  # the URL was built here ...
    subs.subscribe("analysis", connected=False)  # ... then the user subscribed, still dialing
    subs.on_connected()
    fix = subs.on_welcome(server.welcome())
    assert fix == [{"type": "subscribe", "topics": ["analysis"]}]
    assert subs.in_sync is False
    assert subs.on_subscribed(server.handle(fix[0])) == []
    assert subs.in_sync is True and subs.server_topics == ("proposals", "analysis")


def test_replies_older_than_our_requests_do_not_trigger_corrections() -> None:
    subs = Subscriptions(["a"])
    server = FakeServer(subs.query())
    subs.on_connected()
    assert subs.on_welcome(server.welcome()) == []
    first = subs.subscribe("b", connected=True)
    second = subs.unsubscribe("a", connected=True)
    reply1 = server.handle(first[0])  # says ["a", "b"]: older than our set ["b"]
    reply2 = server.handle(second[0])
    assert subs.on_subscribed(reply1) == [], "a request is still in flight: wait"
    assert subs.on_subscribed(reply2) == []
    assert subs.in_sync and server.topics == ["b"]


def test_a_server_that_ignores_a_correction_is_not_asked_forever() -> None:
    subs = Subscriptions(["a", "b"])
    subs.on_connected()
    fix = subs.on_welcome({"type": "welcome", "topics": ["a"]})
    assert fix == [{"type": "subscribe", "topics": ["b"]}]
    assert subs.on_subscribed({"type": "subscribed", "topics": ["a"]}) == []
    assert subs.in_sync is False, "visible, not chased"
    # a new intent from the user earns one more try
    assert subs.subscribe("c", connected=True) == [{"type": "subscribe", "topics": ["c"]}]
    assert subs.on_subscribed({"type": "subscribed", "topics": ["a", "c"]}) == [
        {"type": "subscribe", "topics": ["b"]}
    ]


def test_server_extra_topics_are_unsubscribed() -> None:
    subs = Subscriptions(["a"])
    subs.on_connected()
    assert subs.on_welcome({"type": "welcome", "topics": ["a", "z"]}) == [
        {"type": "unsubscribe", "topics": ["z"]}
    ]


def test_bad_server_messages_are_rejected_clearly() -> None:
    subs = Subscriptions()
    assert subs.in_sync is None and subs.server_topics is None
    with pytest.raises(ProtocolError, match="decoded 'welcome' message"):
        subs.on_welcome({"type": "welcome"})


TOPIC = st.sampled_from(["a", "b", "c", "d", "e"])
OPS = st.lists(
    st.tuples(st.sampled_from(["sub", "unsub"]), st.lists(TOPIC, max_size=3), st.booleans()),
    max_size=15,
)


@given(initial=st.lists(TOPIC, max_size=3), ops=OPS)
def test_property_server_ends_with_exactly_our_topics(initial: list[str], ops: list) -> None:
    """Any mix of changes while connected/disconnected, with reconnects in between:
    after the replies are in, the server's set equals the client's (order kept locally)."""
    subs = Subscriptions(initial)
    server: FakeServer | None = None

    def deliver(messages: list[dict]) -> None:
        queue = list(messages)
        while queue:
            assert server is not None
            queue += subs.on_subscribed(server.handle(queue.pop(0)))

    for op, topics, connected in ops:
        if connected and server is None:  # (re)connect with the current URL
            server = FakeServer(subs.query())
            assert subs.on_connected() == []
            deliver(subs.on_welcome(server.welcome()))
        elif not connected:
            server = None  # the connection dropped
        method = subs.subscribe if op == "sub" else subs.unsubscribe
        deliver(method(*topics, connected=server is not None))
        if server is not None:
            assert server.topics == list(subs.topics)
            assert subs.in_sync is True

    final = FakeServer(subs.query())
    assert final.topics == list(subs.topics), "the next URL carries the current set"
