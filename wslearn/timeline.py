"""A record of what a client did, in logical time, rendered as stable text or SVG.

Why *logical* time: a timeline printed from wall-clock readings would differ on every
run (and between a laptop and a busy CI box), so a notebook could never store it and
a test could never compare it. Every entry carries the machine's logical time ``t``
instead -- the *planned* time of the last timer that fired -- plus attempt numbers
and planned delays. The same story therefore prints the same text under the real,
the sped-up and the virtual clock, and against the real server or the simulation.

One consequence to keep in mind when reading a timeline: ``t`` moves only when a
timer fires. Something that happens between two timers (the server stops, a message
arrives) is stamped with the time of the last timer: read ``t=30.0s`` as "after the
ping at 30 s, before the next timer".

The text form is one line per entry, e.g.::

    t=    3.0s  reconnecting  attempt 2/5 failed (connection refused); attempt 3/5 in 4.0s

The SVG form draws lanes over one time axis: the state bands; the attempts (✓ opened,
✗ failed) with the planned backoff wait that led to each (``+2s``); the heartbeat's
pings and pongs; and events such as "server stopped". Both are byte-identical for
identical entries: no ids, ports or wall times ever go in, and no fonts or CSS are
fetched.

No IO here; listeners are plain callbacks run synchronously by ``append``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, overload

from .listeners import Listeners

#: Entry kinds, and what they mean. The SVG and the widgets key on these.
KINDS: dict[str, str] = {
    "connect": "a connection was requested (connect() or reconnect())",
    "attempt": "a reconnect attempt starts (the backoff wait is over)",
    "connected": "the socket opened",
    "failed": "an open attempt failed (refused, HTTP 503, timed out)",
    "lost": "an open connection closed or was found dead",
    "gave-up": "the last attempt failed: disconnected",
    "ping": "a heartbeat ping was sent",
    "pong": "a heartbeat pong arrived",
    "closed": "closed on purpose by the client",
    "note": "an annotation, e.g. a fault injected by the notebook",
    "error": "a handler raised, a frame was malformed, a listener failed",
    "info": "anything else worth a line (resubscribe, cache invalidation)",
}

def fmt_seconds(value: float) -> str:
    """``1.0``, ``2.5``, ``0.734``: one decimal unless the value needs more (jitter)."""
    if abs(value * 10 - round(value * 10)) < 1e-9:
        return f"{value:.1f}"
    return f"{value:.3f}".rstrip("0")


@dataclass(frozen=True)
class Entry:
    """One line of a timeline.

    ``t`` is logical seconds; ``state`` the client state *after* this entry;
    ``attempt`` the attempt it is about (0 = the connect you asked for, 1.. = retries);
    ``delay`` the planned wait that this entry scheduled, if any.
    """

    t: float
    kind: str
    text: str
    state: str | None = None
    attempt: int | None = None
    delay: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"unknown timeline entry kind {self.kind!r}; expected one of {list(KINDS)}"
            )

    def to_text(self) -> str:
        """``t=    3.0s  reconnecting  attempt 2/5 failed ...`` (stable, aligned)."""
        state = str(self.state) if self.state is not None else ""
        return f"t={fmt_seconds(self.t):>7}s  {state:<12}  {self.text}".rstrip()

    def __str__(self) -> str:
        return self.to_text()


class Timeline:
    """An append-only list of ``Entry`` with stable text and SVG renderings.

    ``repr()`` is the text itself, so a notebook cell ending in ``client.timeline``
    stores plain, comparable output; Jupyter shows the SVG drawing *and* the text
    through ``_repr_html_`` (``svg=False`` turns the drawing off, e.g. for the one- or
    two-line results of ``client.step()``).
    """

    def __init__(self, entries: Iterable[Entry] = (), *, svg: bool = True) -> None:
        self._entries: list[Entry] = list(entries)
        self._listeners: Listeners[Callable[[Entry], Any]] = Listeners("fn(entry)")
        self._reporting = False
        self.svg_in_html = svg

    # -- list-like -----------------------------------------------------------------

    def append(self, entry: Entry) -> Entry:
        """Add ``entry`` and tell the listeners (synchronously, in registration order).

        A listener that raises never breaks the caller (the state machine appends from
        inside its transition function): the error becomes an ``error`` entry of its
        own, and the other listeners still get every entry.
        """
        if not isinstance(entry, Entry):
            raise TypeError(f"Timeline.append() takes an Entry, got {type(entry).__name__}")
        self._entries.append(entry)
        for listener in list(self._listeners):
            try:
                listener(entry)
            except Exception as exc:
                if self._reporting:  # the error entry itself failed: do not loop
                    continue
                self._reporting = True
                try:
                    name = getattr(listener, "__name__", type(listener).__name__)
                    self.append(
                        Entry(entry.t, "error", f"timeline listener {name} raised "
                              f"{type(exc).__name__}: {exc}", state=entry.state)
                    )
                finally:
                    self._reporting = False
        return entry

    def note(self, text: str, t: float | None = None, state: str | None = None) -> Entry:
        """Annotate the timeline ("server stopped"); ``t`` defaults to the last entry's."""
        if t is None:
            t = self._entries[-1].t if self._entries else 0.0
        if state is None and self._entries:
            state = self._entries[-1].state
        return self.append(Entry(t, "note", text, state=state))

    def add_listener(self, fn: Callable[[Entry], Any]) -> Callable[[], None]:
        """Call ``fn(entry)`` for every new entry; returns a function that removes it.

        The same style as ``Client`` and ``Server`` (``wslearn.listeners``).
        """
        return self._listeners.add(fn)

    def remove_listener(self, fn: Callable[[Entry], Any]) -> None:
        """Stop calling ``fn`` (harmless if it is not registered)."""
        self._listeners.discard(fn)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries))

    @overload
    def __getitem__(self, index: int) -> Entry: ...
    @overload
    def __getitem__(self, index: slice) -> Timeline: ...

    def __getitem__(self, index: int | slice) -> Entry | Timeline:
        if isinstance(index, slice):
            return Timeline(self._entries[index], svg=self.svg_in_html)
        return self._entries[index]

    def since(self, start: int) -> Timeline:
        """The entries from index ``start`` on, as a text-only timeline."""
        return Timeline(self._entries[start:], svg=False)

    def kinds(self) -> list[str]:
        return [e.kind for e in self._entries]

    def where(self, kind: str) -> list[Entry]:
        """The entries of one kind (e.g. ``"attempt"``)."""
        return [e for e in self._entries if e.kind == kind]

    # -- rendering -----------------------------------------------------------------

    def to_text(self) -> str:
        """One line per entry; the empty timeline is ``(no entries)``."""
        if not self._entries:
            return "(no entries)"
        return "\n".join(e.to_text() for e in self._entries)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        # wrap between words, never inside one (JupyterLab's output <pre> breaks anywhere)
        style = "white-space:pre-wrap;word-break:normal;overflow-wrap:break-word"
        text = f'<pre style="{style}">{html.escape(self.to_text())}</pre>'
        if not self.svg_in_html or not self._entries:
            return text
        return self.picture()._repr_html_() + text

    def to_svg(self, width: int = 720) -> str:
        """A deterministic SVG drawing (same entries -> byte-identical SVG).

        The drawing lives in :mod:`wslearn.timeline_svg`; this module is the model.
        """
        from .timeline_svg import render

        return render(self._entries, width)

    def summary(self) -> str:
        """The drawing in one sentence (its ``alt`` text and SVG title)."""
        from .timeline_svg import summary

        return summary(self._entries)

    def picture(self, width: int = 720) -> TimelinePicture:
        """The drawing alone, for a stored output: shown as a picture even untrusted."""
        return TimelinePicture(self, width)


class TimelinePicture:
    """A timeline's drawing as a notebook output: ``text/html`` with the SVG as an
    ``<img>`` (drawn in an untrusted notebook too; see :mod:`wslearn.svg`), text as
    ``text/plain``."""

    def __init__(self, timeline: Timeline, width: int = 720) -> None:
        self.timeline = timeline
        self.width = width

    def to_svg(self) -> str:
        return self.timeline.to_svg(self.width)

    def to_text(self) -> str:
        return self.timeline.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        from .svg import img_html

        return img_html(self.to_svg(), self.timeline.summary(), css_class="wslearn-timeline")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/html": self._repr_html_(), "text/plain": self.to_text()}
