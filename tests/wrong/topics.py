"""Chapter 07: TopicSet -- stale resubscribe, lost changes, duplicates."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from wslearn import Subscriptions

from . import Case


class Topics:
    """The solution's shape."""

    def __init__(self, *topics):
        self.topics = list(dict.fromkeys(topics))

    def url(self, base):
        return f"{base}?topics={','.join(self.topics)}" if self.topics else base

    async def subscribe(self, ws, *topics):
        new = [t for t in topics if t not in self.topics]
        self.topics += new
        if ws is not None and new:
            await ws.send({"type": "subscribe", "topics": new})

    async def unsubscribe(self, ws, *topics):
        gone = [t for t in topics if t in self.topics]
        self.topics = [t for t in self.topics if t not in gone]
        if ws is not None and gone:
            await ws.send({"type": "unsubscribe", "topics": gone})


class ListInUrl(Topics):
    def url(self, base):
        return f"{base}?topics={self.topics}"  # "['analysis', 'proposals']"


class OnlyRemembers(Topics):
    async def subscribe(self, ws, *topics):
        self.topics += [t for t in topics if t not in self.topics]  # tells nobody

    async def unsubscribe(self, ws, *topics):
        self.topics = [t for t in self.topics if t not in topics]


class NeverUnsubscribes(Topics):
    async def unsubscribe(self, ws, *topics):
        self.topics = [t for t in self.topics if t not in topics]


class SendsOnNone(Topics):
    async def subscribe(self, ws, *topics):
        new = [t for t in topics if t not in self.topics]
        self.topics += new
        await ws.send({"type": "subscribe", "topics": new})  # AttributeError while disconnected


class DropsWhenDisconnected(Topics):
    async def subscribe(self, ws, *topics):
        if ws is None:
            return  # "we'll subscribe when connected" -- and then nobody does
        await super().subscribe(ws, *topics)

    async def unsubscribe(self, ws, *topics):
        if ws is None:
            return
        await super().unsubscribe(ws, *topics)


class StaleUrl(Topics):
    """The resubscribe bug: the URL is built once, from the first topics."""

    def __init__(self, *topics):
        super().__init__(*topics)
        self._url_topics = list(self.topics)

    def url(self, base):
        return f"{base}?topics={','.join(self._url_topics)}" if self._url_topics else base


class Duplicates(Topics):
    async def subscribe(self, ws, *topics):
        self.topics += list(topics)
        if ws is not None:
            await ws.send(json.dumps({"type": "subscribe", "topics": list(topics)}))

    async def unsubscribe(self, ws, *topics):
        for t in topics:
            if t in self.topics:
                self.topics.remove(t)  # removes one copy only
        if ws is not None:
            await ws.send(json.dumps({"type": "unsubscribe", "topics": list(topics)}))


class OnSubscriptions:
    """Right, written differently: wslearn's Subscriptions decides what to send."""

    def __init__(self, *topics):
        self.subs = Subscriptions(topics)

    def url(self, base):
        query = self.subs.query()
        return f"{base}?{query}" if query else base

    async def subscribe(self, ws, *topics):
        for message in self.subs.subscribe(*topics, connected=ws is not None):
            await ws.send(message)

    async def unsubscribe(self, ws, *topics):
        for message in self.subs.unsubscribe(*topics, connected=ws is not None):
            await ws.send(message)


class SetAndUrlencode:
    """Right, written differently: a dict as an ordered set, urlencode, full lists sent."""

    def __init__(self, *topics):
        self.wanted = dict.fromkeys(topics)

    def url(self, base):
        if not self.wanted:
            return base
        return base + "?" + urlencode({"topics": ",".join(self.wanted)}, safe=",")

    async def subscribe(self, ws, *topics):
        self.wanted.update(dict.fromkeys(topics))
        if ws is not None:
            await ws.send(json.dumps({"type": "subscribe", "topics": list(topics)}))

    async def unsubscribe(self, ws, *topics):
        for t in topics:
            self.wanted.pop(t, None)
        if ws is not None:
            await ws.send(json.dumps({"type": "unsubscribe", "topics": list(topics)}))


CASES = [
    Case("list-repr-in-url", "wrong-url", (ListInUrl,)),
    Case("subscribe-only-remembers", "subscribe-not-sent", (OnlyRemembers,)),
    Case("never-sends-unsubscribe", "unsubscribe-not-sent", (NeverUnsubscribes,)),
    Case("sends-on-none", "send-while-disconnected", (SendsOnNone,)),
    Case("drops-changes-while-disconnected", "lost-while-disconnected", (DropsWhenDisconnected,)),
    Case("stale-url-after-reconnect", "resubscribe-stale", (StaleUrl,)),
    Case("duplicate-topics", "duplicate-topics", (Duplicates,)),
    Case("right-solution-shape", None, (Topics,)),
    Case("right-on-subscriptions", None, (OnSubscriptions,)),
    Case("right-set-and-urlencode", None, (SetAndUrlencode,)),
]


# -- found by the blind-class review (issue 11): the simulated server accepted this ----------


class SpacesInUrl(Topics):
    """`", ".join`: the real server's HTTP parser rejects the space (the simulated one
    accepted it, so this passed in virtual time and failed live)."""

    def url(self, base):
        return f"{base}?topics={', '.join(self.topics)}" if self.topics else base


CASES += [
    Case("spaces-in-url", "wrong-url", (SpacesInUrl,)),
]
