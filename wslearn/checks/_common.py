"""Small helpers the checker modules share: validating learner objects, running them."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import Callable
from typing import Any

from ._runner import Failed

__all__ = [
    "as_text",
    "learner_task",
    "require_async",
    "require_callable",
    "require_class",
    "stop",
]


def require_callable(obj: Any, name: str) -> Callable[..., Any]:
    if obj is None:
        raise Failed("wrong-arguments", f"{name} is missing: pass your {name} to check()")
    if not callable(obj):
        raise Failed("wrong-arguments",
                     f"{name} must be a function, got {type(obj).__name__} (pass the function "
                     "itself, without calling it)")
    return obj


def require_async(obj: Any, name: str) -> Callable[..., Any]:
    """A coroutine function (``async def``). A stub that raises is accepted as it is."""
    require_callable(obj, name)
    if not (inspect.iscoroutinefunction(obj) or _is_stub(obj)):
        raise Failed("not-async",
                     f"{name} is a plain function: define it with `async def {name}(...)` "
                     "so it can await the network and the clock")
    return obj


def require_class(obj: Any, name: str, methods: dict[str, bool]) -> type:
    """A class with the named methods (``True``: must be ``async def``)."""
    if not isinstance(obj, type):
        raise Failed("wrong-arguments",
                     f"pass the class {name} itself (not an instance), got {type(obj).__name__}")
    for method, is_async in methods.items():
        fn = getattr(obj, method, None)
        if fn is None:
            raise Failed("wrong-arguments", f"{name} has no method {method}()")
        if is_async and not (inspect.iscoroutinefunction(fn) or _is_stub(fn)):
            raise Failed("not-async", f"{name}.{method} must be `async def {method}(...)`")
    return obj


def _is_stub(fn: Any) -> bool:
    """Whether ``fn``'s body is only the exercise stub (``raise NotImplementedError``)."""
    code = getattr(fn, "__code__", None)
    return code is not None and "NotImplementedError" in code.co_names and len(
        code.co_code
    ) < 40


def learner_task(result: Any, name: str) -> asyncio.Task[Any]:
    """Run what calling an ``async def`` of the learner returned, as a task of ours."""
    if not inspect.isawaitable(result):
        raise Failed("not-async",
                     f"{name}(...) returned {type(result).__name__} instead of a coroutine: "
                     f"define it with `async def`")
    return asyncio.ensure_future(result) if not inspect.iscoroutine(result) else (
        asyncio.get_running_loop().create_task(result, name=f"wslearn-learner-{name}")
    )


async def stop(task: asyncio.Task[Any], timeout: float = 10.0) -> tuple[bool, BaseException | None]:
    """Cancel ``task`` and wait up to ``timeout`` (loop seconds) for it to end.

    Returns (ended, error) where ``error`` is what it raised other than cancellation.
    A ``NotImplementedError`` is re-raised (the stub is reported as such).
    """
    if not task.done():
        task.cancel()
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        async with asyncio.timeout(timeout):
            await asyncio.wait([task])
    if not task.done():
        return False, None
    if task.cancelled():
        return True, None
    error = task.exception()
    if isinstance(error, NotImplementedError):
        raise error
    return True, error


def as_text(message: Any) -> str:
    """What the learner passed on: raw text, or a decoded dict (both are fine)."""
    if isinstance(message, bytes):
        return message.decode("utf-8", "replace")
    if isinstance(message, dict):
        return json.dumps(message, sort_keys=True)
    return str(message)


def message_types(messages: list[Any]) -> list[str]:
    """The ``type`` of each message the learner passed on (raw text or dict)."""
    kinds = []
    for message in messages:
        data = message
        if isinstance(message, str | bytes):
            try:
                data = json.loads(message)
            except ValueError:
                kinds.append("<not JSON>")
                continue
        kinds.append(data.get("type", "<no type>") if isinstance(data, dict) else "<not a dict>")
    return kinds
