"""Listeners: the one subscribe/unsubscribe style of ``Server``, ``Client`` and ``Timeline``.

Every observable wslearn object offers the same two methods, so a widget (or a test)
subscribes to any of them the same way and needs no adapter::

    source.add_listener(fn)      # fn is called for every event, in registration order
    source.remove_listener(fn)   # harmless if fn is not (or no longer) registered

``add_listener`` also returns something for convenience: ``Client`` and ``Timeline``
return a function that removes ``fn`` (handy in a ``finally``); ``Server`` returns
``fn`` itself, so it works as a decorator. Neither is needed: ``remove_listener(fn)``
always works.

How an event is *delivered* stays with each owner, because the rule differs on
purpose: a timeline or a client turns a listener's exception into an ``error`` entry
(the learner sees it in the timeline), a server logs it (it runs on its own thread,
where nothing may print). ``Listeners`` only keeps the ordered set and the argument
check.

No IO here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Listeners"]

F = TypeVar("F", bound=Callable[..., Any])


class Listeners(list[F]):
    """An ordered list of callbacks with the add/discard rules every owner shares.

    A plain ``list`` underneath (owners iterate over ``list(listeners)``, a snapshot, so a
    listener may unregister itself while being called).
    """

    def __init__(self, signature: str) -> None:
        super().__init__()
        #: How a listener is called, for the error message: ``"fn(kind, payload)"``.
        self.signature = signature

    def add(self, fn: F) -> Callable[[], None]:
        """Register ``fn`` (again: it is called twice); return a function that removes it."""
        if not callable(fn):
            raise TypeError(
                f"add_listener() takes a function {self.signature}, got {type(fn).__name__}"
            )
        self.append(fn)
        return lambda: self.discard(fn)

    def discard(self, fn: F) -> None:
        """Remove ``fn`` (its first registration); nothing happens if it is not registered."""
        if fn in self:
            self.remove(fn)
