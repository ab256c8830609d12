"""The handler registry: the seed's ``handlers[type]?.(data)`` plus isolation."""

from __future__ import annotations

import asyncio
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import arun
from wslearn.dispatch import Dispatcher, DispatchResult
from wslearn.protocol import ProtocolError


def test_decorator_and_call_forms_register_and_return_the_function() -> None:
    d = Dispatcher()
    seen: list[dict] = []

    @d.on("proposal.created")
    def on_created(data: dict) -> None:
        seen.append(data)

    def on_deleted(data: dict) -> None:
        seen.append(data)

    assert d.on("proposal.deleted", on_deleted) is on_deleted
    assert on_created.__name__ == "on_created"  # the decorator returned the function itself
    assert d.types() == ("proposal.created", "proposal.deleted")
    assert "proposal.created" in d and len(d) == 2
    assert repr(d) == "Dispatcher({'proposal.created': on_created, 'proposal.deleted': on_deleted})"


def test_handler_gets_the_message_without_type_like_the_seed() -> None:
    d = Dispatcher()
    got: list[dict] = []
    d.on("proposal.created", got.append)
    message = {"type": "proposal.created", "topic": "proposals", "id": 7}

    result = d.dispatch(message)

    assert got == [{"topic": "proposals", "id": 7}]
    assert result == DispatchResult("proposal.created", True, "append")
    assert result.ok and str(result) == "proposal.created: append"
    got[0]["id"] = 99
    assert message["id"] == 7, "handlers get a copy: the original message is untouched"


def test_a_raising_handler_is_reported_not_propagated() -> None:
    d = Dispatcher()

    @d.on("update")
    def on_update(data: dict) -> None:
        1 / 0  # noqa: B018

    result = d.dispatch({"type": "update"})

    assert result.handled and not result.ok
    assert isinstance(result.error, ZeroDivisionError)
    assert result.error_text == "ZeroDivisionError: division by zero in on_update"
    assert str(result) == "update: error: ZeroDivisionError: division by zero in on_update"


def test_error_text_is_one_line_even_for_multiline_messages() -> None:
    d = Dispatcher()

    def boom(data: dict) -> None:
        raise ValueError("first line\nsecond line")

    d.on("x", boom)
    assert d.dispatch({"type": "x"}).error_text == "ValueError: first line second line in boom"
    d.on("y", lambda data: data["missing"])
    assert d.dispatch({"type": "y"}).error_text == "KeyError: 'missing' in <lambda>"


def test_base_exceptions_still_propagate_so_the_client_can_be_stopped() -> None:
    d = Dispatcher()

    def cancel(data: dict) -> None:
        raise asyncio.CancelledError

    d.on("x", cancel)
    with pytest.raises(asyncio.CancelledError):
        d.dispatch({"type": "x"})


def test_unknown_types_are_unhandled_or_go_to_the_fallback() -> None:
    d = Dispatcher()
    assert d.dispatch({"type": "mystery", "a": 1}) == DispatchResult("mystery", False)
    assert str(d.dispatch({"type": "mystery"})) == "mystery: unhandled"

    unknown: list[dict] = []

    @d.fallback
    def log_unknown(message: dict) -> None:
        unknown.append(message)

    result = d.dispatch({"type": "mystery", "a": 1})
    assert unknown == [{"type": "mystery", "a": 1}], "the fallback sees the whole message"
    assert result.handled and result.fallback and result.handler == "log_unknown"
    assert str(result) == "mystery: fallback log_unknown"
    assert repr(d) == "Dispatcher({}, fallback=log_unknown)"
    d.fallback(None)
    assert not d.dispatch({"type": "mystery"}).handled


def test_one_handler_per_type_a_second_registration_replaces() -> None:
    d = Dispatcher()
    d.on("x", lambda data: None)

    def second(data: dict) -> None:
        pass

    d.on("x", second)
    assert d.get("x") is second
    assert d.dispatch({"type": "x"}).handler == "second"


def test_off_removes_and_is_idempotent() -> None:
    d = Dispatcher()

    def a(data: dict) -> None:
        pass

    def b(data: dict) -> None:
        pass

    d.on("x", a)
    assert d.off("x", b) is False, "off(type, fn) only removes fn"
    assert d.off("x", a) is True
    assert d.off("x") is False, "removing twice is harmless"
    assert d.types() == ()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (["not", "a", "dict"], "not-an-object"),
        ({"topic": "x"}, "missing-type"),
        ({"type": ""}, "missing-type"),
        ({"type": 3}, "missing-type"),
    ],
)
def test_malformed_messages_are_reported_with_protocol_codes(message: object, code: str) -> None:
    result = Dispatcher().dispatch(message)  # type: ignore[arg-type]
    assert result.type is None and not result.handled
    assert isinstance(result.error, ProtocolError) and result.error.code == code
    assert str(result).startswith("<malformed>: error: ProtocolError: " + code)


def test_dispatch_frame_decodes_and_reports_bad_json() -> None:
    d = Dispatcher()
    got: list[dict] = []
    d.on("pong", got.append)
    assert d.dispatch_frame('{"type": "pong", "n": 1}').ok
    assert got == [{"n": 1}]
    bad = d.dispatch_frame("{not json")
    assert isinstance(bad.error, ProtocolError) and bad.error.code == "bad-json"


def test_registration_mistakes_fail_at_once_with_a_hint() -> None:
    d = Dispatcher()
    with pytest.raises(TypeError, match="message type string"):
        d.on("")
    with pytest.raises(TypeError, match="no parentheses"):
        d.on("x", None)  # e.g. d.on("x", handler()) -- the result, not the function
    with pytest.raises(TypeError, match="no parentheses"):
        d.fallback(42)  # type: ignore[call-overload]


def test_async_handlers_are_returned_pending_and_settled_by_the_driver() -> None:
    d = Dispatcher()
    got: list[dict] = []

    @d.on("ok")
    async def on_ok(data: dict) -> None:
        await asyncio.sleep(0)
        got.append(data)

    @d.on("bad")
    async def on_bad(data: dict) -> None:
        raise RuntimeError("nope")

    async def main() -> tuple[DispatchResult, DispatchResult]:
        first = d.dispatch({"type": "ok", "n": 1})
        assert first.pending is not None and not first.ok
        assert str(first) == "ok: on_ok (pending)"
        return await first.settle(), await d.dispatch({"type": "bad"}).settle()

    settled, failed = arun(main())
    assert settled.ok and settled.pending is None and got == [{"n": 1}]
    assert failed.error_text == "RuntimeError: nope in on_bad"
    assert arun(DispatchResult("x", False).settle()) == DispatchResult("x", False)


TYPES = st.text(alphabet=string.ascii_lowercase + ".", min_size=1, max_size=8)


@given(
    registered=st.dictionaries(TYPES, st.booleans(), max_size=6),
    messages=st.lists(
        st.fixed_dictionaries({"type": TYPES}, optional={"id": st.integers()}), max_size=20
    ),
)
def test_property_every_message_is_routed_to_its_handler_and_nothing_raises(
    registered: dict[str, bool], messages: list[dict]
) -> None:
    """Whatever mix of good and raising handlers: dispatch never raises, routing is exact."""
    d = Dispatcher()
    calls: list[tuple[str, dict]] = []

    def make(kind: str, raises: bool):
        def handler(data: dict) -> None:
            calls.append((kind, data))
            if raises:
                raise ValueError(kind)

        return handler

    for kind, raises in registered.items():
        d.on(kind, make(kind, raises))

    for message in messages:
        calls.clear()
        result = d.dispatch(message)
        kind = message["type"]
        assert result.type == kind
        assert result.handled == (kind in registered)
        expected_data = {k: v for k, v in message.items() if k != "type"}
        assert calls == ([(kind, expected_data)] if kind in registered else [])
        assert (result.error is not None) == registered.get(kind, False)
