"""Messages sent while offline: drop, queue without bound, or queue with a bound.

``ws.send()`` during a reconnect has three common answers, and two are bugs:

* **drop** (``limit=0``) -- Module 07's hook and a bare ``WebSocket`` (which throws
  while ``CONNECTING`` and silently discards after ``CLOSED``): the user's action is
  lost and nobody is told.
* **unbounded** (``limit=None``) -- reconnecting-websocket's and partysocket's default
  (``maxEnqueuedMessages: Infinity``): nothing is lost, but a long outage grows memory
  without end, and the flush after it replays minutes-old intents in a burst.
* **bounded** (``limit=n`` with an ``overflow`` rule) -- the fix: at most ``n`` messages
  wait; past that either the oldest is dropped (``"drop-oldest"``: fine for "latest
  state wins" messages such as a cursor position), the new one is refused
  (``"drop-newest"``), or the caller gets an error (``"reject"``: the UI can say
  "not sent"). Every drop is counted, never silent. The queue is flushed, oldest
  first, once the connection is open again (after resubscribing).

Plain data: the Python client (``Client(send_queue=...)``) and the browser page use
the same rule. No IO, no clock.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Literal, TypeVar, get_args

__all__ = ["Enqueued", "Overflow", "SendQueue", "SendQueueFull"]

T = TypeVar("T")

Overflow = Literal["drop-oldest", "drop-newest", "reject"]
OVERFLOWS: tuple[str, ...] = get_args(Overflow)


class SendQueueFull(ConnectionError):
    """``overflow="reject"``: the queue is full; the message was not queued (nor sent)."""


class Enqueued(StrEnum):
    """What ``SendQueue.push`` did with a message."""

    QUEUED = "queued"
    #: Queued, and the oldest waiting message was dropped to make room.
    QUEUED_DROPPED_OLDEST = "queued, oldest dropped"
    #: Not queued: the queue is full (``drop-newest``) or drops everything (``limit=0``).
    DROPPED = "dropped"


@dataclass(frozen=True)
class _Settings:
    limit: int | None
    overflow: Overflow


class SendQueue(Generic[T]):
    """Messages waiting for the connection, oldest first, bounded by ``limit``.

    >>> q = SendQueue[str](limit=2, overflow="drop-oldest")
    >>> [q.push(m).value for m in ("a", "b", "c")]
    ['queued', 'queued', 'queued, oldest dropped']
    >>> q.flush(), q.dropped
    (['b', 'c'], 1)
    """

    def __init__(self, limit: int | None = 100, overflow: Overflow = "drop-oldest") -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):
            raise ValueError(
                f"SendQueue limit must be an int >= 0 (0 drops every message sent offline) "
                f"or None (no bound: the mistake), got {limit!r}")
        if overflow not in OVERFLOWS:
            raise ValueError(f"SendQueue overflow must be one of {OVERFLOWS}, got {overflow!r}")
        self._settings = _Settings(limit, overflow)
        self._items: collections.deque[T] = collections.deque()
        #: Messages lost to the bound (or to ``limit=0``) since the queue was made.
        self.dropped = 0
        #: The most messages that ever waited at once (what an unbounded queue grew to).
        self.high_water = 0

    @property
    def limit(self) -> int | None:
        return self._settings.limit

    @property
    def overflow(self) -> Overflow:
        return self._settings.overflow

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def push(self, item: T) -> Enqueued:
        """Queue ``item`` for the next open; raises ``SendQueueFull`` under ``"reject"``."""
        limit = self.limit
        result = Enqueued.QUEUED
        if limit is not None and len(self._items) >= limit:
            if limit == 0 or self.overflow == "drop-newest":
                self.dropped += 1
                return Enqueued.DROPPED
            if self.overflow == "reject":
                raise SendQueueFull(
                    f"{limit} messages are already waiting for the connection; not queued")
            self._items.popleft()
            self.dropped += 1
            result = Enqueued.QUEUED_DROPPED_OLDEST
        self._items.append(item)
        self.high_water = max(self.high_water, len(self._items))
        return result

    def flush(self) -> list[T]:
        """Everything waiting, oldest first; the queue is empty afterwards."""
        items = list(self._items)
        self._items.clear()
        return items

    def describe(self) -> str:
        """One stable line: ``bounded: 100 messages, drop-oldest``."""
        if self.limit is None:
            return "unbounded (every message waits; memory grows with the outage)"
        if self.limit == 0:
            return "drop (messages sent while offline are lost)"
        return f"bounded: {self.limit} messages, {self.overflow}"
