"""Checker for chapter 07: ``TopicSet`` -- subscribe and unsubscribe without reconnecting.

The seed subscribes with the URL (``/ws?topics=analysis,proposals``). That covers the
first connect; a real client also changes its mind while connected, and must come back
with the *current* topics after a reconnect. The learner writes::

    class TopicSet:
        def __init__(self, *topics): self.topics = [...]
        def url(self, base) -> str                     # base?topics=a,b
        async def subscribe(self, ws, *topics)         # ws is None while disconnected
        async def unsubscribe(self, ws, *topics)

Scenarios: the URL; changes while connected (one connection, events follow); changes
while disconnected (kept for the next connect); resubscribe after a reconnect (also on
the real server); subscribe twice then unsubscribe once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from ..protocol import bad_request_target
from ..transport import ConnectFailed, ConnectionLost
from ._common import require_class
from ._net import Connection, Lab
from ._runner import Exercise, Failed, Verdict
from ._sandbox import describe_exception

NAME = "topics"

HINTS = {
    "wrong-url": "url(base) must give `base?topics=a,b` -- names joined by commas, no spaces "
    "or brackets -- and just `base` when there are no topics.",
    "subscribe-not-sent": "While connected, subscribe() must tell the server: "
    "`await ws.send({\"type\": \"subscribe\", \"topics\": [...]})`. Reconnecting with a new URL "
    "would work too, but drops every event in between.",
    "unsubscribe-not-sent": "While connected, unsubscribe() must tell the server: "
    "`{\"type\": \"unsubscribe\", \"topics\": [...]}` -- otherwise its events keep coming.",
    "send-while-disconnected": "While disconnected `ws` is None: remember the change "
    "(self.topics) and send nothing -- the next connect's URL carries it.",
    "lost-while-disconnected": "A change made while disconnected was lost: update self.topics "
    "in every case, and build the URL from self.topics.",
    "resubscribe-stale": "After a reconnect the connection had the topics of the first connect: "
    "url() must use the *current* topics (self.topics), not a copy taken in __init__.",
    "duplicate-topics": "Subscribing twice and unsubscribing once left the topic subscribed: "
    "keep each topic once (`if topic not in self.topics`).",
    "not-async": "subscribe and unsubscribe must be `async def` (they await ws.send).",
}

STEPS = [
    "url(base): `base + \"?topics=\" + \",\".join(self.topics)` when there are topics, else base.",
    "subscribe(ws, *topics): add the new ones to self.topics (once each); if `ws is not None`, "
    "send `{\"type\": \"subscribe\", \"topics\": new}`.",
    "unsubscribe is the mirror image: remove, and send `{\"type\": \"unsubscribe\", ...}` when "
    "connected.",
    "Never keep a second copy of the topics: the reconnect reads url() again, so it must see "
    "every change, including those made while disconnected.",
]



def prepare(topic_set: Any = None) -> Any:
    return require_class(topic_set, "TopicSet",
                         {"url": False, "subscribe": True, "unsubscribe": True})


EXERCISE = Exercise(NAME, "07_topics", prepare,
                    objects=("TopicSet",), hints=HINTS, steps=STEPS)


class _Client:
    """The chapter's client around the learner's TopicSet: connect, read, drop."""

    def __init__(self, lab: Lab, ts: Any) -> None:
        self.lab = lab
        self.ts = ts
        self.ws: Connection | None = None
        self.events: list[str] = []
        self.reader: asyncio.Task[Any] | None = None

    async def connect(self) -> None:
        try:
            url = self.ts.url(self.lab.url())
        except NotImplementedError:
            raise
        except Exception as exc:
            raise Failed("wrong-url", f"url() raised {describe_exception(exc)}") from exc
        if not isinstance(url, str):
            raise Failed("wrong-url", f"url() returned {type(url).__name__}, not a str")
        try:
            self.ws = await self.lab.connect(url)
        except (ConnectFailed, ValueError) as exc:
            path, _, query = url.partition("?")
            why = bad_request_target(path, query)
            raise Failed("wrong-url", f"connecting to {url!r} failed: {exc}"
                         + (f" -- {why}" if why else ""), actual=url) from None
        count = len(self.lab.frames)
        await self.lab.until(lambda: len(self.lab.frames) > count, 5.0)
        self.reader = asyncio.get_running_loop().create_task(self._read(), name="wslearn-reader")

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionLost):
            while True:
                data = json.loads(await self.ws.recv())
                if data.get("topic"):
                    self.events.append(data["topic"])

    async def drop(self) -> None:
        await self.lab.fault("drop_all", text="server: drop all connections (1006)")
        if self.reader is not None:
            await asyncio.wait([self.reader])
        self.ws = None

    def server_topics(self) -> set[str] | None:
        conns = self.lab.server.connections
        return set(conns[-1].topics) if conns else None

    async def expect_server(self, topics: set[str]) -> bool:
        if await self.lab.poll(lambda: self.server_topics() == topics):
            return True
        return await self.lab.until(lambda: self.server_topics() == topics, 5.0)

    async def call(self, method: str, *topics: str) -> None:
        fn = getattr(self.ts, method)
        try:
            await fn(self.ws, *topics)
        except NotImplementedError:
            raise
        except Exception as exc:
            kind = "send-while-disconnected" if self.ws is None else "raises"
            where = "while disconnected" if self.ws is None else "while connected"
            raise Failed(kind, f"{method}({', '.join(map(repr, topics))}) {where} raised "
                         f"{describe_exception(exc)}") from exc

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.wait([self.reader])
        if self.ws is not None:
            await self.ws.close()


def _fmt(topics: set[str] | None) -> str:
    return "(not connected)" if topics is None else "{" + ", ".join(sorted(topics)) + "}"


def _step(lines: list[str], expected: list[str], got: str, want: str, kind: str,
          detail: str) -> None:
    lines.append(got)
    expected.append(want)
    if got != want:
        raise Failed(kind, detail, "\n".join(expected), "\n".join(lines))


@EXERCISE.scenario("the URL carries the topics (and no topics: the bare URL)")
async def url(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    lines: list[str] = []
    expected: list[str] = []
    for names in (("analysis", "proposals"), ()):
        client = _Client(lab, cls(*names))
        try:
            await client.connect()
            await client.expect_server(set(names))
            got = _fmt(client.server_topics())
            _step(lines, expected, f"TopicSet{names!r}: server subscribed {got}",
                  f"TopicSet{names!r}: server subscribed {_fmt(set(names))}", "wrong-url",
                  "the server did not get the topics from the URL")
        finally:
            await client.close()
    return Verdict("\n".join(expected), "\n".join(lines))


@EXERCISE.scenario("subscribe / unsubscribe while connected: same connection, events follow")
async def connected(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    client = _Client(lab, cls("analysis"))
    lines: list[str] = []
    expected: list[str] = []
    try:
        await client.connect()
        await client.call("subscribe", "proposals")
        await client.expect_server({"analysis", "proposals"})
        got = _fmt(client.server_topics())
        _step(lines, expected, f"subscribe('proposals'): server has {got}",
              "subscribe('proposals'): server has {analysis, proposals}", "subscribe-not-sent",
              "the server never heard of the new topic")
        await lab.publish("proposals", "proposal.created", id=1)
        await lab.until(lambda: "proposals" in client.events, 5.0)
        got = "received" if "proposals" in client.events else "missed"
        _step(lines, expected, f"event on proposals: {got}",
              "event on proposals: received", "subscribe-not-sent", "the event was missed")
        await client.call("unsubscribe", "analysis")
        await client.expect_server({"proposals"})
        got = _fmt(client.server_topics())
        _step(lines, expected, f"unsubscribe('analysis'): server has {got}",
              "unsubscribe('analysis'): server has {proposals}", "unsubscribe-not-sent",
              "the server still sends that topic")
        await lab.publish("analysis", "analysis.done", id=2)
        await asyncio.sleep(1.0)
        got = "received (should not)" if "analysis" in client.events else "not received"
        _step(lines, expected, f"event on analysis: {got}", "event on analysis: not received",
              "unsubscribe-not-sent", "an event of an unsubscribed topic still arrived")
        _step(lines, expected, f"connections opened: {lab.opens}", "connections opened: 1",
              "subscribe-not-sent", "it reconnected instead of sending subscribe/unsubscribe")
    finally:
        await client.close()
    return Verdict("\n".join(expected), "\n".join(lines))


@EXERCISE.scenario("resubscribe after a reconnect: the new connection has the current topics",
                   real=True)
async def resubscribe(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    client = _Client(lab, cls("analysis"))
    lines: list[str] = []
    expected: list[str] = []
    try:
        await client.connect()
        await client.call("subscribe", "proposals")
        await client.expect_server({"analysis", "proposals"})
        _step(lines, expected, f"connected, subscribed: {_fmt(client.server_topics())}",
              "connected, subscribed: {analysis, proposals}", "subscribe-not-sent",
              "the server never heard of the new topic")
        await client.drop()
        await client.connect()
        await client.expect_server({"analysis", "proposals"})
        _step(lines, expected, f"after the reconnect: {_fmt(client.server_topics())}",
              "after the reconnect: {analysis, proposals}", "resubscribe-stale",
              "the reconnect used old topics")
        await lab.publish("proposals", "proposal.created", id=3)
        await lab.until(lambda: "proposals" in client.events, 5.0)
        got = "received" if "proposals" in client.events else "missed"
        _step(lines, expected, f"event on proposals: {got}", "event on proposals: received",
              "resubscribe-stale", "events of the topic were missed after the reconnect")
    finally:
        await client.close()
    return Verdict("\n".join(expected), "\n".join(lines))


@EXERCISE.scenario("changes while disconnected are kept for the next connect")
async def disconnected(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    client = _Client(lab, cls("analysis"))
    lines: list[str] = []
    expected: list[str] = []
    try:
        await client.call("subscribe", "proposals")
        await client.call("unsubscribe", "analysis")
        line = "while disconnected: no exception"
        _step(lines, expected, line, line, "send-while-disconnected", "")
        await client.connect()
        await client.expect_server({"proposals"})
        _step(lines, expected, f"next connect: server has {_fmt(client.server_topics())}",
              "next connect: server has {proposals}", "lost-while-disconnected",
              "the changes made while disconnected were lost")
    finally:
        await client.close()
    return Verdict("\n".join(expected), "\n".join(lines))


@EXERCISE.scenario("subscribe twice, unsubscribe once: the topic is gone (also after a "
                   "reconnect)")
async def duplicates(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    client = _Client(lab, cls("analysis"))
    lines: list[str] = []
    expected: list[str] = []
    try:
        await client.connect()
        await client.call("subscribe", "proposals")
        await client.call("subscribe", "proposals")
        await client.call("unsubscribe", "proposals")
        await client.expect_server({"analysis"})
        _step(lines, expected, f"server has {_fmt(client.server_topics())}",
              "server has {analysis}", "duplicate-topics", "the topic is still subscribed")
        await client.drop()
        await client.connect()
        await client.expect_server({"analysis"})
        _step(lines, expected, f"after a reconnect: {_fmt(client.server_topics())}",
              "after a reconnect: {analysis}", "duplicate-topics",
              "the topic came back with the reconnect")
    finally:
        await client.close()
    return Verdict("\n".join(expected), "\n".join(lines))
