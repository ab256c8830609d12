"""Expiring tokens for a WebSocket: issue, verify, and what an expiry means.

Browsers cannot set headers on ``new WebSocket(url)``, so a credential reaches the
server in one of three ways (chapter 11 compares them):

* **in the query string** (``/ws?token=...``): simple, works everywhere -- and ends up
  in every access log and proxy log on the way, so the token must be short-lived;
* **as the first message** (``{"type": "auth", "token": ...}``): stays out of logs, but
  the server must hold an unauthenticated socket until it arrives;
* **a cookie**, sent by the browser with the handshake: no code at all, but it needs
  the Origin check (cross-site WebSocket hijacking) and the same site.

Whatever carries it, a token *expires*. The server then closes with ``4401``
(``protocol.AUTH_EXPIRED``) and a good client **refreshes** the token and connects at
once -- instead of backing off and retrying the expired token for ever
(``close_policy.CloseAction.REFRESH``).

``TokenIssuer`` is pure: the caller passes ``now`` (the server's loop clock, or the
virtual clock of the simulated network). Tokens are ``<serial>.<expiry ms>.<mac>``,
signed with HMAC-SHA256 so a client cannot extend its own; they never appear in stored
notebook outputs (``redact``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["Token", "TokenIssuer", "Verdict", "redact"]

#: Default token lifetime (seconds) of ``serve(auth=True)``.
DEFAULT_LIFETIME: Final = 30.0
_TOKEN_RE: Final = re.compile(r"(\d{1,12})\.(\d{1,16})\.([0-9a-f]{32})")
_QUERY_TOKEN_RE: Final = re.compile(r"([?&]token=)[^&#\s]*")


class Verdict(StrEnum):
    """What the server makes of a presented token."""

    VALID = "valid"
    #: Well formed and signed, but past its expiry: close 4401, the client refreshes.
    EXPIRED = "expired"
    #: Missing: close 4401 too (the client has to log in / fetch one).
    MISSING = "missing"
    #: Malformed or forged: close 4403 -- a refresh of *this* will not help.
    INVALID = "invalid"


@dataclass(frozen=True)
class Token:
    """An issued token: its text and when it expires (the issuer's clock, seconds)."""

    value: str
    expires_at: float

    def __repr__(self) -> str:  # never print the secret part
        return f"Token(expires_at={self.expires_at:g})"


class TokenIssuer:
    """Issues and checks tokens that expire ``lifetime`` seconds after issue.

    >>> issuer = TokenIssuer(lifetime=30, secret=b"k")
    >>> token = issuer.issue(now=0)
    >>> issuer.verify(token.value, now=29.9), issuer.verify(token.value, now=30)
    (<Verdict.VALID: 'valid'>, <Verdict.EXPIRED: 'expired'>)
    >>> issuer.verify("forged", now=0), issuer.verify(None, now=0)
    (<Verdict.INVALID: 'invalid'>, <Verdict.MISSING: 'missing'>)
    """

    def __init__(self, lifetime: float = DEFAULT_LIFETIME, secret: bytes | None = None) -> None:
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or not (
            0 < lifetime < math.inf
        ):
            raise ValueError(f"token lifetime must be a number of seconds > 0, got {lifetime!r}")
        if secret is not None and not isinstance(secret, bytes):
            raise TypeError(f"secret must be bytes or None (random), got {type(secret).__name__}")
        self.lifetime = float(lifetime)
        self._secret = secret if secret else secrets.token_bytes(32)
        self._serial = 0
        #: Tokens issued so far (a notebook shows refreshes with it).
        self.issued = 0

    def issue(self, now: float) -> Token:
        """A new token valid from ``now`` for ``lifetime`` seconds."""
        self._serial += 1
        self.issued += 1
        expires_ms = max(0, round((now + self.lifetime) * 1000))
        body = f"{self._serial}.{expires_ms}"
        return Token(f"{body}.{self._mac(body)}", expires_ms / 1000)

    def verify(self, value: str | None, now: float) -> Verdict:
        """``VALID``, ``EXPIRED``, ``MISSING`` or ``INVALID`` at time ``now``."""
        if not value:
            return Verdict.MISSING
        match = _TOKEN_RE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            return Verdict.INVALID
        body = f"{match[1]}.{match[2]}"
        if not hmac.compare_digest(self._mac(body), match[3]):
            return Verdict.INVALID
        return Verdict.VALID if now < int(match[2]) / 1000 else Verdict.EXPIRED

    def expires_at(self, value: str) -> float | None:
        """When a valid-looking token expires (None if it is not one of ours)."""
        match = _TOKEN_RE.fullmatch(value)
        if match is None or not hmac.compare_digest(self._mac(f"{match[1]}.{match[2]}"),
                                                    match[3]):
            return None
        return int(match[2]) / 1000

    def _mac(self, body: str) -> str:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()[:32]


def redact(text: str) -> str:
    """Hide ``token=...`` in a URL or log line: what an access log *should* do.

    >>> redact("GET /ws?topics=a&token=1.30000.abc HTTP/1.1")
    'GET /ws?topics=a&token=*** HTTP/1.1'
    """
    return _QUERY_TOKEN_RE.sub(r"\1***", text)
