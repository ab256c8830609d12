"""What every wslearn widget shares: a stable text fallback, ``summary()``, ``close()``.

The text fallback matters because notebooks are checked with nbval, which compares a
stored output's ``text/plain`` exactly. An ipywidgets widget's ``text/plain`` is its
``repr``, which lists trait values -- it would change with every state change, and the
stored output is captured once. So a wslearn widget's ``text/plain`` names the widget
and what it shows, and never changes; its current state is read with ``summary()``
(also ``str(widget)``), which a notebook prints at a deterministic moment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from html import escape
from typing import Any, ClassVar

import ipywidgets as w

from ._threading import Marshal


class LiveWidget:
    """Mixin for an ipywidgets ``Box`` subclass (put it first in the bases)."""

    #: What the widget shows, for the stable ``text/plain`` line.
    _shows: ClassVar[str] = "live state"
    #: How the constructor was called, e.g. ``"client"``; part of the stable line.
    _arg_text: str = ""

    def plain_text(self) -> str:
        """The stable ``text/plain`` fallback (never changes while the state changes)."""
        return f"{type(self).__name__}({self._arg_text})  [live widget: {self._shows}]"

    def __repr__(self) -> str:
        return self.plain_text()

    def __str__(self) -> str:
        return self.summary()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        bundle["text/plain"] = self.plain_text()
        return bundle

    def summary(self) -> str:  # pragma: no cover - every widget overrides it
        raise NotImplementedError

    # -- cleanup -------------------------------------------------------------------

    def _init_live(self, marshal: Marshal | None = None) -> None:
        self._marshal = marshal if marshal is not None else Marshal()
        self._cleanups: list[Callable[[], None]] = []
        self._owned: list[w.Widget] = []
        self._live_closed = False

    def _on_close(self, fn: Callable[[], None]) -> None:
        self._cleanups.append(fn)

    def _listen(self, source: Any, fn: Callable[..., Any]) -> None:
        """Listen to ``source`` until ``close()``. ``Server``, ``Client`` and ``Timeline``
        share one style (``add_listener(fn)`` / ``remove_listener(fn)``, see
        ``wslearn.listeners``), so any of them works here."""
        source.add_listener(fn)
        self._on_close(lambda: source.remove_listener(fn))

    def _own(self, *widgets: w.Widget) -> None:
        self._owned.extend(widgets)

    @property
    def closed(self) -> bool:
        return getattr(self, "_live_closed", True)

    def close(self) -> None:
        """Remove every listener, cancel pending renders and tasks, close the views.

        Idempotent; also safe on a half-built widget (ipywidgets calls ``close`` from
        ``__del__``).
        """
        if not getattr(self, "_live_closed", True):
            self._live_closed = True
            self._marshal.close()
            for fn in reversed(self._cleanups):
                with contextlib.suppress(Exception):
                    fn()
            self._cleanups.clear()
            for child in self._owned:
                with contextlib.suppress(Exception):
                    child.close()
            self._owned.clear()
        super().close()  # type: ignore[misc]


def html_text(text: str, *, style: str = "") -> str:
    """Escape ``text`` for an ``HTML`` widget, in a span with ``style``."""
    return f'<span style="{style}">{escape(text)}</span>'
