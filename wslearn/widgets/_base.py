"""What every wslearn widget shares: a stable text fallback, ``summary()``, ``close()``,
and a static picture that takes the live view's place when it closes.

The text fallback matters because notebooks are checked with nbval, which compares a
stored output's ``text/plain`` exactly. An ipywidgets widget's ``text/plain`` is its
``repr``, which lists trait values -- it would change with every state change, and the
stored output is captured once. So a wslearn widget's ``text/plain`` names the widget
and what it shows, and never changes; its current state is read with ``summary()``
(also ``str(widget)``), which a notebook prints at a deterministic moment.

Why a static picture on ``close()``: every chapter ends by cleaning up, and a closed
ipywidget leaves an empty box -- after Run All the dashboard the prose talks about would
be gone. So a displayed widget is shown with a Jupyter *display id*, and ``close()``
replaces that output (``update_display``) with a static HTML snapshot of what it showed
last, marked as such. JupyterLab swaps it in place; nbclient stores it, so a freshly
opened chapter shows it too -- untrusted, because it is plain HTML (inline styles, the
timeline as an ``<img>``), which the sanitizer keeps. The same snapshot rides along in
the live output's ``text/html``: JupyterLab prefers the widget view while the kernel
runs, and an untrusted or kernel-less page falls back to the picture, never to text.
(nbval cannot follow a display update into an earlier cell, so the root
``conftest.py`` tells it to compare these snapshots by their marker only.)
"""

from __future__ import annotations

import contextlib
import uuid
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
        with contextlib.suppress(Exception):  # a picture is a bonus, never an error
            bundle["text/html"] = static_block(self.static_html(), live=True)
        return bundle

    # -- the static picture ---------------------------------------------------------

    def static_html(self) -> str:
        """What the widget shows now, as plain HTML (no scripts, no widget): overridden."""
        return html_text(self.plain_text())

    def _ipython_display_(self) -> None:
        """Display with a display id, so :meth:`close` can put the snapshot in its place."""
        from IPython.display import display

        if getattr(self, "_display_id", None) is None:
            self._display_id = f"wslearn-{uuid.uuid4().hex}"  # transient: never stored
        display(self._repr_mimebundle_(), raw=True, display_id=self._display_id)

    def _show_snapshot(self) -> None:
        """Replace every displayed copy of this widget by its static picture."""
        display_id = getattr(self, "_display_id", None)
        if display_id is None or not self._marshal.on_owner_thread():
            return
        with contextlib.suppress(Exception):
            flush = getattr(self, "flush", None)
            if callable(flush):
                flush()
            bundle = {
                "text/plain": self.plain_text(),
                "text/html": static_block(self.static_html(), live=False),
            }
            from IPython.display import update_display

            update_display(bundle, raw=True, display_id=display_id)

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
            self._show_snapshot()  # before the parts close: they draw the picture
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


#: The marker of a static picture (``conftest.py`` tells nbval to compare it as such).
STATIC_CLASS = "wslearn-static"


def static_block(inner: str, *, live: bool) -> str:
    """``inner`` framed as a static picture, with a caption saying what it is."""
    caption = (
        "(a picture of the live widget: run the notebook to use it)"
        if live
        else "(snapshot: the live widget was closed by the clean-up cell; run the notebook"
        " to use it again)"
    )
    return (
        f'<div class="{STATIC_CLASS}" style="border:1px dashed #d0d7de;padding:4px 8px;'
        f'margin:2px 0;max-width:100%;overflow-x:auto">{inner}'
        f'<div style="color:#57606a;font-size:11px;font-style:italic">{escape(caption)}</div>'
        "</div>"
    )


def button_row(labels: list[tuple[str, bool]]) -> str:
    """Static look-alikes of buttons (``(label, enabled)``), for a snapshot."""
    cells = "".join(
        f'<span style="display:inline-block;border:1px solid #d0d7de;border-radius:3px;'
        f"padding:1px 8px;margin:1px 3px 1px 0;font-size:12px;"
        f'color:{"#1f2328" if enabled else "#8c959f"};background:#f6f8fa">{escape(label)}</span>'
        for label, enabled in labels
    )
    return f"<div>{cells}</div>"
