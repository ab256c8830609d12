"""Checker for chapter 06: ``MessageRouter`` -- a handler registry instead of if/else.

The seed's mistake 5 is one ``onmessage`` with 100 lines of ``if (data.type === ...)``.
Its fix is a ``{type: handler}`` map and ``handlers[type]?.(data)`` -- which silently
drops unknown types and lets a throwing handler (or bad JSON) kill the socket loop. The
learner writes the Python twin, FastAPI-router style::

    class MessageRouter:
        def __init__(self): self.handlers = {}; self.errors = []
        def on(self, type)              # decorator: @router.on("proposal.created")
        def on_message(self, raw)       # decode, split type, call; never raises

Scenarios (no network, then the socket loop over ``/echo``, also on the real server):
dispatch by type with the data minus ``type``; unknown types; malformed frames; a
handler that raises -- each recorded in ``errors``, none stopping the next message.
"""

from __future__ import annotations

import json
from typing import Any

from ._common import require_class
from ._net import Lab
from ._runner import Exercise, Failed, Verdict
from ._sandbox import describe_exception

NAME = "handlers"

HINTS = {
    "recorded-twice": "One bad message, one line in self.errors: return right after "
    "recording a problem, so the same message is not recorded again further down.",
    "decorator-returns-none": "on(type) is a decorator factory: `def on(self, type):` returns "
    "`def register(fn): self.handlers[type] = fn; return fn`. Forgetting `return fn` replaces "
    "your function's name with None.",
    "type-not-removed": "Handlers get the data *without* \"type\" -- Module 07's "
    "`const { type, ...data } = JSON.parse(event.data)`: `data = dict(message)`, "
    "`kind = data.pop(\"type\")`.",
    "not-decoded": "Handlers get the decoded dict, not the raw text: `json.loads(raw)` first.",
    "wrong-handler": "Each message must go to the handler registered for its \"type\", once.",
    "unknown-type-crash": "An unknown type raised (KeyError?): use `self.handlers.get(kind)` "
    "and record the unknown type in self.errors instead of crashing the loop.",
    "unknown-not-recorded": "Unknown types must not vanish silently (Module 07's "
    "`handlers[type]?.(data)` does): append a line to self.errors.",
    "malformed-crash": "A frame that is not a JSON object with a \"type\" raised. Catch "
    "`json.JSONDecodeError` (a ValueError) and check `isinstance(message, dict)` and the "
    "\"type\" key; record each problem in self.errors.",
    "malformed-not-recorded": "Malformed frames must be recorded in self.errors, one line each.",
    "handler-error-crash": "A handler that raises must not stop the socket loop: call it in "
    "`try: ... except Exception as exc:` and record the error in self.errors.",
    "handler-error-not-recorded": "A handler's exception was swallowed silently: record it in "
    "self.errors (e.g. f\"{kind}: {exc!r}\").",
    "loop-died": "The socket loop stopped at a bad frame: on_message must never raise.",
}

STEPS = [
    "on(type) returns a decorator: `def register(fn): self.handlers[type] = fn; return fn` "
    "and `return register`.",
    "on_message: `message = json.loads(raw)`; `kind = message.pop(\"type\")`; "
    "`self.handlers[kind](message)` -- then make each step safe.",
    "Three things can go wrong: bad JSON / not a dict / no \"type\" (the peer's fault), an "
    "unknown type, a handler that raises (our bug). Each one: append a line to self.errors "
    "and return.",
    "Wrap the handler call in `try: ... except Exception as exc:` -- never a bare except, "
    "and never BaseException (that would swallow cancellation).",
]



def prepare(router_class: Any = None) -> Any:
    return require_class(router_class, "MessageRouter", {"on": False, "on_message": False})


EXERCISE = Exercise(NAME, "06_handlers", prepare,
                    objects=("MessageRouter",), hints=HINTS, steps=STEPS)


class _Setup:
    """A router with two recording handlers and one that raises."""

    def __init__(self, cls: type) -> None:
        self.router = cls()
        self.calls: list[tuple[str, Any]] = []
        self.returned: list[Any] = []
        for kind in ("proposal.created", "proposal.deleted"):
            self.returned.append(self._register(kind))

        def broken(data: Any) -> None:
            raise ValueError("handler bug")

        self.returned.append(self.router.on("analysis.failed")(broken))

        def missing_key(data: Any) -> None:  # another class: no handler error stands for all
            raise KeyError("score")

        self.returned.append(self.router.on("analysis.scored")(missing_key))

    def _register(self, kind: str) -> Any:
        def handler(data: Any) -> None:
            self.calls.append((kind, data))

        handler.__name__ = "on_" + kind.replace(".", "_")
        return self.router.on(kind)(handler)

    def errors(self) -> list[Any]:
        errors = getattr(self.router, "errors", None)
        return list(errors) if isinstance(errors, list) else []

    def feed(self, raw: str, crash_kind: str) -> None:
        try:
            self.router.on_message(raw)
        except NotImplementedError:
            raise
        except Exception as exc:
            raise Failed(crash_kind, f"on_message({raw!r}) raised {describe_exception(exc)}",
                         "no exception", type(exc).__name__) from exc

    def call_text(self) -> str:
        def show(data: Any) -> str:
            return json.dumps(data, sort_keys=True) if isinstance(data, dict) else repr(data)

        lines = [f"{kind}: {show(data)}" for kind, data in self.calls]
        return "\n".join(lines) or "(no handler called)"


CREATED = '{"type": "proposal.created", "topic": "proposals", "id": 7}'
DELETED = '{"type": "proposal.deleted", "topic": "proposals", "id": 8}'
EXPECTED_DISPATCH = (
    'proposal.created: {"id": 7, "topic": "proposals"}\n'
    'proposal.deleted: {"id": 8, "topic": "proposals"}'
)


@EXERCISE.scenario("dispatch by type: each handler gets the data without \"type\"",
                   network=False)
async def dispatch(lab: Lab | None, cls: Any) -> Verdict:
    setup = _Setup(cls)
    if any(fn is None for fn in setup.returned):
        raise Failed("decorator-returns-none", "@router.on(...) replaced the function with None",
                     "the decorated function", "None")
    setup.feed(CREATED, "wrong-handler")
    setup.feed(DELETED, "wrong-handler")
    actual = setup.call_text()
    if actual != EXPECTED_DISPATCH:
        data = [d for _, d in setup.calls]
        if any(isinstance(d, str | bytes) for d in data):
            kind = "not-decoded"
        elif any(isinstance(d, dict) and "type" in d for d in data):
            kind = "type-not-removed"
        else:
            kind = "wrong-handler"
        raise Failed(kind, "the handlers were not called as expected", EXPECTED_DISPATCH, actual)
    return Verdict(EXPECTED_DISPATCH, actual)


def _check_bad(setup: _Setup, raw: str, crash: str, silent: str, what: str) -> str:
    before = len(setup.errors())
    setup.feed(raw, crash)
    added = len(setup.errors()) - before
    if added <= 0:
        raise Failed(silent, f"{what} was not recorded in self.errors",
                     f"{what}: recorded", f"{what}: errors unchanged")
    if added > 1:
        raise Failed("recorded-twice", f"{what} added {added} lines to self.errors (one "
                     f"message, one line): {setup.errors()[before:]!r}",
                     f"{what}: recorded once", f"{what}: recorded {added} times")
    return f"{what}: recorded, no exception"


def _then_still_works(setup: _Setup, lines: list[str], expected: list[str]) -> Verdict:
    setup.feed(CREATED, "wrong-handler")
    if not setup.calls:
        raise Failed("loop-died", "the next valid message was not handled",
                     "\n".join(expected), "\n".join([*lines, "next message: not handled"]))
    lines.append("next message: handled")
    return Verdict("\n".join(expected), "\n".join(lines))


@EXERCISE.scenario("unknown type: recorded in errors, no exception", network=False)
async def unknown(lab: Lab | None, cls: Any) -> Verdict:
    setup = _Setup(cls)
    lines = [_check_bad(setup, '{"type": "user.typing", "topic": "chat"}', "unknown-type-crash",
                        "unknown-not-recorded", "unknown type")]
    return _then_still_works(setup, lines, ["unknown type: recorded, no exception",
                                            "next message: handled"])


MALFORMED = [
    ("not JSON", "{oops"),
    ("not an object", '["proposal.created"]'),
    ("no \"type\"", '{"topic": "proposals", "id": 7}'),
    ("a \"type\" that is not a string", '{"type": 7, "topic": "proposals"}'),
    ("a JSON string", '"proposal.created"'),
]


@EXERCISE.scenario("malformed frames (not JSON, a list, no \"type\"): each recorded, "
                   "no exception", network=False)
async def malformed(lab: Lab | None, cls: Any) -> Verdict:
    setup = _Setup(cls)
    lines = [_check_bad(setup, raw, "malformed-crash", "malformed-not-recorded", what)
             for what, raw in MALFORMED]
    expected = [f"{what}: recorded, no exception" for what, _ in MALFORMED]
    return _then_still_works(setup, lines, [*expected, "next message: handled"])


@EXERCISE.scenario("a handler that raises: recorded in errors, the next message still "
                   "handled", network=False)
async def failing_handler(lab: Lab | None, cls: Any) -> Verdict:
    setup = _Setup(cls)
    lines = [_check_bad(setup, '{"type": "analysis.failed", "topic": "analysis"}',
                        "handler-error-crash", "handler-error-not-recorded",
                        "handler ValueError"),
             _check_bad(setup, '{"type": "analysis.scored", "topic": "analysis"}',
                        "handler-error-crash", "handler-error-not-recorded",
                        "handler KeyError")]
    return _then_still_works(setup, lines, ["handler ValueError: recorded, no exception",
                                            "handler KeyError: recorded, no exception",
                                            "next message: handled"])


FRAMES = [CREATED, '{"type": "user.typing"}', "{oops", '{"type": "analysis.failed"}', DELETED]
EXPECTED_LOOP = """\
5 frames through the socket loop (/echo): the loop is still running
handled: proposal.created, proposal.deleted
errors recorded for all 3 bad frames"""


@EXERCISE.scenario("the socket loop survives bad frames (5 frames through /echo)", real=True)
async def socket_loop(lab: Lab | None, cls: Any) -> Verdict:
    assert lab is not None
    setup = _Setup(cls)
    async with lab.connect(lab.url("/echo")) as ws:
        for frame in FRAMES:
            await ws.send(frame)
        seen = 0
        while seen < len(FRAMES):
            raw = await ws.recv()
            seen += 1
            try:
                setup.router.on_message(raw)
            except NotImplementedError:
                raise
            except Exception as exc:
                raise Failed("loop-died", f"the loop died at frame {seen}: on_message raised "
                             f"{describe_exception(exc)}", EXPECTED_LOOP,
                             f"the loop died at frame {seen}") from exc
    handled = ", ".join(kind for kind, _ in setup.calls)
    count = len(setup.errors())
    recorded = ("errors recorded for all 3 bad frames" if count >= 3
                else f"errors recorded: {count} of 3 bad frames")
    actual = (f"{len(FRAMES)} frames through the socket loop (/echo): the loop is still running"
              f"\nhandled: {handled}\n{recorded}")
    if actual != EXPECTED_LOOP:
        raise Failed("wrong-handler", "other handlers ran, or other errors were recorded",
                     EXPECTED_LOOP, actual)
    return Verdict(EXPECTED_LOOP, actual)
