"""Chapter 06: MessageRouter -- if/else chains, `handlers[type]?.(data)` and its crashes."""

from __future__ import annotations

import json

from wslearn import Dispatcher

from . import Case


class Router:
    """The solution's shape."""

    def __init__(self):
        self.handlers = {}
        self.errors = []

    def on(self, type):
        def register(fn):
            self.handlers[type] = fn
            return fn

        return register

    def on_message(self, raw):
        try:
            message = json.loads(raw)
        except ValueError as exc:
            self.errors.append(f"bad JSON: {exc}")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self.errors.append(f"not a message: {raw!r}")
            return
        data = dict(message)
        kind = data.pop("type")
        handler = self.handlers.get(kind)
        if handler is None:
            self.errors.append(f"unknown type {kind!r}")
            return
        try:
            handler(data)
        except Exception as exc:
            self.errors.append(f"{kind}: {exc!r}")


class NoReturn(Router):
    def on(self, type):
        def register(fn):
            self.handlers[type] = fn  # forgot `return fn`

        return register


class KeepsType(Router):
    def on_message(self, raw):
        message = json.loads(raw)
        self.handlers[message["type"]](message)  # the whole message, "type" included


class SeedOneLiner(Router):
    """The seed's `const { type, ...data } = JSON.parse(event.data); handlers[type]?.(data)`:
    unknown types vanish silently, bad JSON and throwing handlers escape."""

    def on_message(self, raw):
        data = json.loads(raw)
        kind = data.pop("type")
        handler = self.handlers.get(kind)
        if handler is not None:
            handler(data)


class IndexesDirectly(Router):
    def on_message(self, raw):
        try:
            data = json.loads(raw)
        except ValueError:
            self.errors.append("bad JSON")
            return
        kind = data.pop("type")
        try:
            self.handlers[kind](data)  # KeyError for an unknown type, outside the try
        except KeyError:
            raise
        except Exception as exc:
            self.errors.append(repr(exc))


class SilentUnknown(Router):
    def on_message(self, raw):
        try:
            message = json.loads(raw)
            kind = message.pop("type")
        except (ValueError, AttributeError, KeyError):
            self.errors.append("malformed")
            return
        handler = self.handlers.get(kind)
        if handler is not None:
            try:
                handler(message)
            except Exception as exc:
                self.errors.append(repr(exc))


class CrashesOnList(Router):
    def on_message(self, raw):
        try:
            message = json.loads(raw)
        except ValueError:
            self.errors.append("bad JSON")
            return
        kind = message.pop("type", None)  # a list has no .pop(key)... AttributeError/TypeError
        handler = self.handlers.get(kind)
        if handler is None:
            self.errors.append(f"unknown {kind}")
            return
        try:
            handler(message)
        except Exception as exc:
            self.errors.append(repr(exc))


class HandlerErrorsEscape(Router):
    def on_message(self, raw):
        try:
            message = json.loads(raw)
        except ValueError:
            self.errors.append("bad JSON")
            return
        if not isinstance(message, dict) or "type" not in message:
            self.errors.append("malformed")
            return
        kind = message.pop("type")
        handler = self.handlers.get(kind)
        if handler is None:
            self.errors.append(f"unknown {kind}")
            return
        handler(message)  # a handler bug ends the socket loop


class SwallowsHandlerErrors(Router):
    def on_message(self, raw):
        try:
            message = json.loads(raw)
        except ValueError:
            self.errors.append("bad JSON")
            return
        if not isinstance(message, dict) or "type" not in message:
            self.errors.append("malformed")
            return
        kind = message.pop("type")
        handler = self.handlers.get(kind)
        if handler is None:
            self.errors.append(f"unknown {kind}")
            return
        try:  # noqa: SIM105 - spelled out: swallowing is the mistake under test
            handler(message)
        except Exception:
            pass  # nobody will ever know


class IfElse:
    """The seed's mistake 5 -- but written carefully it still *behaves*: no registry, an
    if/elif chain over registered types. Checkers test behaviour, so this passes (the
    notebook is where the design lesson is)."""

    def __init__(self):
        self.created = self.deleted = self.failed = None
        self.errors = []

    def on(self, type):
        def register(fn):
            if type == "proposal.created":
                self.created = fn
            elif type == "proposal.deleted":
                self.deleted = fn
            elif type == "analysis.failed":
                self.failed = fn
            return fn

        return register

    def on_message(self, raw):
        try:
            message = json.loads(raw)
            kind = message["type"]
        except (ValueError, TypeError, KeyError) as exc:
            self.errors.append(repr(exc))
            return
        data = {k: v for k, v in message.items() if k != "type"}
        if kind == "proposal.created" and self.created:
            handler = self.created
        elif kind == "proposal.deleted" and self.deleted:
            handler = self.deleted
        elif kind == "analysis.failed" and self.failed:
            handler = self.failed
        else:
            self.errors.append(f"unknown {kind}")
            return
        try:
            handler(data)
        except Exception as exc:
            self.errors.append(repr(exc))


class OnDispatcher:
    """Right, written differently: delegates to wslearn's Dispatcher."""

    def __init__(self):
        self.dispatcher = Dispatcher()
        self.errors = []

    def on(self, type):
        return self.dispatcher.on(type)

    def on_message(self, raw):
        result = self.dispatcher.dispatch_frame(raw)
        if result.error_text is not None:
            self.errors.append(result.error_text)
        elif not result.handled:
            self.errors.append(f"unknown type {result.type}")


CASES = [
    Case("decorator-forgets-return", "decorator-returns-none", (NoReturn,)),
    Case("keeps-type-in-data", "type-not-removed", (KeepsType,)),
    Case("seed-one-liner", "unknown-not-recorded", (SeedOneLiner,)),
    Case("indexes-handlers-directly", "unknown-type-crash", (IndexesDirectly,)),
    Case("unknown-type-silent", "unknown-not-recorded", (SilentUnknown,)),
    Case("crashes-on-a-list", "malformed-crash", (CrashesOnList,)),
    Case("handler-errors-escape", "handler-error-crash", (HandlerErrorsEscape,)),
    Case("handler-errors-swallowed", "handler-error-not-recorded", (SwallowsHandlerErrors,)),
    Case("right-solution-shape", None, (Router,)),
    Case("right-if-elif", None, (IfElse,)),
    Case("right-on-dispatcher", None, (OnDispatcher,)),
]


# -- found by mutation testing and the blind-class review (issue 11) -----------------------


class CatchesValueErrorOnly(Router):
    """One exception class standing for all: a handler's KeyError escapes."""

    def on_message(self, raw):
        try:
            message = json.loads(raw)
        except ValueError as exc:
            self.errors.append(f"bad JSON: {exc}")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self.errors.append(f"not a message: {raw!r}")
            return
        data = dict(message)
        kind = data.pop("type")
        handler = self.handlers.get(kind)
        if handler is None:
            self.errors.append(f"unknown type {kind!r}")
            return
        try:
            handler(data)
        except ValueError as exc:
            self.errors.append(f"{kind}: {exc!r}")


class RecordsTwice(Router):
    """Forgets to return after recording an unknown type: it is recorded twice."""

    def on_message(self, raw):
        try:
            message = json.loads(raw)
        except ValueError as exc:
            self.errors.append(f"bad JSON: {exc}")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self.errors.append(f"not a message: {raw!r}")
            return
        data = dict(message)
        kind = data.pop("type")
        handler = self.handlers.get(kind)
        if handler is None:
            self.errors.append(f"unknown type {kind!r}")
        try:
            handler(data)
        except Exception as exc:
            self.errors.append(f"{kind}: {exc!r}")


CASES += [
    Case("catches-value-error-only", "handler-error-crash", (CatchesValueErrorOnly,)),
    Case("records-unknown-twice", "recorded-twice", (RecordsTwice,)),
]
