"""Message handlers by ``type``: the seed's "message handler pattern" (section 5).

The seed replaces 100 lines of ``if data.type === ...`` with a registry::

    const handlers = { notification: (data) => ..., update: (data) => ... }
    ws.onmessage = (event) => {
      const { type, ...data } = JSON.parse(event.data)
      handlers[type]?.(data)
    }

``Dispatcher`` is that registry, with the three things the one-liner leaves out and a
real socket loop needs:

* **isolation** -- a handler that raises is reported in the ``DispatchResult`` and never
  propagates, so one bad message (or one buggy handler) cannot kill the receive loop
  and with it every later message;
* **unknown types** are visible: they go to an optional fallback, or come back with
  ``handled=False`` instead of vanishing silently like ``handlers[type]?.(data)``;
* **malformed input** (not an object, no ``"type"``) is reported the same way, with the
  protocol's error codes, because it comes from the peer and is not a bug of ours.

Choices, and why:

* **Handlers get the message without ``"type"``** -- exactly the seed's
  ``const { type, ...data }``; everything else (``"topic"`` included) stays. ``data`` is a
  fresh dict, so a handler that mutates it cannot disturb another consumer of the same
  message (e.g. the query cache's invalidation). The fallback gets the *whole* message,
  because it is the one handler that does not already know the type.
* **One handler per type**, like the seed's object literal: ``on(type, fn)`` for a type that
  already has a handler replaces it, the way ``handlers[type] = fn`` would. This keeps
  results simple (one handler, one error) and makes re-running a notebook cell that
  registers ``@d.on("x")`` harmless. Need two reactions? Call both from one handler.
* **Async handlers are allowed** but not awaited here: this module is part of the pure core
  (no event loop, no tasks). A handler that returns an awaitable puts it in
  ``DispatchResult.pending``; the asyncio driver must ``await result.settle()``, which
  awaits it with the same isolation rules and returns the final result.
* Only ``Exception`` is caught. ``KeyboardInterrupt``, ``SystemExit`` and
  ``asyncio.CancelledError`` (a ``BaseException``) still propagate: swallowing them would
  make the client impossible to stop.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar, overload

from .protocol import ProtocolError, decode

__all__ = ["DispatchResult", "Dispatcher", "Handler"]

#: A handler takes the message data (without ``"type"``); it may return an awaitable.
Handler = Callable[[dict[str, Any]], Any]
H = TypeVar("H", bound=Callable[..., Any])
_MISSING: Any = object()  # tells ``on("x")`` (decorator) from ``on("x", None)`` (a mistake)


def _name(fn: Callable[..., Any]) -> str:
    """A stable, human name for a handler (never an object id)."""
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def _error_text(exc: BaseException, where: str | None) -> str:
    """One line: ``"ZeroDivisionError: division by zero in on_update"``."""
    detail = " ".join(str(exc).split())
    text = type(exc).__name__ + (f": {detail}" if detail else "")
    return f"{text} in {where}" if where else text


@dataclass(frozen=True)
class DispatchResult:
    """What happened to one message: which handler ran and whether it failed.

    ``handled`` is true when a handler (or the fallback) was *called*, even if it then
    raised; ``ok`` is true when it was called and did not raise. ``type`` is ``None`` only
    for a malformed message. ``pending`` holds the awaitable of an async handler until the
    driver calls ``settle()``.
    """

    type: str | None
    handled: bool
    handler: str | None = None
    error: BaseException | None = None
    error_text: str | None = None
    fallback: bool = False
    pending: Awaitable[Any] | None = None

    @property
    def ok(self) -> bool:
        """Handled, without an error (a pending async handler counts as not done yet)."""
        return self.handled and self.error is None and self.pending is None

    async def settle(self) -> DispatchResult:
        """Await an async handler's result and report its error like a sync one's.

        The driver calls this on every result (it is a no-op when nothing is pending), so
        an ``async def`` handler that raises is isolated exactly like a plain one.
        """
        if self.pending is None:
            return self
        try:
            await self.pending
        except Exception as exc:
            return replace(self, pending=None, error=exc, error_text=_error_text(exc, self.handler))
        return replace(self, pending=None)

    def __str__(self) -> str:
        """One line for logs and message tables."""
        kind = self.type if self.type is not None else "<malformed>"
        if self.error_text is not None:
            return f"{kind}: error: {self.error_text}"
        if not self.handled:
            return f"{kind}: unhandled"
        via = "fallback " if self.fallback else ""
        state = " (pending)" if self.pending is not None else ""
        return f"{kind}: {via}{self.handler}{state}"


class Dispatcher:
    """A registry of handlers by message type (see the module docstring for the rules).

    >>> d = Dispatcher()
    >>> @d.on("proposal.created")
    ... def show(data):
    ...     print("new proposal", data["id"])
    >>> d.dispatch({"type": "proposal.created", "topic": "proposals", "id": 7}).handler
    new proposal 7
    'show'
    """

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._fallback: Callable[[dict[str, Any]], Any] | None = None

    # -- registration -------------------------------------------------------------------

    @overload
    def on(self, type: str) -> Callable[[H], H]: ...
    @overload
    def on(self, type: str, fn: H) -> H: ...

    def on(self, type: str, fn: Callable[..., Any] = _MISSING) -> Any:
        """Register ``fn`` for messages of ``type``: ``@d.on("x")`` or ``d.on("x", fn)``.

        Returns ``fn`` (or a decorator that returns it), so the function stays usable.
        A second registration for the same type replaces the first (one handler per type).
        """
        if not isinstance(type, str) or not type:
            raise TypeError(
                f"on() needs a message type string such as 'proposal.created', got {type!r}"
            )
        if fn is _MISSING:

            def decorator(func: H) -> H:
                return self.on(type, func)

            return decorator
        self._handlers[type] = _check_callable(fn, f"on({type!r}, fn)")
        return fn

    @overload
    def fallback(self, fn: H) -> H: ...
    @overload
    def fallback(self, fn: None) -> None: ...

    def fallback(self, fn: Callable[..., Any] | None) -> Any:
        """Set the handler for unknown types (``@d.fallback`` or ``d.fallback(fn)``).

        It receives the whole message, ``"type"`` included. ``d.fallback(None)`` removes it.
        """
        self._fallback = None if fn is None else _check_callable(fn, "fallback(fn)")
        return fn

    def off(self, type: str, fn: Callable[..., Any] | None = None) -> bool:
        """Remove the handler for ``type`` (only if it is ``fn``, when given).

        Returns whether something was removed. Removing twice is harmless, like a React
        cleanup that runs twice, so cleanup code never needs an ``if`` around it.
        """
        current = self._handlers.get(type)
        if current is None or (fn is not None and current is not fn):
            return False
        del self._handlers[type]
        return True

    def types(self) -> tuple[str, ...]:
        """The registered types, in registration order."""
        return tuple(self._handlers)

    def get(self, type: str) -> Handler | None:
        """The handler registered for ``type``, or ``None``."""
        return self._handlers.get(type)

    def __contains__(self, type: object) -> bool:
        return type in self._handlers

    def __len__(self) -> int:
        return len(self._handlers)

    def __repr__(self) -> str:
        parts = [f"{t!r}: {_name(h)}" for t, h in self._handlers.items()]
        extra = f", fallback={_name(self._fallback)}" if self._fallback else ""
        return "Dispatcher({" + ", ".join(parts) + "}" + extra + ")"

    # -- dispatching --------------------------------------------------------------------

    def dispatch(self, message: Mapping[str, Any]) -> DispatchResult:
        """Call the handler for ``message["type"]``; never raises for a bad message or handler.

        Malformed messages (not an object, no string ``"type"``) come back with
        ``handled=False`` and a ``ProtocolError`` in ``error`` -- the same codes the server
        uses (``not-an-object``, ``missing-type``).
        """
        if not isinstance(message, Mapping):
            exc = ProtocolError(
                "not-an-object", f"expected a JSON object, got {type(message).__name__}"
            )
            return DispatchResult(None, False, error=exc, error_text=_error_text(exc, None))
        kind = message.get("type")
        if not isinstance(kind, str) or not kind:
            exc = ProtocolError("missing-type", 'message has no string "type" field')
            return DispatchResult(None, False, error=exc, error_text=_error_text(exc, None))

        handler = self._handlers.get(kind)
        if handler is not None:
            data = {k: v for k, v in message.items() if k != "type"}
            return self._call(kind, handler, data, fallback=False)
        if self._fallback is not None:
            return self._call(kind, self._fallback, dict(message), fallback=True)
        return DispatchResult(kind, False)

    def dispatch_frame(self, frame: str | bytes) -> DispatchResult:
        """Decode one raw frame with ``protocol.decode`` and dispatch it.

        Malformed JSON is reported (``bad-json``), not raised: the socket loop goes on.
        """
        try:
            message = decode(frame)
        except ProtocolError as exc:
            return DispatchResult(None, False, error=exc, error_text=_error_text(exc, None))
        return self.dispatch(message)

    def _call(
        self, kind: str, fn: Callable[..., Any], arg: dict[str, Any], *, fallback: bool
    ) -> DispatchResult:
        name = _name(fn)
        try:
            returned = fn(arg)
        except Exception as exc:
            return DispatchResult(
                kind, True, name, error=exc, error_text=_error_text(exc, name), fallback=fallback
            )
        pending = returned if inspect.isawaitable(returned) else None
        return DispatchResult(kind, True, name, fallback=fallback, pending=pending)


def _check_callable(fn: Any, where: str) -> Any:
    if not callable(fn):
        raise TypeError(
            f"{where}: expected a function taking one dict, got {type(fn).__name__}; "
            "pass the function itself, not its result (no parentheses)"
        )
    return fn
