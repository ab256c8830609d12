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
from enum import Enum
from typing import Any, Final
from urllib.parse import quote

#: Topic names: 1-64 characters of ``a-z 0-9 . _ -``.
TOPIC_RE: Final = re.compile(r"[a-z0-9._-]{1,64}")
#: At most this many topics per connection.
MAX_TOPICS: Final = 32
#: Largest frame the server accepts (bytes); bigger frames close with 1009.
DEFAULT_MAX_SIZE: Final = 64 * 1024
#: A client that lets this many bytes pile up unsent -- in the socket buffer or held by
#: ``freeze()``/``delay()`` -- is closed (1008 "client too slow"); real and simulated.
MAX_BUFFERED: Final = 4 * 1024 * 1024

# Close codes used in the course (RFC 6455 section 7.4.1).
NORMAL_CLOSURE: Final = 1000
GOING_AWAY: Final = 1001
ABNORMAL_CLOSURE: Final = 1006  # never sent on the wire: "the TCP connection just died"
POLICY_VIOLATION: Final = 1008
MESSAGE_TOO_BIG: Final = 1009
INTERNAL_ERROR: Final = 1011
SERVICE_RESTART: Final = 1012
TRY_AGAIN_LATER: Final = 1013
# Application codes (4000-4999 are the application's own; these two mirror HTTP 401/403,
# as graphql-ws and many production servers do). See ``wslearn.close_policy``.
#: The credential is missing or expired: refresh it, then connect (not an outage).
AUTH_EXPIRED: Final = 4401
#: The credential is valid but not allowed here: a refresh will not help.
AUTH_FORBIDDEN: Final = 4403

CLOSE_CODE_NAMES: Final[Mapping[int, str]] = {
    NORMAL_CLOSURE: "normal closure",
    GOING_AWAY: "going away",
    ABNORMAL_CLOSURE: "abnormal closure (no close frame)",
    POLICY_VIOLATION: "policy violation",
    MESSAGE_TOO_BIG: "message too big",
    INTERNAL_ERROR: "internal error",
    SERVICE_RESTART: "service restart",
    TRY_AGAIN_LATER: "try again later",
    AUTH_EXPIRED: "unauthorized: token missing or expired",
    AUTH_FORBIDDEN: "forbidden",
}

#: Message types a client may send; anything else gets an ``unknown-type`` error.
CLIENT_TYPES: Final = frozenset({"ping", "subscribe", "unsubscribe", "auth"})

#: Messages the server sends to run the connection itself, not to tell the application
#: anything: the client answers them (heartbeat, subscriptions). They reach an
#: application handler only when one is registered for exactly that type.
CONTROL_TYPES: Final = frozenset({"welcome", "subscribed", "pong", "resync"})
#: The type of the frame that reports bad input (``ProtocolError.as_message()``).
ERROR_TYPE: Final = "error"

#: Every short error code a peer may receive in ``{"type": "error", "error": CODE}`` (or in
#: an HTTP error body), and what it means. One table, so the browser page, the checkers
#: and the docs agree; ``tests/test_protocol_tables.py`` fails on a code sent from
#: ``wslearn/`` that is missing here.
ERROR_CODES: Final[Mapping[str, str]] = {
    # frames on a WebSocket
    "bad-json": "the frame is not valid JSON",
    "bad-utf8": "a binary frame that is not UTF-8 text",
    "not-an-object": "valid JSON, but not an object",
    "missing-type": 'an object without a string "type"',
    "unknown-type": "a type the server does not handle ("
    + ", ".join(sorted(CLIENT_TYPES)) + ")",
    "bad-topic": "a topic name outside 1-64 characters of a-z 0-9 . _ -",
    "bad-topics": 'subscribe/unsubscribe without a "topics" list',
    "too-many-topics": f"more than {MAX_TOPICS} topics on one connection",
    "bad-message": 'a "welcome" or "subscribed" from the server without a "topics" list',
    "bad-resume": "a resume cursor (?resume=topic:seq,...) that does not parse",
    # HTTP: /api/topics and the SSE stream /api/stream
    "bad-param": "an HTTP query parameter out of range (/api/topics)",
    "no-hub": "the served app has no topic hub (/api/topics)",
    # HTTP answers of the server (JSON bodies on /api/..., the SSE port, @app.http routes)
    "bad-key": "the request lacks the server's key (?key=...); server.url() carries it",
    "bad-host": "the Host header is not one of this server's names (DNS rebinding guard)",
    "bad-origin": "a browser page from another origin (serve(origins=[...]) allows it)",
    "bad-method": "an HTTP method other than GET",
    "bad-request": "not an HTTP/1.1 request",
    "not-found": "no stream or route at that path",
    "too-large": "request line and headers over the size limit (431)",
    "too-many-streams": "the server-sent event streams are at their limit (503)",
    "server-error": "an @app.http handler raised (500); the server goes on",
}


class MessageKind(Enum):
    """What a decoded server message is *for*, as the client sees it."""

    #: ``welcome`` / ``subscribed`` / ``pong``: the client itself answers it.
    CONTROL = "control"
    #: ``{"type": "error", ...}``: the server rejected something we sent.
    ERROR = "error"
    #: Anything else: an application event (a push). It may invalidate cached queries.
    EVENT = "event"


def message_kind(message: Mapping[str, Any]) -> MessageKind:
    """Classify a decoded server message (the client's protocol decision, in one place).

    >>> message_kind({"type": "pong"}), message_kind({"type": "proposal.created"})
    (<MessageKind.CONTROL: 'control'>, <MessageKind.EVENT: 'event'>)
    """
    kind = message.get("type")
    if kind in CONTROL_TYPES:
        return MessageKind.CONTROL
    if kind == ERROR_TYPE:
        return MessageKind.ERROR
    return MessageKind.EVENT


class ProtocolError(ValueError):
    """Bad input from a peer. ``code`` is the short error code sent on the wire."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def as_message(self) -> dict[str, Any]:
        """The ``{"type": "error", ...}`` frame that reports this error to the peer."""
        return error_message(self.code, self.detail)


def error_message(code: str, detail: str) -> dict[str, Any]:
    """``{"type": "error", "error": code, "detail": detail}``; ``code`` from ``ERROR_CODES``."""
    if code not in ERROR_CODES:
        raise ValueError(f"unknown error code {code!r}: add it to protocol.ERROR_CODES first")
    return {"type": ERROR_TYPE, "error": code, "detail": detail}


def validate_topics(topics: Iterable[str]) -> list[str]:
    """Return the topics de-duplicated in their given order, or raise ``ProtocolError``.

    The error names the first bad topic, so a learner (or a browser reading the
    close reason) sees exactly what to fix. Work is linear and stops at the first
    violation -- a bad name, or the 33rd distinct topic -- so one huge ``subscribe``
    cannot hold the server loop up for the other clients.
    """
    seen: dict[str, None] = {}  # insertion-ordered set: O(1) de-duplication
    for topic in topics:
        if not isinstance(topic, str) or not TOPIC_RE.fullmatch(topic):
            shown = repr(topic)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            raise ProtocolError(
                "bad-topic",
                f"invalid topic {shown}: use 1-64 characters of a-z 0-9 . _ -",
            )
        if topic not in seen:
            if len(seen) == MAX_TOPICS:
                raise ProtocolError("too-many-topics",
                                    f"more than {MAX_TOPICS} topics; at most {MAX_TOPICS}")
            seen[topic] = None
    return list(seen)


def parse_topics_param(value: str | None) -> list[str]:
    """Parse the ``?topics=a,b`` query value (missing or empty means no topics)."""
    if not value:
        return []
    return validate_topics(part.strip() for part in value.split(","))


#: The query parameter that carries the topics of a connection (``/ws?topics=a,b``).
TOPICS_PARAM: Final = "topics"


def topics_query(topics: Iterable[str]) -> str:
    """The query string for a list of topics: ``topics=analysis,proposals`` (or ``""``).

    The one place that builds it (the client, both servers' ``url()``). Each name is
    URL-quoted, so a lesson that builds a bad URL on purpose still sends exactly the
    name it meant (valid names are unchanged by quoting).

    >>> topics_query(["analysis", "proposals"]), topics_query(["a b"]), topics_query([])
    ('topics=analysis,proposals', 'topics=a%20b', '')
    """
    names = [quote(str(t), safe="") for t in topics]
    return f"{TOPICS_PARAM}=" + ",".join(names) if names else ""


#: The query parameter of a client that wants sequence numbers and replay
#: (``/ws?topics=a&resume=a:12``; an empty value asks for sequence numbers only).
RESUME_PARAM: Final = "resume"
#: The query parameter that carries a credential (``/ws?token=...``): browsers cannot set
#: headers on a WebSocket, so a token travels in the URL -- and so in access logs.
TOKEN_PARAM: Final = "token"
#: The cookie that may carry a token on the handshake instead: the browser sends it by
#: itself (``/api/token?cookie=1`` sets it, ``HttpOnly``: the page's script never reads it).
TOKEN_COOKIE: Final = "wslearn_token"
#: The field that numbers an event for a resumable socket: ``"seq": n`` on an event (its
#: topic's version, always the last field), ``"seq": {topic: head}`` on ``welcome`` /
#: ``subscribed``, and the topic's head on ``resync``.
SEQ_FIELD: Final = "seq"
#: The largest sequence number a cursor may carry (JavaScript's safe integer limit).
MAX_SEQ: Final = 2**53 - 1


def format_cursor(positions: Mapping[str, int]) -> str:
    """``{"a": 12, "b": 7}`` -> ``"a:12,b:7"``: where a client stopped, per topic.

    The one wire format of a resume position, used by the websocket ``?resume=`` value.
    (A server-sent event stream carries one topic, so its ``Last-Event-ID`` is just
    the number.)

    >>> format_cursor({"analysis": 12, "proposals": 7})
    'analysis:12,proposals:7'
    """
    return ",".join(f"{topic}:{seq}" for topic, seq in positions.items())


def parse_cursor(value: str | None) -> dict[str, int]:
    """Parse ``"a:12,b:7"`` into ``{"a": 12, "b": 7}``, or raise ``ProtocolError``.

    Topics follow the topic rule (at most ``MAX_TOPICS``), numbers are 0..``MAX_SEQ``
    written in plain decimal digits; an empty value is an empty cursor.
    """
    if not value:
        return {}
    positions: dict[str, int] = {}
    for part in value.split(","):
        topic, sep, number = part.strip().partition(":")
        if not sep or not number.isascii() or not number.isdigit() or len(number) > 16:
            shown = part if len(part) <= 40 else part[:37] + "..."
            raise ProtocolError("bad-resume", f"resume position {shown!r} is not topic:number")
        seq = int(number)
        if seq > MAX_SEQ:
            raise ProtocolError("bad-resume", f"sequence number {seq} is too large")
        (topic,) = validate_topics([topic])  # a bad name raises bad-topic
        positions[topic] = seq
        if len(positions) > MAX_TOPICS:
            raise ProtocolError("too-many-topics",
                                f"more than {MAX_TOPICS} topics; at most {MAX_TOPICS}")
    return positions


#: A ``\\uD800``-``\\uDFFF`` escape: the only way valid JSON text can carry a lone
#: surrogate, which is not Unicode and cannot be sent back as UTF-8.
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (browsers' JSON.parse rejects it)")


def decode(text: str | bytes) -> dict[str, Any]:
    """Parse one frame into a message object, or raise ``ProtocolError``.

    A valid message is a JSON object with a string ``"type"``. Input that one parser
    takes and another refuses is ``bad-json`` here, so the server never echoes it on:
    ``NaN``/``Infinity`` (Python's json takes them, browsers do not), lone surrogates
    (``"\\ud800"``: valid JSON escapes, but not Unicode), and nesting so deep that
    Python's parser runs out of recursion.
    """
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ProtocolError("bad-json", "frame is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad-json", f"frame is not valid JSON: {exc}") from None
    if isinstance(text, bytes) or _SURROGATE_ESCAPE.search(text):
        try:
            encode(data).encode()
        except (UnicodeEncodeError, ValueError, RecursionError):
            raise ProtocolError("bad-json", "frame holds a lone surrogate (\\ud800-\\udfff), "
                                "which is not Unicode text") from None
    if not isinstance(data, dict):
        raise ProtocolError("not-an-object", f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise ProtocolError("missing-type", 'message has no string "type" field')
    return data


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode(message: Mapping[str, Any] | list[Any]) -> str:
    """Serialise a message compactly (the same bytes for every subscriber).

    One module-level encoder: ``json.dumps`` with options builds a new encoder per
    call, which costs about half of an encode on the publish path. ``NaN`` and
    ``Infinity`` raise ``ValueError``: the server never sends what browsers reject.
    """
    return _ENCODER.encode(message)


def encode_utf8(message: Mapping[str, Any]) -> tuple[str, bytes]:
    """``encode`` plus its UTF-8 bytes; ``ValueError`` names NaN or a lone surrogate.

    The publish path checks *before* it records anything, so a failed publish leaves
    the topic exactly as it was.
    """
    try:
        text = encode(message)
    except ValueError as exc:
        raise ValueError(f"{exc} (NaN and Infinity are not JSON)") from None
    try:
        return text, text.encode()
    except UnicodeEncodeError:
        raise ValueError("a field holds a lone surrogate (\\ud800-\\udfff): not Unicode "
                         "text, so it cannot be sent") from None


def event(type: str, topic: str, **fields: Any) -> dict[str, Any]:
    """Build an event message ``{"type": ..., "topic": ..., **fields}``."""
    return {"type": type, "topic": topic, **fields}


def close_code_name(code: int | None) -> str:
    """A human name for a close code, for transcripts and widgets."""
    if code is None:
        return "no close code"
    return CLOSE_CODE_NAMES.get(code, "application code" if 3000 <= code < 5000 else "other")


def without_params(query: str, *names: str) -> str:
    """``query`` (``a=1&key=k``) without its ``name=...`` parts for ``names``, and without
    empty parts: how the server's ``key`` and a client's ``token`` are kept away from an
    endpoint (which might echo or log them) and from the access log.

    >>> without_params("topics=a&key=k&&token=t", "key", "token")
    'topics=a'
    """
    return "&".join(part for part in query.split("&")
                    if part and part.partition("=")[0] not in names)


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
