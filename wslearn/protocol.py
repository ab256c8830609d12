"""The wire protocol of the course's topic server, as plain data and pure functions.

The server, the Python client, the simulated network and the browser page all
speak this protocol (see ``docs/design.md`` and the course outline). Keeping the
rules here -- topic names, limits, close codes, error codes -- means a change to
the protocol is made once and every side follows.

Nothing in this module does IO.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

#: Topic names: 1-64 characters of ``a-z 0-9 . _ -``.
TOPIC_RE: Final = re.compile(r"[a-z0-9._-]{1,64}")
#: At most this many topics per connection.
MAX_TOPICS: Final = 32
#: Largest frame the server accepts (bytes); bigger frames close with 1009.
DEFAULT_MAX_SIZE: Final = 64 * 1024

# Close codes used in the course (RFC 6455 section 7.4.1).
NORMAL_CLOSURE: Final = 1000
GOING_AWAY: Final = 1001
ABNORMAL_CLOSURE: Final = 1006  # never sent on the wire: "the TCP connection just died"
POLICY_VIOLATION: Final = 1008
MESSAGE_TOO_BIG: Final = 1009
INTERNAL_ERROR: Final = 1011
SERVICE_RESTART: Final = 1012

CLOSE_CODE_NAMES: Final[Mapping[int, str]] = {
    NORMAL_CLOSURE: "normal closure",
    GOING_AWAY: "going away",
    ABNORMAL_CLOSURE: "abnormal closure (no close frame)",
    POLICY_VIOLATION: "policy violation",
    MESSAGE_TOO_BIG: "message too big",
    INTERNAL_ERROR: "internal error",
    SERVICE_RESTART: "service restart",
}

#: Every short error code a peer may receive in ``{"type": "error", "error": CODE}`` (or in
#: an HTTP error body), and what it means. One table, so the browser page, the checkers
#: and the docs agree.
ERROR_CODES: Final[Mapping[str, str]] = {
    "bad-json": "the frame is not valid JSON",
    "bad-utf8": "a binary frame that is not UTF-8 text",
    "not-an-object": "valid JSON, but not an object",
    "missing-type": 'an object without a string "type"',
    "unknown-type": "a type the server does not handle (ping, subscribe, unsubscribe)",
    "bad-topic": "a topic name outside 1-64 characters of a-z 0-9 . _ -",
    "bad-topics": 'subscribe/unsubscribe without a "topics" list',
    "too-many-topics": f"more than {32} topics on one connection",
    "bad-param": "an HTTP query parameter out of range (/api/topics)",
    "no-hub": "the served app has no topic hub (/api/topics)",
}

#: Message types a client may send; anything else gets an ``unknown-type`` error.
CLIENT_TYPES: Final = frozenset({"ping", "subscribe", "unsubscribe"})


class ProtocolError(ValueError):
    """Bad input from a peer. ``code`` is the short error code sent on the wire."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def as_message(self) -> dict[str, Any]:
        """The ``{"type": "error", ...}`` frame that reports this error to the peer."""
        return {"type": "error", "error": self.code, "detail": self.detail}


def validate_topics(topics: Iterable[str]) -> list[str]:
    """Return the topics de-duplicated in their given order, or raise ``ProtocolError``.

    The error names the first bad topic, so a learner (or a browser reading the
    close reason) sees exactly what to fix.
    """
    result: list[str] = []
    for topic in topics:
        if not isinstance(topic, str) or not TOPIC_RE.fullmatch(topic):
            raise ProtocolError(
                "bad-topic",
                f"invalid topic {topic!r}: use 1-64 characters of a-z 0-9 . _ -",
            )
        if topic not in result:
            result.append(topic)
    if len(result) > MAX_TOPICS:
        raise ProtocolError("too-many-topics", f"{len(result)} topics; at most {MAX_TOPICS}")
    return result


def parse_topics_param(value: str | None) -> list[str]:
    """Parse the ``?topics=a,b`` query value (missing or empty means no topics)."""
    if not value:
        return []
    return validate_topics(part.strip() for part in value.split(","))


def topics_query(topics: Iterable[str]) -> str:
    """The query string for a list of topics: ``topics=analysis,proposals`` (or ``""``)."""
    topics = list(topics)
    return "topics=" + ",".join(topics) if topics else ""


def decode(text: str | bytes) -> dict[str, Any]:
    """Parse one frame into a message object, or raise ``ProtocolError``.

    A valid message is a JSON object with a string ``"type"``.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad-json", f"frame is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("not-an-object", f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise ProtocolError("missing-type", 'message has no string "type" field')
    return data


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode(message: Mapping[str, Any]) -> str:
    """Serialise a message compactly (the same bytes for every subscriber).

    One module-level encoder: ``json.dumps`` with options builds a new encoder per
    call, which costs about half of an encode on the publish path.
    """
    return _ENCODER.encode(message)


def event(type: str, topic: str, **fields: Any) -> dict[str, Any]:
    """Build an event message ``{"type": ..., "topic": ..., **fields}``."""
    return {"type": type, "topic": topic, **fields}


def close_code_name(code: int | None) -> str:
    """A human name for a close code, for transcripts and widgets."""
    if code is None:
        return "no close code"
    return CLOSE_CODE_NAMES.get(code, "application code" if 3000 <= code < 5000 else "other")


def split_ws_url(url: str) -> tuple[str, str, str]:
    """``ws://host:port/path?query`` -> ``(host, path, query)`` as the real server gets them.

    Uses the real client's own parser (websockets' ``parse_uri``: non-ASCII is
    percent-encoded, everything else is sent as written), so the simulated network sees
    the very request target the real server would. Raises ``ValueError`` for a URL that
    is not ``ws://`` or ``wss://``, like the real dialer does.
    """
    from websockets.exceptions import InvalidURI
    from websockets.uri import parse_uri

    try:
        parsed = parse_uri(url)
    except InvalidURI as exc:
        raise ValueError(f"not a websocket URL: {url!r} ({exc.msg})") from None
    path, _, query = parsed.resource_name.partition("?")
    return parsed.host, path or "/", query


def bad_request_target(path: str, query: str) -> str | None:
    """Why the real server's HTTP parser rejects this request target, or ``None``.

    The request line is ``GET <target> HTTP/1.1`` split on spaces: a space, tab or any
    control character in the URL (``?topics=a, b``) breaks it and the handshake fails
    before any endpoint runs. The simulated network applies the same rule.
    """
    target = path + ("?" + query if query else "")
    for char in target:
        if char.isspace() or ord(char) < 0x21 or ord(char) == 0x7F:
            return (f"{char!r} in the URL breaks the HTTP request line; URL-encode it "
                    "(urllib.parse.quote) or leave it out")
    return None
