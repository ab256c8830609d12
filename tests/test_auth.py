"""Expiring tokens: issue, verify, redact (pure; the clock is passed in)."""

from __future__ import annotations

import pytest

from wslearn.auth import TokenIssuer, Verdict, redact


def test_a_token_is_valid_until_it_expires() -> None:
    issuer = TokenIssuer(lifetime=30, secret=b"s")
    token = issuer.issue(now=100.0)
    assert token.expires_at == 130.0
    assert issuer.verify(token.value, 129.999) is Verdict.VALID
    assert issuer.verify(token.value, 130.0) is Verdict.EXPIRED
    assert issuer.expires_at(token.value) == 130.0 and issuer.issued == 1


def test_tokens_differ_and_cannot_be_extended() -> None:
    issuer = TokenIssuer(lifetime=30, secret=b"s")
    a, b = issuer.issue(0), issuer.issue(0)
    assert a.value != b.value
    serial, expiry, mac = a.value.split(".")
    forged = f"{serial}.{int(expiry) + 60_000}.{mac}"
    assert issuer.verify(forged, 0) is Verdict.INVALID
    assert issuer.expires_at(forged) is None


def test_another_issuer_s_token_is_invalid() -> None:
    token = TokenIssuer(secret=b"one").issue(0)
    assert TokenIssuer(secret=b"two").verify(token.value, 0) is Verdict.INVALID


@pytest.mark.parametrize("value", ["", None])
def test_missing(value: str | None) -> None:
    assert TokenIssuer().verify(value, 0) is Verdict.MISSING


@pytest.mark.parametrize("value", ["x", "1.2.3", "1.2." + "g" * 32, "1." * 40, "ä"])
def test_malformed(value: str) -> None:
    assert TokenIssuer().verify(value, 0) is Verdict.INVALID


def test_repr_never_shows_the_token() -> None:
    token = TokenIssuer(secret=b"s").issue(0)
    assert token.value not in repr(token) and "expires_at=30" in repr(token)


def test_redact_hides_query_tokens() -> None:
    line = "GET /ws?token=1.2.abc&topics=a HTTP/1.1"
    assert redact(line) == "GET /ws?token=***&topics=a HTTP/1.1"
    assert redact("no token here") == "no token here"


@pytest.mark.parametrize("lifetime", [0, -1, float("inf"), True, "30"])
def test_bad_lifetime(lifetime: object) -> None:
    with pytest.raises(ValueError):
        TokenIssuer(lifetime=lifetime)  # type: ignore[arg-type]


def test_secret_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        TokenIssuer(secret="text")  # type: ignore[arg-type]
