"""Wait for a condition, never for a duration.

The course's rule for deterministic outputs: a count read right after an action races
with the server thread, so a cell first awaits the *condition* it is about to print
("the server sees 0 connections"), bounded by a timeout, and only then prints. Every
such wait in wslearn -- the server's ``until``, the widgets, the chapter helpers, the
notebooks -- is this one function.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["until"]

#: How often the condition is polled (seconds of the running loop's clock).
POLL: float = 0.01


async def until(predicate: Callable[[], object], timeout: float = 10.0,
                what: str = "the condition") -> None:
    """Return as soon as ``predicate()`` is true; raise ``TimeoutError`` naming ``what``
    after ``timeout`` seconds of the running loop's clock.

    It sleeps between polls, so the caller's event loop keeps running: a client on the
    same loop can finish what the condition waits for. Under ``run_virtual`` the timeout
    is in virtual seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(POLL)
