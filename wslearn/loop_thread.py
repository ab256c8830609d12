"""An event loop on its own thread, and thread-safe calls into it.

A notebook cell blocks the kernel's loop while it runs, so the in-kernel server owns a
loop on a daemon thread (see ``wslearn.server``). Notebook code reaches that loop only
through :class:`LoopThread`: ``call(fn)`` for a quick function, ``run(coro)`` for a
coroutine, each waiting a bounded time. When the loop is not there (never started,
stopped, or stopping while we waited) they raise :class:`NotRunning`, a clear error
the caller may catch -- no hidden mode flag decides between raising and returning.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "NotRunning"]

T = TypeVar("T")


class NotRunning(RuntimeError):
    """The loop thread is not running (stopped, or stopped while a call waited)."""


class LoopThread:
    """One daemon thread running ``asyncio.run(main(ready))``.

    ``main`` calls ``ready()`` once it is listening; ``start`` returns then (or raises
    what ``main`` raised before that). ``call_timeout`` bounds every ``call``/``run``:
    a loop that does not answer is a blocked loop (``time.sleep`` in an endpoint), and
    the error says so instead of hanging the notebook.
    """

    def __init__(self, name: str, *, call_timeout: float = 10.0) -> None:
        self.name = name
        self.call_timeout = call_timeout
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        thread = self.thread
        return thread is not None and thread.is_alive()

    def start(self, main: Callable[[Callable[[], None]], Awaitable[None]],
              timeout: float) -> None:
        """Run ``main(ready)`` on a new thread; return once it called ``ready()``."""
        ready = threading.Event()
        box: dict[str, BaseException] = {}

        def set_ready() -> None:
            self.loop = asyncio.get_running_loop()
            ready.set()

        def target() -> None:
            try:
                asyncio.run(_as_coroutine(main(set_ready)))
            except BaseException as exc:  # reported by start() or recorded by main
                box.setdefault("error", exc)
            finally:
                self.loop = None
                ready.set()

        thread = threading.Thread(target=target, name=self.name, daemon=True)
        self.thread = thread
        thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"the server thread did not start within {timeout} s")
        if "error" in box or (not thread.is_alive() and self.loop is None):
            thread.join(timeout)
            self.thread = None
            raise box.get("error") or RuntimeError("the server thread ended while starting")

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end; True if it did (then the thread is forgotten)."""
        thread = self.thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            return False
        self.thread = None
        return True

    def on_thread(self) -> bool:
        """True when called from the loop's own thread (a listener, an endpoint)."""
        thread = self.thread
        return thread is not None and thread.ident == threading.get_ident()

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Schedule ``fn(*args)`` on the loop without waiting; False if the loop is gone."""
        loop = self.loop
        if loop is None:
            return False
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed between the check and the call
            return False
        return True

    # -- calls -----------------------------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, what: str) -> T:
        """Run ``fn(*args)`` on the loop and return its result. Raises ``NotRunning``."""
        if self.on_thread():
            return fn(*args)
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if result.set_running_or_notify_cancel():
                try:
                    result.set_result(fn(*args))
                except BaseException as exc:
                    result.set_exception(exc)

        if not self.call_soon(run):
            raise NotRunning(f"{what}: the server is stopped; call server.start() first")
        return self._wait(result, what)

    def run(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        """Run a coroutine on the loop and wait for its result. Raises ``NotRunning``."""
        if self.on_thread():
            coro.close()
            raise RuntimeError(
                f"{what} cannot wait on the server's own thread; call it from notebook code")
        loop = self.loop
        if loop is None:
            coro.close()
            raise NotRunning(f"{what}: the server is stopped; call server.start() first")
        try:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:
            coro.close()
            raise NotRunning(f"{what}: the server is stopped; call server.start() first") \
                from None
        return self._wait(future, what)

    def _wait(self, future: concurrent.futures.Future[T], what: str) -> T:
        waited = 0.0
        while True:
            try:
                return future.result(0.1)
            except concurrent.futures.TimeoutError:
                waited += 0.1
                if not self.alive:
                    future.cancel()
                    raise NotRunning(f"{what}: the server stopped while we waited") from None
                if waited >= self.call_timeout:
                    future.cancel()
                    raise TimeoutError(
                        f"{what}: the server loop did not answer within {self.call_timeout:g} "
                        "s; is an endpoint blocking it (time.sleep instead of asyncio.sleep)?"
                    ) from None


async def _as_coroutine(awaitable: Awaitable[None]) -> None:
    await awaitable
