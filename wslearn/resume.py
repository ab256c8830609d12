"""Resume instead of refetch-everything: sequence numbers, a bounded replay buffer.

Chapter 08's answer to "events were published while I was away" is to invalidate every
query the client shows: correct, but every reconnect costs one refetch per topic, and
a reconnect storm of many clients becomes a refetch storm on the HTTP API. The
production answer (Socket.IO's connection-state recovery, Phoenix, NATS JetStream,
server-sent events' ``Last-Event-ID``) is to **resume**:

* the server numbers the events of each topic 1, 2, 3, ... (``seq``, the topic's
  version) and keeps the last ``limit`` of them per topic in a ``ReplayBuffer``;
* the client remembers the last number it saw per topic (``ResumeCursor``) and says so
  when it reconnects (``?resume=analysis:12,proposals:7``);
* the server replays exactly the missed events; when the gap is older than its buffer
  (or the client's number is from the future: the server restarted and forgot), it
  sends ``{"type": "resync", "topic": ...}`` instead, and only then does the client
  invalidate -- that one topic.

Both halves are plain data with no IO: the real server, the simulated network and the
browser page (``page/client.js``) follow these rules. Every structure is bounded:
``limit`` events per topic, ``max_topics`` topics (the least recently published topic is
forgotten first, which makes its clients resync: safe, never wrong).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Generic, TypeVar

from .protocol import MAX_TOPICS, format_cursor, validate_topics

__all__ = [
    "DEFAULT_REPLAY_LIMIT",
    "Observed",
    "Replay",
    "ReplayBuffer",
    "ResumeCursor",
]

#: Events kept per topic for replay (the default of ``serve(replay=...)``).
DEFAULT_REPLAY_LIMIT: Final = 100
#: Topics whose events are kept at once; the least recently published is dropped first.
DEFAULT_REPLAY_TOPICS: Final = 1024

T = TypeVar("T")


@dataclass(frozen=True)
class Replay(Generic[T]):
    """What the server sends a client that says "I stopped at ``after``".

    ``items`` are the missed events, oldest first, when the buffer still holds all of
    them; ``resync`` is True when it does not (or ``after`` is ahead of the topic: the
    server forgot) -- then ``items`` is empty and the client must refetch the topic.
    """

    topic: str
    after: int
    head: int
    items: tuple[T, ...] = ()
    resync: bool = False

    @property
    def missed(self) -> int:
        """How many events the client missed (``head - after``; 0 when it is ahead)."""
        return max(self.head - self.after, 0)


class ReplayBuffer(Generic[T]):
    """The server half: per topic, the last ``limit`` events and the topic's head number.

    ``T`` is whatever the driver replays (the encoded frame text, usually).

    >>> buf = ReplayBuffer[str](limit=2)
    >>> [buf.append("a", f"e{n}") for n in (1, 2, 3)]
    [1, 2, 3]
    >>> buf.since("a", 1).items, buf.since("a", 0).resync
    (('e2', 'e3'), True)
    """

    def __init__(self, limit: int = DEFAULT_REPLAY_LIMIT,
                 max_topics: int = DEFAULT_REPLAY_TOPICS) -> None:
        for name, value in (("limit", limit), ("max_topics", max_topics)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ReplayBuffer {name} must be an int >= 0, got {value!r}")
        self.limit = limit
        self.max_topics = max_topics
        # topic -> (head seq, the last `limit` (seq, item)); insertion order = publish order
        self._topics: collections.OrderedDict[str, tuple[int, collections.deque[tuple[int, T]]]]
        self._topics = collections.OrderedDict()
        #: Topics forgotten because ``max_topics`` was reached (their clients resync).
        self.evicted = 0

    def __len__(self) -> int:
        """Events held, all topics together."""
        return sum(len(items) for _, items in self._topics.values())

    def head(self, topic: str) -> int:
        """The number of the topic's last event (0: none kept, or none yet)."""
        entry = self._topics.get(topic)
        return 0 if entry is None else entry[0]

    def append(self, topic: str, item: T, seq: int | None = None) -> int:
        """Keep ``item`` as the topic's next event; return its number.

        ``seq`` lets the owner number events itself (the hub's version counter); it
        must then grow by exactly one per event.
        """
        head, items = self._topics.pop(topic, (0, collections.deque(maxlen=self.limit)))
        nxt = head + 1 if seq is None else seq
        if nxt <= head:
            raise ValueError(f"sequence numbers of {topic!r} must grow: {nxt} after {head}")
        if self.limit:
            items.append((nxt, item))
        self._topics[topic] = (nxt, items)  # most recently published goes last
        while len(self._topics) > self.max_topics:
            self._topics.popitem(last=False)
            self.evicted += 1
        return nxt

    def since(self, topic: str, after: int) -> Replay[T]:
        """The events of ``topic`` after number ``after``, or a resync answer."""
        head = self.head(topic)
        if after == head:
            return Replay(topic, after, head)
        entry = self._topics.get(topic)
        if after > head or entry is None:
            return Replay(topic, after, head, resync=True)
        items = entry[1]
        if not items or items[0][0] > after + 1:  # the oldest kept is past the gap
            return Replay(topic, after, head, resync=True)
        return Replay(topic, after, head, tuple(item for seq, item in items if seq > after))

    def forget(self, topic: str) -> None:
        """Drop a topic's events (its clients will resync)."""
        self._topics.pop(topic, None)


class Observed(StrEnum):
    """What a numbered event means to a client that has a cursor."""

    #: The next one: handle it.
    NEW = "new"
    #: Seen already (a replay that overlaps, a duplicate delivery): drop it.
    DUPLICATE = "duplicate"
    #: Numbers were skipped: events were lost; refetch the topic.
    GAP = "gap"
    #: The topic has no position yet (the first event since subscribing): handle it.
    FIRST = "first"


class ResumeCursor:
    """The client half: the last event number seen, per topic; bounded by ``MAX_TOPICS``.

    >>> cur = ResumeCursor()
    >>> cur.start({"analysis": 12})
    >>> cur.observe("analysis", 13), cur.observe("analysis", 13), cur.observe("analysis", 15)
    (<Observed.NEW: 'new'>, <Observed.DUPLICATE: 'duplicate'>, <Observed.GAP: 'gap'>)
    >>> cur.query_value()
    'analysis:15'
    """

    def __init__(self, positions: Mapping[str, int] | None = None) -> None:
        self._positions: dict[str, int] = {}
        if positions:
            self.start(positions)

    @property
    def positions(self) -> dict[str, int]:
        """A copy of topic -> last number seen."""
        return dict(self._positions)

    def query_value(self) -> str:
        """The ``?resume=`` value for the next connect (``""``: nothing seen yet)."""
        return format_cursor(self._positions)

    def start(self, heads: Mapping[str, int]) -> None:
        """Take the server's heads for topics without a position (``welcome``'s ``seq``).

        A topic the client already has a position for keeps it: the replay that follows
        the welcome moves it on.
        """
        for topic, seq in heads.items():
            if topic not in self._positions:
                self._set(topic, seq)

    def observe(self, topic: str, seq: int) -> Observed:
        """Record event ``seq`` of ``topic`` and say what it means (see ``Observed``)."""
        last = self._positions.get(topic)
        if last is None:
            self._set(topic, seq)
            return Observed.FIRST
        if seq <= last:
            return Observed.DUPLICATE
        self._positions[topic] = seq
        return Observed.NEW if seq == last + 1 else Observed.GAP

    def resync(self, topic: str, head: int) -> None:
        """The server said the gap is too old: the client refetched; continue from ``head``."""
        self._set(topic, head)

    def keep_only(self, topics: Iterable[str]) -> None:
        """Forget topics the client is no longer subscribed to."""
        keep = set(topics)
        for topic in [t for t in self._positions if t not in keep]:
            del self._positions[topic]

    def _set(self, topic: str, seq: int) -> None:
        validate_topics([topic])
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ValueError(f"an event number is an int >= 0, got {seq!r}")
        if topic not in self._positions and len(self._positions) >= MAX_TOPICS:
            raise ValueError(f"a cursor holds at most {MAX_TOPICS} topics")
        self._positions[topic] = seq
