"""The React lab: the module's own stack -- React 19, TanStack Query 5 and the real
``useWebSocket`` hook -- running in the browser against the in-kernel server, offline.

::

    from wslearn import react
    lab = react.serve()                       # a topic server + the proposals REST API
    lab.open()                                # the page in an iframe + a link to its own tab
    lab.update(2, votes=5)                    # change the store and publish the push
    lab.stats()                               # what the server saw: sockets, handshakes, GETs
    lab.stop()

The page (``/react``) fetches ``.tsx`` files from this server and transpiles them in the
browser with the vendored sucrase, so editing a file in JupyterLab and reloading the
page runs the edited code -- no node, no build step for learners. The libraries are
development builds bundled once by ``make web`` into ``vendor/`` (see ``web/``).

Files the page runs: ``src/<name>.tsx`` from the learner's folder ``my-work/react/``
(made once from the shipped templates in ``app/``; the course never overwrites a file
there) and ``hooks/<variant>.tsx``, the module's mistakes (:mod:`wslearn.react.mistakes`)
served read-only. ``?hook=no-cleanup`` swaps the hook App.tsx imports.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import threading
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..app import App, HttpRequest, HttpResponse
from ..progress import course_root
from ..server import Server
from ..topics import topic_app
from .mistakes import MISTAKES, variant

__all__ = ["HOOKS", "LabStats", "ProposalStore", "ReactLab", "my_work_folder",
           "page_script_hashes", "serve"]

#: The hook variants the page can load besides the learner's own (``hook=mine``).
HOOKS: tuple[str, ...] = ("fixed", *MISTAKES)

#: The topic the proposals app subscribes to.
TOPIC = "proposals"

_STATIC = {
    "": ("index.html", "text/html; charset=utf-8"),
    "/loader.js": ("loader.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
_NAME = re.compile(r"^[A-Za-z][\w-]{0,63}$")
_VENDOR = re.compile(r"^[\w-]{1,64}\.js$")
#: Largest .tsx file the lab serves (bytes): bad input stays bounded.
MAX_SOURCE = 256 * 1024
#: At most this many extra hooks (the checker registers one per run).
MAX_EXTRA_HOOKS = 16

DEFAULT_PROPOSALS: tuple[dict[str, Any], ...] = (
    {"id": 1, "title": "Add WebSocket heartbeat", "status": "open", "votes": 3},
    {"id": 2, "title": "Replace polling with pushes", "status": "open", "votes": 7},
    {"id": 3, "title": "Drop socket.io-client", "status": "accepted", "votes": 12},
)


def _package_file(*parts: str) -> bytes:
    return resources.files(__name__).joinpath(*parts).read_bytes()


#: An inline ``<script>`` of the page (one without ``src=``): its text, as the browser hashes it.
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


@cache
def page_script_hashes() -> tuple[str, ...]:
    """The Content-Security-Policy sources (``'sha256-...'``) of the page's inline scripts
    -- its import map, which cannot be an external file. The server's policy for
    ``/react`` (``wslearn.http_api``) allows these exact texts and no other inline script;
    computed from the shipped ``index.html``, so editing the map keeps them in step."""
    page = _package_file("index.html").decode("utf-8")
    return tuple("'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
                 + "'" for text in _INLINE_SCRIPT.findall(page))


def templates() -> list[str]:
    """The shipped .tsx files (``main.tsx``, ``App.tsx``, ``useWebSocket.tsx``)."""
    folder = resources.files(__name__).joinpath("app")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tsx"))


def my_work_folder(root: str | Path | None = None) -> Path:
    """``my-work/react/`` of the course, with every missing template copied in.

    Files already there are never touched: they are the learner's edits.
    """
    folder = (Path(root) if root is not None else course_root() / "my-work") / "react"
    folder.mkdir(parents=True, exist_ok=True)
    for name in templates():
        target = folder / name
        if not target.exists():
            with resources.as_file(resources.files(__name__).joinpath("app", name)) as src:
                shutil.copyfile(src, target)
    return folder


class ProposalStore:
    """The proposals the REST API serves; notebook code changes them *and* publishes.

    Thread-safe: the server thread reads it, the notebook thread writes it. It counts
    every GET (``fetches["list"]``, ``fetches["detail"]``): the server-side evidence that
    a push made the page refetch.
    """

    MAX_ITEMS = 1000

    def __init__(self, proposals: Any = DEFAULT_PROPOSALS) -> None:
        self._lock = threading.Lock()
        self._items: dict[int, dict[str, Any]] = {int(p["id"]): dict(p) for p in proposals}
        self.fetches: Counter[str] = Counter()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(p) for _, p in sorted(self._items.items())]

    def get(self, id: int) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(id)
            return dict(item) if item is not None else None

    def put(self, id: int, **fields: Any) -> dict[str, Any]:
        """Create or change proposal ``id`` (fields: title, status, votes)."""
        if not isinstance(id, int) or isinstance(id, bool) or id < 1:
            raise ValueError(f"a proposal id is a positive int, got {id!r}")
        unknown = set(fields) - {"title", "status", "votes"}
        if unknown:
            raise TypeError(f"unknown proposal field(s) {sorted(unknown)}: title, status, votes")
        with self._lock:
            if id not in self._items and len(self._items) >= self.MAX_ITEMS:
                raise ValueError(f"the store holds at most {self.MAX_ITEMS} proposals")
            item = self._items.setdefault(id, {"id": id, "title": f"Proposal {id}",
                                               "status": "open", "votes": 0})
            item.update(fields)
            return dict(item)

    def delete(self, id: int) -> bool:
        with self._lock:
            return self._items.pop(id, None) is not None

    def count(self, what: str) -> None:
        with self._lock:
            self.fetches[what] += 1


@dataclass(frozen=True)
class LabStats:
    """What the server saw (no ports, no times: safe in a stored notebook output)."""

    open_connections: int
    handshakes: int
    list_fetches: int
    detail_fetches: int

    def __str__(self) -> str:
        return (f"server: {self.open_connections} open WebSocket connection(s), "
                f"{self.handshakes} handshake(s); GET /api/proposals: {self.list_fetches}, "
                f"GET /api/proposals/<id>: {self.detail_fetches}")


class ReactLab:
    """One in-kernel server serving the React lab page, its files and the REST API."""

    def __init__(self, folder: str | Path | None = None, *, proposals: Any = DEFAULT_PROPOSALS,
                 origins: list[str] | None = None, shipped: bool = False) -> None:
        """``folder``: where ``src/*.tsx`` come from (default ``my-work/react/``, made once);
        ``shipped=True`` serves the package's own templates instead (checker, tests)."""
        self.shipped = shipped
        self.folder: Path | None = (Path(folder) if folder is not None else
                       None if shipped else my_work_folder())
        self.store = ProposalStore(proposals)
        self.hooks: dict[str, str] = {}  # extra hook sources by name (the checker's)
        self.app: App = topic_app()
        self._routes(self.app)
        self.server = Server(self.app, origins=origins)
        self._closed = False
        self._tasks: set[Any] = set()
        self._renderers: list[Any] = []  # live views: one last render after stop()
        self._views: list[Any] = []  # view()s: close() leaves a static note in their place

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> ReactLab:
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop the server and the live numbers' refresh task."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        self.server.stop()
        for render in self._renderers:
            render()  # the views say "stopped" instead of freezing on old numbers

    def close(self) -> None:
        """The clean-up: stop the server, then close every ``view()``; each leaves a static
        note where it was (no empty box after Run All, no port in a stored output)."""
        self.stop()
        for view in self._views:
            view.close()
        self._views.clear()

    def numbers(self, interval: float = 0.5) -> Any:
        """The server-side numbers (connections, handshakes, GETs), live beside the page."""
        return _numbers_widget(self, interval)

    def view(self, height: int = 330, **params: Any) -> Any:
        """The page and the server-side numbers side by side."""
        import ipywidgets

        page = self.open(height, **params)
        page.layout = ipywidgets.Layout(flex="3")
        numbers = self.numbers()
        numbers.layout = ipywidgets.Layout(flex="1", margin="0 0 0 12px")
        hook = params.get("hook", "mine")
        view = _side_by_side_class()(
            [page, numbers], text=f"React lab (hook={hook}) beside the server-side numbers")
        self._views.append(view)
        return view

    def __enter__(self) -> ReactLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.server.running else "stopped"
        where = f"files in {self.folder.name}/" if self.folder else "shipped files"
        return f"<ReactLab {state}, {where}>"

    # -- what notebook code does -----------------------------------------------------------

    def update(self, id: int, **fields: Any) -> dict[str, Any]:
        """Change proposal ``id`` in the store, then publish ``proposal.updated``."""
        item = self.store.put(id, **fields)
        self.server.publish(TOPIC, "proposal.updated", id=id)
        return item

    def delete(self, id: int) -> bool:
        """Remove proposal ``id``, then publish ``proposal.deleted``."""
        gone = self.store.delete(id)
        self.server.publish(TOPIC, "proposal.deleted", id=id)
        return gone

    def add_hook(self, name: str, source: str) -> str:
        """Serve ``source`` as ``hooks/<name>.tsx`` (the page loads it with ``?hook=name``)."""
        if not _NAME.match(name) or name in HOOKS or name == "mine":
            raise ValueError(f"bad hook name {name!r}")
        if len(source.encode()) > MAX_SOURCE:
            raise ValueError(f"the hook source is larger than {MAX_SOURCE} bytes")
        if name not in self.hooks and len(self.hooks) >= MAX_EXTRA_HOOKS:
            raise ValueError(f"at most {MAX_EXTRA_HOOKS} extra hooks")
        self.hooks[name] = source
        return name

    def stats(self) -> LabStats:
        fetches = self.store.fetches
        return LabStats(self.server.connection_count, self.server.handshake_attempts,
                        fetches["list"], fetches["detail"])

    def reset_counters(self) -> None:
        self.server.reset_counters()
        self.store.fetches.clear()

    def url(self, *, hook: str = "mine", speed: float | None = None, strict: bool = True,
            mounted: bool = True, proxy: str | bool | None = None) -> str:
        """The page's URL (``proxy`` as in :func:`wslearn.page.lab_url`)."""
        if hook not in ("mine", *HOOKS, *self.hooks):
            raise ValueError(f"unknown hook {hook!r}; known: mine, {', '.join(HOOKS)}")
        params: list[tuple[str, str]] = []
        if hook != "mine":
            params.append(("hook", hook))
        if speed is not None:
            params.append(("speed", f"{speed:g}"))
        if not strict:
            params.append(("strict", "0"))
        if not mounted:
            params.append(("mounted", "0"))
        key = getattr(self.server, "key", None)
        if key:  # the server's secret rides last; the page forwards it (docs/server.md)
            params.append(("key", key))
        from ..page import _proxy_prefix

        prefix = _proxy_prefix(proxy)
        base = (self.server.http_url("/react") if prefix is None
                else f"{prefix}proxy/{self.server.port}/react")
        return f"{base}?{urlencode(params)}" if params else base

    def open(self, height: int = 360, **params: Any) -> Any:
        """The page in an iframe plus a link to open it in its own tab (stable text/plain)."""
        import html

        from ..page import _lab_view_class

        src = html.escape(self.url(**params), quote=True)
        markup = (
            f'<iframe src="{src}" title="wslearn React lab" width="100%" height="{int(height)}"'
            ' style="border:1px solid #d1d9e0;border-radius:6px"></iframe>'
            f'<div><a href="{src}" target="_blank" rel="noopener" style="color:#0969da;'
            'text-decoration:underline">Open the React lab in its own tab</a> (DevTools: '
            "Network, WS, Messages).</div>"
        )
        hook = params.get("hook", "mine")
        return _lab_view_class()(value=markup, text=f"React lab (hook={hook}): the page in an "
                                 "iframe and a link to open it in its own tab")

    # -- HTTP ------------------------------------------------------------------------------

    def _routes(self, app: App) -> None:
        @app.http("/api/proposals")
        async def proposals(request: HttpRequest) -> Any:
            rest = request.path[len("/api/proposals"):].strip("/")
            if not rest:
                self.store.count("list")
                return self.store.list()
            self.store.count("detail")
            item = self.store.get(int(rest)) if rest.isdigit() and len(rest) < 10 else None
            if item is None:
                return _json(404, {"error": "not-found", "detail": f"no proposal {rest}"})
            return item

        @app.http("/react")
        async def files(request: HttpRequest) -> HttpResponse | None:
            return self._file(request.path[len("/react"):])

    def _file(self, rest: str) -> HttpResponse | None:
        if rest in _STATIC:
            name, kind = _STATIC[rest]
            return HttpResponse(200, kind, _package_file(name))
        folder, _, name = rest.strip("/").partition("/")
        if folder == "vendor" and _VENDOR.match(name):
            try:
                return HttpResponse(200, "text/javascript; charset=utf-8",
                                    _package_file("vendor", name))
            except (FileNotFoundError, IsADirectoryError):
                return None
        stem = name.removesuffix(".tsx")
        if not name.endswith(".tsx") or not _NAME.match(stem):
            return None
        if folder == "src":
            return self._source(stem)
        if folder == "hooks":
            if stem in self.hooks:
                return _tsx(self.hooks[stem])
            if stem in HOOKS:
                return _tsx(variant(stem))
        return None

    def _source(self, stem: str) -> HttpResponse | None:
        path = self.folder / f"{stem}.tsx" if self.folder is not None else None
        if path is not None and path.is_file():
            if path.stat().st_size > MAX_SOURCE:
                return HttpResponse(413, "text/plain; charset=utf-8",
                                    f"{path.name} is larger than {MAX_SOURCE} bytes\n".encode())
            return _tsx(path.read_text("utf-8", errors="replace"))
        if f"{stem}.tsx" in templates():  # deleted by the learner: the shipped one
            return _tsx(_package_file("app", f"{stem}.tsx").decode())
        return None


def _tsx(text: str) -> HttpResponse:
    return HttpResponse(200, "text/plain; charset=utf-8", text.encode())


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse(status, "application/json", json.dumps(body).encode())


def serve(folder: str | Path | None = None, **kwargs: Any) -> ReactLab:
    """Start a React lab (``folder``: where the page's ``src/`` files live; default
    ``my-work/react/``, made once from the shipped templates)."""
    return ReactLab(folder, **kwargs).start()


_REACT_NOTE_BODY = (
    "While its server runs, the React page is shown here in an iframe beside the "
    "server-side numbers, with a link to open it in its own tab (DevTools: Network, WS). "
    'Run the notebook to open it; <a href="../docs/react.md" target="_blank">'
    "docs/react.md</a> describes the page."
)


def _react_note(why: str) -> str:
    """What stands where the React lab's view was when no page can be shown (no port: a
    stored output never holds one)."""
    from ..static_note import note_html

    return note_html("React lab", why, _REACT_NOTE_BODY)


def _side_by_side_class() -> type:
    import contextlib

    import ipywidgets

    from ..static_note import SwapsForNote

    class SideBySide(SwapsForNote, ipywidgets.HBox):
        """An HBox whose ``text/plain`` is a fixed sentence (no port, no widget ids),
        displayed with a display id: ``close()`` (the clean-up cell) leaves a static note
        in its place, as the browser lab's view does (``wslearn.static_note``)."""

        def __init__(self, children: list[Any], text: str) -> None:
            super().__init__(children)
            self._text = text

        def __repr__(self) -> str:
            return self._text

        def _plain_text(self) -> str:
            return self._text

        def _note(self, why: str) -> str:
            return _react_note(why)

        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
            return self._live_bundle(super()._repr_mimebundle_(**kwargs))

        def close(self) -> None:
            self._leave_note()
            for child in self.children:
                with contextlib.suppress(Exception):
                    child.close()
            super().close()

    return SideBySide


def _numbers_widget(lab: ReactLab, interval: float) -> Any:
    """An HTML widget with the server-side numbers, refreshed by a task on the kernel's
    loop (no thread); its ``text/plain`` never changes (nbval)."""
    import asyncio
    import html

    from ..page import _lab_view_class

    view = _lab_view_class()(value="", text="Server-side numbers of the React lab (live)")

    def render() -> None:
        s = lab.stats()
        rows = [("open WebSocket connections", s.open_connections),
                ("handshakes", s.handshakes),
                ("GET /api/proposals", s.list_fetches),
                ("GET /api/proposals/&lt;id&gt;", s.detail_fetches)]
        cells = "".join(f"<tr><td>{name}</td><td style='text-align:right'><b>{html.escape(str(v))}"
                        "</b></td></tr>" for name, v in rows)
        state = "running" if lab.server.running else "stopped"
        view.value = (f"<div><b>server ({state})</b><table>{cells}</table></div>")

    render()
    lab._renderers = [*lab._renderers[-15:], render]  # bounded: re-run cells add views
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return view

    async def refresh() -> None:
        while not lab._closed:
            render()
            await asyncio.sleep(interval)

    task = loop.create_task(refresh(), name="wslearn-react-numbers")
    lab._tasks.add(task)
    task.add_done_callback(lab._tasks.discard)
    return view
