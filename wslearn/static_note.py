"""A live view that leaves a static note in its place when it closes.

The browser lab's iframe (``wslearn.page``) and the React lab's side-by-side view
(``wslearn.react``) are live only while their server runs, and their markup holds a
port. So both follow one rule: the view is displayed with a *display id*, its stored
``text/html`` is a note with no port in it, and ``close()`` (a notebook's clean-up cell)
replaces the view in place with the "closed" note. Run All then leaves no empty box, and
nbval compares notes, never ports. This module holds that rule once; each view supplies
its plain text and its note.
"""

from __future__ import annotations

import contextlib
import html
import uuid
from typing import Any, Final

__all__ = ["CLOSED", "LIVE", "SwapsForNote", "note_html"]

#: Why the note stands there: the view is live (stored output) or its server is gone.
LIVE: Final = "live while the notebook runs"
CLOSED: Final = "closed by the clean-up cell: its server was stopped"


def note_html(title: str, why: str, body: str) -> str:
    """The note's markup: ``title`` (why) and a ``body`` that says how to see it live."""
    return (
        '<div class="wslearn-static" style="border:1px dashed #d0d7de;padding:6px 10px;'
        'max-width:100%">'
        f"<b>{title}</b> ({html.escape(why)})<br/>{body}</div>"
    )


class SwapsForNote:
    """Mixin for an ipywidget: displayed with a display id; ``_leave_note()`` (call it from
    ``close()``) puts the static "closed" note where the widget was."""

    def _plain_text(self) -> str:  # pragma: no cover - every view overrides it
        raise NotImplementedError

    def _note(self, why: str) -> str:  # pragma: no cover - every view overrides it
        raise NotImplementedError

    def _live_bundle(self, data: dict[str, Any]) -> dict[str, Any]:
        """The widget's own bundle with the stable plain text and the live note."""
        data["text/plain"] = self._plain_text()
        data["text/html"] = self._note(LIVE)
        return data

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if getattr(self, "_display_id", None) is None:
            self._display_id = f"wslearn-{uuid.uuid4().hex}"
        bundle: dict[str, Any] = self._repr_mimebundle_()  # type: ignore[attr-defined]
        display(bundle, raw=True, display_id=self._display_id)

    def _leave_note(self) -> None:
        display_id = getattr(self, "_display_id", None)
        if display_id is not None and getattr(self, "comm", None) is not None:
            with contextlib.suppress(Exception):
                from IPython.display import update_display

                update_display({"text/plain": self._plain_text(), "text/html":
                                self._note(CLOSED)}, raw=True, display_id=display_id)
