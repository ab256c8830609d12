"""Hold outgoing frames while a server is frozen or delayed, release them in order.

Four places send frames that a fault may hold back: the real server's socket
(``wslearn.server``), its server-sent event streams (``wslearn.sse``), the simulated
link (``wslearn.simnet``) and an endpoint's outbox (``wslearn.app``). They all follow
one rule, written once here, so real and simulated servers agree by construction:

* a frame goes out at once only if nothing is held, the server is not frozen and no
  delay is set; otherwise it is held until ``now + delay``;
* held frames leave strictly in the order they came (a frame due earlier never
  overtakes one held before it, even if the delay was shortened meanwhile);
* nothing leaves while the server is frozen;
* what is held is bounded: ``limit`` bytes. A push past it is refused, so the driver
  closes the slow peer (1008 "client too slow") instead of growing memory;
* frames still held when a connection ends are handed back by ``clear()`` so the
  driver can count them as lost, never drop them silently.

Plain logic: no IO, no event loop. The caller passes the clock's ``now`` in and asks
``next_due()`` when to call ``release()`` again.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["Hold"]

T = TypeVar("T")


class Hold(Generic[T]):
    """A FIFO of ``(due, item, size)`` with the release rule of the module docstring."""

    __slots__ = ("_items", "held_bytes", "limit")

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be a positive number of bytes or None, got {limit!r}")
        self.limit = limit
        self.held_bytes = 0
        self._items: collections.deque[tuple[float, T, int]] = collections.deque()

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __iter__(self) -> Iterator[T]:
        return (item for _, item, _ in self._items)

    def must_hold(self, *, frozen: bool, delay: float) -> bool:
        """True if a new frame has to wait (the direct path would overtake or ignore a fault)."""
        return bool(self._items) or frozen or delay > 0

    def push(self, item: T, *, now: float, delay: float = 0.0, size: int = 0) -> bool:
        """Hold ``item`` until ``now + delay``. False (and nothing held) past ``limit``."""
        if self.limit is not None and self.held_bytes + size > self.limit:
            return False
        self._items.append((now + max(delay, 0.0), item, size))
        self.held_bytes += size
        return True

    def release(self, *, now: float, frozen: bool = False) -> list[T]:
        """The items due at ``now``, oldest first (none while ``frozen``)."""
        out: list[T] = []
        if frozen:
            return out
        items = self._items
        while items and items[0][0] <= now + 1e-9:
            _, item, size = items.popleft()
            self.held_bytes -= size
            out.append(item)
        return out

    def pop(self) -> T:
        """The oldest item, due or not (a sender that waits for each write itself)."""
        _, item, size = self._items.popleft()
        self.held_bytes -= size
        return item

    def next_due(self, *, frozen: bool = False) -> float | None:
        """When the oldest item is due (``None``: nothing held, or frozen: wait for thaw)."""
        if frozen or not self._items:
            return None
        return self._items[0][0]

    def clear(self) -> list[T]:
        """Forget everything held and return it (the driver counts these as lost)."""
        items = [item for _, item, _ in self._items]
        self._items.clear()
        self.held_bytes = 0
        return items
