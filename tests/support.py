"""Helpers for tests that drive asyncio code from plain (sync) pytest functions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from wslearn.waiting import until

T = TypeVar("T")


def arun(awaitable: Awaitable[T], timeout: float = 30.0) -> T:
    """Run ``awaitable`` in a fresh event loop and fail if it leaves tasks behind.

    ``asyncio.run`` would silently cancel leftover tasks; the course's rule is that
    code cleans up after itself, so a leftover task is a test failure here.
    """

    async def main() -> T:
        result = await asyncio.wait_for(awaitable, timeout)
        current = asyncio.current_task()
        for _ in range(20):  # let tasks that are already finishing finish
            others = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
            if not others:
                break
            await asyncio.sleep(0.01)
        else:
            names = sorted(t.get_name() + ":" + repr(t.get_coro()) for t in others)
            raise AssertionError(f"leak: {len(others)} asyncio task(s) left: {names}")
        return result

    return asyncio.run(main())


def wait_until(predicate: Callable[[], object], timeout: float = 5.0,
               what: str = "the condition") -> None:
    """``wslearn.until`` for a plain (sync) test: the one condition wait, on its own loop.

    For conditions that another thread makes true (the server's thread, a poller).
    """
    asyncio.run(until(predicate, timeout, what=what))


def with_key(server: object, path: str) -> str:
    """``path`` plus the server's ``key`` query parameter (servers are keyed by default;
    raw HTTP requests in tests spell the path themselves, so they add it here)."""
    key = getattr(server, "key", None)
    if key is None:
        return path
    return path + ("&" if "?" in path else "?") + "key=" + key
