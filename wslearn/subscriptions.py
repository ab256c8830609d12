"""The client's topic set: what it wants to hear, and what to send to get it.

The seed subscribes with the URL (``/ws?topics=analysis,proposals``). That covers the
first connect, but a real client also changes its mind while connected (a page opens a
panel) and must come back with the *current* topics after a reconnect. Doing that by hand
gives the classic bugs: resubscribing with the topics of the first connect, sending a
``subscribe`` for a topic the connection already has, or losing a subscription made while
the socket was down.

``Subscriptions`` is the single source of truth, and it is pure: every method returns the
wire messages to send *now* (a list, maybe empty); the asyncio driver sends them.

* While **connected**, ``subscribe``/``unsubscribe`` return one message with only the topics
  that actually change (the server answers with ``{"type": "subscribed", "topics": [all]}``).
* While **disconnected** they return ``[]``: the change is kept locally and applied by the
  next connect, because ``query()`` builds that connect's URL from the current set.
* On **connect**, nothing needs sending (``on_connected() == []``): the URL already carried
  the current topics. If the set changed while the handshake was in flight, the server's
  ``welcome`` (which lists what it really subscribed us to) shows the gap and
  ``on_welcome`` returns the messages that close it.
* ``subscribed`` replies carry the server's full view. While our own requests are still in
  flight a reply may be older than our set, so ``on_subscribed`` only reconciles once the
  last reply is in. A difference that survives one correction is not chased again (no
  request loop against a server that refuses a topic); ``in_sync`` shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .protocol import MAX_TOPICS, ProtocolError, topics_query, validate_topics

__all__ = ["Subscriptions"]

Message = dict[str, Any]


class Subscriptions:
    """The topics a client wants, kept in the order they were added."""

    def __init__(self, topics: Iterable[str] = ()) -> None:
        if isinstance(topics, str):
            raise TypeError(
                f"Subscriptions(topics={topics!r}): pass a list of topics, "
                f"e.g. Subscriptions([{topics!r}]) -- a string is not a list of topics"
            )
        self._topics: list[str] = validate_topics(topics)
        self._server: tuple[str, ...] | None = None  # the server's view, once it told us
        self._in_flight = 0  # our subscribe/unsubscribe requests without a reply yet
        self._last_fix: list[Message] | None = None  # the last correction we sent

    # -- the local set ------------------------------------------------------------------

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics the client wants, in the order they were added."""
        return tuple(self._topics)

    @property
    def server_topics(self) -> tuple[str, ...] | None:
        """The server's view from the last ``welcome``/``subscribed``; ``None`` if unknown."""
        return self._server

    @property
    def in_sync(self) -> bool | None:
        """Whether the server's last word matches our set (``None`` before any word)."""
        if self._server is None:
            return None
        return set(self._server) == set(self._topics)

    def query(self) -> str:
        """The query string for the next connect's URL: ``"topics=a,b"`` (or ``""``)."""
        return topics_query(self._topics)

    def subscribe(self, *topics: str, connected: bool) -> list[Message]:
        """Add topics; return the ``subscribe`` message to send now (only the new ones).

        ``connected`` is required so the caller decides explicitly: when it is false the
        topics are only remembered, and ``query()`` puts them in the next connect's URL.
        """
        names = self._validate("subscribe", topics)
        new = [t for t in names if t not in self._topics]
        if len(self._topics) + len(new) > MAX_TOPICS:
            raise ProtocolError(
                "too-many-topics",
                f"subscribing to {len(new)} more would make {len(self._topics) + len(new)} "
                f"topics; at most {MAX_TOPICS} per connection -- unsubscribe from some first",
            )
        self._topics.extend(new)
        return self._request("subscribe", new, connected)

    def unsubscribe(self, *topics: str, connected: bool) -> list[Message]:
        """Remove topics; return the ``unsubscribe`` message to send now (only ones we had).

        Unsubscribing from a topic we do not have is a no-op, so cleanup code can call it
        unconditionally.
        """
        names = self._validate("unsubscribe", topics)
        gone = [t for t in names if t in self._topics]
        self._topics = [t for t in self._topics if t not in gone]
        return self._request("unsubscribe", gone, connected)

    # -- connection events --------------------------------------------------------------

    def on_connected(self) -> list[Message]:
        """The socket opened. Returns ``[]``: the URL (``query()``) already had our topics.

        It forgets the old connection's state: requests in flight died with it, and the
        server's view is unknown until the ``welcome`` arrives.
        """
        self._server = None
        self._in_flight = 0
        self._last_fix = None
        return []

    def on_welcome(self, message: Mapping[str, Any]) -> list[Message]:
        """Reconcile with the topics the server subscribed this connection to."""
        self._server = self._server_view("welcome", message)
        self._in_flight = 0
        return self._reconcile()

    def on_subscribed(self, message: Mapping[str, Any]) -> list[Message]:
        """Record the server's full topic list; reconcile once no request is in flight."""
        self._server = self._server_view("subscribed", message)
        self._in_flight = max(0, self._in_flight - 1)
        return self._reconcile() if self._in_flight == 0 else []

    def __repr__(self) -> str:
        return f"Subscriptions(topics={self.topics!r})"

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _validate(what: str, topics: tuple[str, ...]) -> list[str]:
        if len(topics) == 1 and not isinstance(topics[0], str):
            raise TypeError(
                f"{what}() takes topics as separate arguments: "
                f"{what}('a', 'b', connected=...) or {what}(*names, connected=...)"
            )
        return validate_topics(topics)

    def _request(self, kind: str, topics: list[str], connected: bool) -> list[Message]:
        # A new intent from the user: a difference we gave up on may be worth one more try.
        self._last_fix = None
        if not connected or not topics:
            return []
        self._in_flight += 1
        return [{"type": kind, "topics": topics}]

    def _reconcile(self) -> list[Message]:
        server = self._server or ()
        fix: list[Message] = []
        missing = [t for t in self._topics if t not in server]
        extra = [t for t in server if t not in self._topics]
        if missing:
            fix.append({"type": "subscribe", "topics": missing})
        if extra:
            fix.append({"type": "unsubscribe", "topics": extra})
        if not fix:
            self._last_fix = None
            return []
        if fix == self._last_fix:
            return []  # the server ignored this exact correction once; in_sync shows it
        self._last_fix = fix
        self._in_flight += len(fix)
        return fix

    @staticmethod
    def _server_view(kind: str, message: Mapping[str, Any]) -> tuple[str, ...]:
        topics = message.get("topics") if isinstance(message, Mapping) else None
        if not isinstance(topics, list):
            raise ProtocolError(
                "bad-message",
                f"on_{kind}() expects {{'type': '{kind}', 'topics': [...]}}, got {message!r}; "
                f"pass the decoded '{kind}' message from the server",
            )
        return tuple(validate_topics(topics))
