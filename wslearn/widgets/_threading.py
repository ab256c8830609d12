"""Getting updates from other threads and loops onto the widgets' loop, safely.

ipywidgets send a comm message for every trait change. In a Jupyter kernel that
message must leave from the kernel's own thread: a change made from the server's
background thread races the kernel, and anything it prints lands in whatever cell
happens to run at that moment. So every widget captures the loop it was built on
(in a kernel: the kernel's loop, the same one top-level ``await`` uses) and routes
every update through :class:`Marshal`:

- called on the owner thread: the update runs at once (no delay, no reordering);
- called from another thread: ``loop.call_soon_threadsafe`` queues it on the owner loop;
- the loop is closed or the marshal is closed: the update is dropped (the widget is gone).

:class:`Throttle` coalesces bursts (a publish loop can deliver hundreds of frames a
second) into at most one re-render per interval, with a ``loop.call_later`` handle
that ``close()`` cancels. Nothing here starts a thread or a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, or ``None`` (plain script, no loop)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Marshal:
    """Run callbacks on the thread that owns the widgets.

    ``loop=None`` captures the running loop of the constructing thread. Without any
    loop (a plain script) calls run inline under a lock: there is no kernel whose
    output could be misrouted, and the lock keeps two threads from interleaving.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop if loop is not None else running_loop()
        self._owner = threading.get_ident()
        self._lock = threading.RLock()
        self.closed = False

    def on_owner_thread(self) -> bool:
        return threading.get_ident() == self._owner

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the owner thread: now if we are on it, soon otherwise."""
        if self.closed:
            return
        if self.loop is None:
            with self._lock:
                fn(*args)
            return
        if self.on_owner_thread():
            fn(*args)
            return
        with contextlib.suppress(RuntimeError):  # loop closed: the widget is gone
            self.loop.call_soon_threadsafe(self._guarded, fn, args)

    def _guarded(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if not self.closed:
            fn(*args)

    def close(self) -> None:
        self.closed = True


class Throttle:
    """Run ``fn`` at most once per ``interval`` seconds, on the marshal's owner thread.

    ``poke()`` (any thread) marks the view dirty; the first poke in a quiet period
    schedules one call ``interval`` seconds later; pokes in between are absorbed.
    ``flush()`` runs a pending call now (tests and ``summary()`` use it). Without a
    loop, ``poke()`` calls ``fn`` at once.
    """

    def __init__(self, marshal: Marshal, fn: Callable[[], Any], interval: float = 0.1) -> None:
        self._marshal = marshal
        self._fn = fn
        self.interval = interval
        self._handle: asyncio.TimerHandle | None = None
        self.dirty = False
        self._queued = False  # a hop to the owner thread is already on its way

    def poke(self) -> None:
        """Mark dirty, from any thread; a burst of pokes costs one loop wake-up."""
        if self._marshal.on_owner_thread() or self._marshal.loop is None:
            self._poke()
            return
        if self._queued:  # benign race: at worst one extra hop
            return
        self._queued = True
        self._marshal.call(self._poke)

    def _poke(self) -> None:
        self._queued = False
        self.dirty = True
        loop = self._marshal.loop
        if loop is None or self.interval <= 0:
            self.flush()
            return
        if self._handle is None:
            try:
                self._handle = loop.call_later(self.interval, self._fire)
            except RuntimeError:  # loop closed
                self.flush()

    def _fire(self) -> None:
        self._handle = None
        if not self._marshal.closed:
            self.flush()

    def flush(self) -> None:
        """Run the pending call now (owner thread only)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.dirty:
            self.dirty = False
            self._fn()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.dirty = False
