"""The browser lab: the seed's ``useWebSocket`` client as one static page.

The in-kernel server (``wslearn.server``) answers plain HTTP GETs on its own port and
hands every path it does not know to :func:`respond`, which serves three files from
this package: ``index.html`` (at ``/`` and ``/lab``), ``client.js`` and ``style.css``.
No build step, no CDN: the page works offline.

The page takes its settings from its own query string (all optional)::

    /lab?topics=analysis,proposals&speed=20&ping=30&pongTimeout=10&maxAttempts=5&base=1
    /lab?closes=recommended&minUptime=5&jitter=full&seed=7&resume=1&queue=10&auth=1

``speed`` divides every delay (``speed=20`` plays the 1, 2, 4, 8, 16 s schedule in
1.55 s); the defaults are the seed's. It derives its WebSocket URL (``ws``) and the
cache's HTTP URLs (``api/topics/<topic>``) from ``location``, relative to the page, so
it also works behind a proxy path such as ``/user/NAME/proxy/PORT/lab``.

In a notebook::

    from wslearn.page import open_lab
    open_lab(server, speed=4)   # an iframe + a link to open the page in its own tab

This module imports nothing heavy: the server imports it to answer requests, and
``ipywidgets`` is imported only by :func:`open_lab`.
"""

from __future__ import annotations

import html
import os
import re
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from ..static_note import SwapsForNote, note_html

__all__ = ["jupyter_proxy_base", "lab_url", "open_lab", "parts", "respond", "source"]

#: The files of the page and their content types.
FILES: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "client.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

#: URL path -> file. ``/lab/`` is deliberately absent: the page resolves ``ws`` and
#: ``client.js`` relative to its own URL, so it must live at a path without a trailing slash
#: (or at the root of a proxy prefix, ``.../proxy/PORT/``).
ROUTES: dict[str, str] = {
    "/": "index.html",
    "/lab": "index.html",
    "/index.html": "index.html",
    "/client.js": "client.js",
    "/style.css": "style.css",
}

# Query parameters of the page (Python spelling -> the page's spelling).
_PARAMS: dict[str, str] = {
    "topics": "topics",
    "speed": "speed",
    "base": "base",
    "factor": "factor",
    "cap": "cap",
    "max_attempts": "maxAttempts",
    "ping": "ping",
    "pong_timeout": "pongTimeout",
    "open_timeout": "openTimeout",
    # chapter 11 (each off by default)
    "closes": "closes",
    "min_uptime": "minUptime",
    "jitter": "jitter",
    "seed": "seed",
    "resume": "resume",
    "queue": "queue",
    "overflow": "overflow",
    "auth": "auth",
}

#: The words a setting may take (the page ignores anything else, with a note).
_CHOICES: dict[str, tuple[str, ...]] = {
    "closes": ("module-07", "recommended"),
    "jitter": ("none", "full", "equal"),
    "overflow": ("drop-oldest", "drop-newest", "reject"),
}

#: Where the page puts the token (``auth=True`` is ``"query"``, as the Python client's
#: ``auth=`` default): the socket's query, its first frame, or an HttpOnly cookie.
_AUTH_WAYS: tuple[str, ...] = ("query", "first-message", "cookie")

_PART_RE = re.compile(r"^// ---- (\w+):", re.MULTILINE)


def _read(name: str) -> bytes:
    # Read on every request (the files are small): an edited client.js shows up on reload.
    return resources.files(__name__).joinpath(name).read_bytes()


def respond(path: str) -> tuple[str, bytes] | None:
    """Answer ``GET path`` for the browser lab: ``(content_type, body)``, or ``None`` (404).

    ``path`` may carry a query string (``/lab?speed=20``); it is ignored here, the page
    reads it in the browser.
    """
    name = ROUTES.get(path.split("?", 1)[0].split("#", 1)[0])
    if name is None:
        return None
    return FILES[name], _read(name)


def source(name: str = "client.js", part: str | None = None) -> str:
    """The text of one of the page's files, for showing it in a notebook.

    ``part`` picks one section of ``client.js`` (see :func:`parts`), from its
    ``// ---- part:`` header to the next header::

        from IPython.display import Code
        Code(source(part="heartbeat"), language="javascript")
    """
    if name not in FILES:
        raise ValueError(f"unknown file {name!r}; the page has {', '.join(FILES)}")
    text = _read(name).decode("utf-8")
    if part is None:
        return text
    sections = _sections(text)
    if part not in sections:
        raise ValueError(f"no part {part!r} in {name}; parts: {', '.join(sections) or 'none'}")
    return sections[part]


def parts(name: str = "client.js") -> list[str]:
    """The section names of a file, in order (for ``client.js``: settings, timers, ...)."""
    return list(_sections(source(name)))


def _sections(text: str) -> dict[str, str]:
    heads = list(_PART_RE.finditer(text))
    ends = [m.start() for m in heads[1:]] + [len(text)]
    pairs = zip(heads, ends, strict=True)
    return {m.group(1): text[m.start() : end].rstrip() + "\n" for m, end in pairs}


def _query(params: dict[str, Any]) -> str:
    unknown = sorted(set(params) - set(_PARAMS))
    if unknown:
        raise TypeError(f"unknown page parameter(s) {unknown}; known: {', '.join(_PARAMS)}")
    pairs = []
    for key, value in params.items():
        if value is None or value is False:
            continue
        value = _setting(key, value)
        pairs.append((_PARAMS[key], value))
    return urlencode(pairs, safe=",") if pairs else ""


def _setting(key: str, value: Any) -> str:
    """One setting as the page spells it; a value the page would ignore is an error here."""
    if key == "topics" and not isinstance(value, str):
        return ",".join(value)
    if key == "closes" and not isinstance(value, str):
        value = getattr(value, "name", value)  # a ClosePolicy: MODULE_07, RECOMMENDED
    if key in _CHOICES:
        if value not in _CHOICES[key]:
            raise ValueError(f"{key}={value!r}: use one of {', '.join(_CHOICES[key])}")
        return str(value)
    if key == "auth" and value in _AUTH_WAYS:
        return str(value)  # where the token goes: query, first-message or cookie
    if key in ("resume", "auth"):
        if value is not True:
            ways = " or one of " + ", ".join(map(repr, _AUTH_WAYS)) if key == "auth" else ""
            raise ValueError(f"{key} is True (on){ways}, or False/None (off), got {value!r}")
        return "1"
    if key == "queue":
        if value == "unbounded":  # the mistake chapter 11 shows: every message waits
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"queue is a number of messages >= 0 (0: drop, as Module 07) "
                             f"or 'unbounded', got {value!r}")
    if key == "seed" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"seed is an int >= 0 (or None: unseeded jitter), got {value!r}")
    if key == "min_uptime" and (isinstance(value, bool) or not isinstance(value, int | float)
                                or not 0 <= value < float("inf")):
        raise ValueError(f"min_uptime is a number of seconds >= 0, got {value!r}")
    return str(value)


def jupyter_proxy_base() -> str | None:
    """The base URL of the Jupyter server this kernel runs under, if it has the proxy.

    Why the kernel's environment: a link must work from the learner's browser, which
    reaches the in-kernel server only through Jupyter (a hub, a container, a laptop over
    SSH). JupyterHub sets ``$JUPYTERHUB_SERVICE_PREFIX`` (``/user/ada/``) for the
    single-user server and its kernels. A plain Jupyter Server sets ``$JPY_PARENT_PID``
    (its pid) for its kernels and writes ``jpserver-<pid>.json`` (with ``base_url``) to
    the runtime directory; when ``jupyter_server_proxy`` is importable too, its
    ``<base_url>proxy/<port>/`` route exists. Anything else (nbclient, nbval, a script)
    gets ``None``: the direct ``http://127.0.0.1:PORT`` URL.
    """
    hub = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if hub:
        return hub
    pid = os.environ.get("JPY_PARENT_PID", "")
    if not pid.isdigit():
        return None
    import importlib.util
    import json

    if importlib.util.find_spec("jupyter_server_proxy") is None:
        return None
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        info_file = os.path.join(jupyter_runtime_dir(), f"jpserver-{pid}.json")
        with open(info_file, encoding="utf-8") as f:
            base = json.load(f).get("base_url")
    except (ImportError, OSError, ValueError, AttributeError):
        return None
    return base if isinstance(base, str) and base.startswith("/") else None


def _proxy_prefix(proxy: str | bool | None) -> str | None:
    if proxy is None:  # a Jupyter server with jupyter-server-proxy (a hub, or plain)
        proxy = jupyter_proxy_base() or False
    if proxy is False:
        return None
    if proxy is True:
        return "/"
    inner = str(proxy).strip("/")
    return f"/{inner}/" if inner else "/"


def lab_url(server: Any, *, proxy: str | bool | None = None, **params: Any) -> str:
    """The URL of the lab page of ``server``, with the page's settings in its query.

    ``params``: ``topics`` (list or ``"a,b"``), ``speed``, ``base``, ``factor``, ``cap``,
    ``max_attempts``, ``ping``, ``pong_timeout``, ``open_timeout`` (seconds); chapter 11's,
    each off by default: ``closes`` (``"module-07"`` or ``"recommended"``, or the
    ``ClosePolicy``), ``min_uptime`` (seconds), ``jitter`` (``"none"``, ``"full"``,
    ``"equal"``) and ``seed``, ``resume=True``, ``queue`` (messages; ``"unbounded"`` is the
    mistake) and ``overflow`` (``"drop-oldest"``, ``"drop-newest"``, ``"reject"``),
    ``auth=True`` (fetch ``api/token`` before each connect, the token in the socket's
    query; ``"first-message"``: in its first frame; ``"cookie"``: an HttpOnly cookie the
    browser sends with the handshake). See docs/browser-lab.md.

    ``proxy``: ``None`` (default) uses the Jupyter proxy when the kernel runs under
    JupyterHub or under a Jupyter server with ``jupyter-server-proxy`` (see
    :func:`jupyter_proxy_base`), else the server's own ``http://127.0.0.1:PORT``;
    a string is a Jupyter base URL with ``jupyter-server-proxy`` installed (``"/"`` for a
    plain JupyterLab, ``"/user/ada/"`` on a hub) and gives ``{prefix}proxy/PORT/lab``;
    ``False`` forces the direct URL.

    A keyed server's ``key`` comes last (``lab?topics=...&key=...``); the page forwards it
    on its WebSocket URL and its fetches. Outputs that show a link must not store it:
    ``open_lab`` keeps it out of the widget's text form.
    """
    query = _query(params)
    key = getattr(server, "key", None)
    if key:  # the server's secret rides last on the page URL; the page forwards it
        query = f"{query}&key={key}" if query else f"key={key}"
    prefix = _proxy_prefix(proxy)
    url = server.http_url("/lab") if prefix is None else f"{prefix}proxy/{server.port}/lab"
    return f"{url}?{query}" if query else url


def open_lab(
    server: Any, height: int = 420, *, proxy: str | bool | None = None, **params: Any
) -> Any:
    """Show the lab in a notebook: the page in an iframe, plus a link to open it in a tab.

    Returns an ``ipywidgets.HTML`` whose ``text/plain`` is stable (no port), so a stored
    notebook output compares equal run after run (nbval compares ``text/html`` too, which
    is why this is a widget and not ``IPython.display.HTML``). Parameters as in
    :func:`lab_url`.
    """
    url = lab_url(server, proxy=proxy, **params)
    proxied = _proxy_prefix(proxy) is not None
    where = "through the Jupyter proxy" if proxied else f"server on {server.host}"
    src = html.escape(url, quote=True)
    markup = (
        f'<iframe src="{src}" title="wslearn browser lab" width="100%" height="{int(height)}"'
        ' style="border:1px solid #d1d9e0;border-radius:6px"></iframe>'
        f'<div><a href="{src}" target="_blank" rel="noopener">Open the browser lab in its own'
        " tab</a> to watch its frames in DevTools (Network, WS).</div>"
    )
    view = _lab_view_class()(
        value=markup,
        text=f"Browser lab: the page in an iframe and a link to open it in its own tab"
        f" ({where})",
    )
    return view


_LAB_NOTE_BODY = (
    "While its server runs, the page is shown here in an iframe, with a link "
    "<i>Open the browser lab in its own tab</i> (watch its frames in DevTools: Network, "
    "WS). Run the notebook to open it; what the page does is described in "
    '<a href="../docs/browser-lab.md" target="_blank">docs/browser-lab.md</a>.'
)


def _lab_note(why: str) -> str:
    """What stands where the lab view was when no page can be shown (no port in it:
    stored outputs never hold one)."""
    return note_html("Browser lab", why, _LAB_NOTE_BODY)


@cache
def _lab_view_class() -> type:
    import ipywidgets
    import traitlets

    class LabView(SwapsForNote, ipywidgets.HTML):
        """The lab's iframe + link, with a text/plain fallback that has no port in it.

        Displayed with a display id: ``close()`` (the clean-up cell) puts a static note
        in its place, so Run All leaves no empty box (``wslearn.static_note``). The link
        cannot stay live -- the server behind it is stopped -- and a stored output must
        not hold its port. A server stopped *without* closing the view leaves the page in
        place on purpose: the learner watches it count its reconnect attempts and give up.
        """

        text = traitlets.Unicode("Browser lab")  # not synced to the browser

        def __repr__(self) -> str:
            return self.text

        def _plain_text(self) -> str:
            return self.text

        def _note(self, why: str) -> str:
            return _lab_note(why)

        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
            return self._live_bundle(super()._repr_mimebundle_(**kwargs))

        def close(self) -> None:
            self._leave_note()
            super().close()

    return LabView
