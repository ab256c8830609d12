"""Plain HTTP on the in-kernel server: the checks every request passes, and the answers.

Both listeners of ``wslearn.server`` use this module: the websocket port (whose requests
``websockets`` parses) and the server-sent events port (``wslearn.sse``, parsed with
``h11``). One home for the rules a request must pass:

* **Host allowlist** (DNS rebinding): a data route answers a request without the key
  only if its ``Host`` names this machine's loopback (``127.0.0.1``, ``localhost``,
  ``[::1]``), the bound host, a host of an allowed origin, or one passed as
  ``serve(hosts=[...])``: a page served from another name that resolves to 127.0.0.1
  gets 403, not topic data. On a keyed server (the default) a request with the right
  key passes whatever its Host -- a rebinding page cannot know the key, and
  jupyter-server-proxy forwards the browser's Host (the hub's name) unchanged.
* **Origin** (cross-site requests): same as the websocket handshake's check.
* **The per-server key** (a shared host: every user's processes reach every 127.0.0.1
  port): websocket upgrades, ``/api/...`` routes and event streams need ``?key=`` equal to
  ``server.key``. ``url()``, ``sse_url()`` and the lab link carry it; the browser lab
  forwards it from its own address to its WebSocket URL and its fetches. Pages and
  their static files do not need it: they hold no learner data.
* **Security headers** on every answer: ``nosniff``, a Content-Security-Policy that runs
  only the page's own scripts and lets only this machine's Jupyter (or the same origin,
  behind a proxy) embed the lab, ``no-referrer`` (the key never leaks in a Referer).
  The React lab's pages (``/react``) also allow ``blob:`` modules and their import map's
  hash, which its in-browser transpiler needs (``HttpApi.react_page_security``).

Answers: ``/api/token`` (a fresh token, on a server with ``serve(auth=...)``),
``/api/topics/<topic>`` (version + last event, long-polled with ``?after=N&wait=S``),
then the app's ``@app.http`` routes, then the browser lab's files, else 404 with a hint.
"""

from __future__ import annotations

import asyncio
import email.utils
import hmac
import http
import math
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .app import HttpRequest, HttpResponse
from .protocol import TOKEN_COOKIE, ProtocolError, encode, validate_topics

if TYPE_CHECKING:
    from .server import Server

__all__ = ["MAX_POLL_WAIT", "SECURITY_HEADERS", "Answer", "HttpApi", "RequestHead", "make_key"]

#: Shortest explicit key: a guessable key protects nothing.
MIN_KEY_LENGTH: Final = 16
#: Longest ``wait`` a long poll on ``/api/topics/<topic>`` may ask for (seconds).
MAX_POLL_WAIT: Final = 30.0
#: Host names that always mean "this machine".
LOOPBACK_NAMES: Final = frozenset({"127.0.0.1", "localhost", "::1"})
#: Where JupyterLab runs when it embeds the lab from this machine (any port).
_JUPYTER_ANCESTORS: Final = ("http://localhost:*", "http://127.0.0.1:*",
                             "https://localhost:*", "https://127.0.0.1:*")
#: The lab page's policy: its own scripts and styles only, fetch/WebSocket to itself.
#: ``{scripts}`` is ``'self'``, plus what the React lab needs under ``/react`` only.
_CSP: Final = ("default-src 'none'; script-src {scripts}; style-src 'self'; "
               "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'")
#: Where a client fetches a token from a server with ``serve(auth=...)`` (needs the key).
TOKEN_PATH: Final = "/api/token"
#: What ``/api/token?cookie=1&path=...`` accepts as the cookie's ``Path``: an absolute
#: path of URL-safe characters (nothing that could end the attribute or add another).
_COOKIE_PATH: Final = re.compile(r"/[A-Za-z0-9/_.~%@!$&'()*+=:-]{0,199}")
#: Pages at or under this path are the React lab's (``wslearn.react``).
REACT_PREFIX: Final = "/react"
#: Headers on every answer that is not a page (JSON, scripts, styles, errors, streams);
#: HTML pages get the full policy (``HttpApi.page_security``).
SECURITY_HEADERS: Final = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'"),
)


@dataclass(frozen=True)
class RequestHead:
    """What the checks need from a request, whichever parser read it."""

    method: str
    target: str  #: path and query as sent, e.g. ``/api/topics/a?key=...``
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        """The query's pairs; a second ``?`` counts as ``&`` (``url() + "?x=1"`` works)."""
        query = self.target.partition("?")[2].partition("#")[0]
        return parse_qsl(query.replace("?", "&"), keep_blank_values=True)

    def header_values(self, name: str) -> list[str]:
        lower = name.lower()
        return [value.strip() for key, value in self.headers if key.lower() == lower]


@dataclass
class Answer:
    """One HTTP answer before it is serialised (``websockets`` or raw bytes)."""

    status: int
    content_type: str
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    streaming: bool = False

    def head_fields(self, security: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """The header fields, in a stable order. ``streaming``: an event stream whose length
        is unknown, so no ``Content-Length``, and ``no-cache`` (EventSource's convention)."""
        length = [] if self.streaming else [("Content-Length", str(len(self.body)))]
        return [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            *length,
            ("Content-Type", self.content_type),
            ("Cache-Control", "no-cache" if self.streaming else "no-store"),
            *security,
            *self.headers,
        ]

    def serialize(self, security: Sequence[tuple[str, str]], server_header: str) -> bytes:
        """The raw bytes of status line, headers and body (for the SSE listener)."""
        phrase = http.HTTPStatus(self.status).phrase
        fields = [*self.head_fields(security), ("Server", server_header)]
        head = f"HTTP/1.1 {self.status} {phrase}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in fields) + "\r\n"
        return head.encode("latin-1") + self.body


def json_answer(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> Answer:
    return Answer(status, "application/json", encode(body).encode(), list(headers))


def error_answer(status: int, error: str, detail: str,
                 headers: Iterable[tuple[str, str]] = ()) -> Answer:
    """``{"type": "error", "error": CODE, "detail": ...}``, like the websocket's errors."""
    return json_answer(status, {"type": "error", "error": error, "detail": detail}, headers)


def host_name(host_header: str) -> str:
    """``127.0.0.1:8000`` -> ``127.0.0.1``; ``[::1]:80`` -> ``::1``; lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def _proxied_same_origin(origin: str, host: str) -> bool:
    """A page served through jupyter-server-proxy (plain Jupyter or JupyterHub) opens
    its socket with the Jupyter server's origin, and the proxy passes the browser's Origin
    and Host headers on unchanged: allow that same-origin pair, but only in a kernel that
    runs under a Jupyter server with the proxy (``page.jupyter_proxy_base()``), where the
    browser can reach this server no other way."""
    from .page import jupyter_proxy_base

    scheme, _, authority = origin.partition("://")
    if scheme not in ("http", "https") or authority.lower() != host.strip().lower():
        return False
    return jupyter_proxy_base() is not None


class HttpApi:
    """The request checks and HTTP answers of one ``Server`` (see the module docstring)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._ancestors = " ".join(("'self'", *_JUPYTER_ANCESTORS, *server.origins))
        #: Headers of an HTML page (the lab): its own scripts only, embeddable by Jupyter.
        self.page_security: tuple[tuple[str, str], ...] = self._page_headers("'self'")
        self._react_security: tuple[tuple[str, str], ...] | None = None

    def _page_headers(self, scripts: str) -> tuple[tuple[str, str], ...]:
        csp = _CSP.format(scripts=scripts)
        return (
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", f"{csp}; frame-ancestors {self._ancestors}"),
            ("Referrer-Policy", "no-referrer"),
        )

    def react_page_security(self) -> tuple[tuple[str, str], ...]:
        """Headers of the React lab's pages (``/react``): the page policy plus exactly
        the two script sources its in-browser build needs, and nothing else:

        * ``blob:`` -- the loader transpiles each ``.tsx`` file in the page and imports
          the result from a ``blob:`` URL the page itself made (``URL.createObjectURL``);
          a blob holds only what this page's own scripts wrote, and no other origin can
          create one for it;
        * ``'sha256-...'`` of its inline import map (``"react"`` -> ``./react/vendor/...``):
          an import map cannot be an external file, so it is allowed by its hash, which
          admits that one text and no injected script.

        No ``'unsafe-inline'``, no ``'unsafe-eval'``; every other page keeps
        ``script-src 'self'``."""
        if self._react_security is None:
            from .react import page_script_hashes

            sources = " ".join(("'self'", "blob:", *page_script_hashes()))
            self._react_security = self._page_headers(sources)
        return self._react_security

    def security(self, content_type: str, path: str = "") -> tuple[tuple[str, str], ...]:
        """The security headers for an answer to ``path``: the page's full policy for HTML
        (the React lab's for pages under ``/react``); for data, scripts and errors
        ``nosniff`` and a policy that allows nothing (short, because chapter 10 counts
        every byte a poll costs)."""
        if content_type.startswith("text/html"):
            if path == REACT_PREFIX or path.startswith(REACT_PREFIX + "/"):
                return self.react_page_security()
            return self.page_security
        return SECURITY_HEADERS

    # -- checks ----------------------------------------------------------------------

    def allowed_hosts(self) -> set[str]:
        server = self.server
        names = set(LOOPBACK_NAMES) | {h.lower() for h in server.hosts}
        if server.host not in ("0.0.0.0", "::", ""):
            names.add(host_name(server.host))
        else:
            names |= server._interface_names()
        for origin in server.origins:
            hostname = urlsplit(origin).hostname
            if hostname:
                names.add(hostname.lower())
        return names

    def host_ok(self, head: RequestHead) -> bool:
        hosts = head.header_values("Host")
        return len(hosts) == 1 and host_name(hosts[0]) in self.allowed_hosts()

    def key_ok(self, head: RequestHead) -> bool:
        key = self.server.key
        if key is None:
            return True
        given = [value for name, value in head.query_pairs if name == "key"]
        return len(given) == 1 and hmac.compare_digest(given[0].encode(), key.encode())

    def origin_ok(self, head: RequestHead) -> bool:
        origins = head.header_values("Origin")
        return len(origins) <= 1 and self.allowed_origin(origins[0] if origins else None)

    def refusal(self, head: RequestHead, *, data: bool) -> Answer | None:
        """The 403 a request gets, or None if it may go on. ``data``: the route serves
        learner data (websocket, ``/api/...``, streams), so Host and key are checked."""
        if not self.origin_ok(head):
            origins = ", ".join(head.header_values("Origin"))
            return error_answer(403, "bad-origin", f"origin {origins} is not allowed; pass "
                                "serve(origins=[...]) to allow it")
        if not data:
            return None
        if self.server.key is not None and self.key_ok(head):
            # The key is the stronger proof: a rebinding page cannot know it. And behind
            # jupyter-server-proxy the request keeps the browser's Host (the hub's name).
            return None
        if not self.host_ok(head):
            hosts = ", ".join(head.header_values("Host")) or "none"
            return error_answer(403, "bad-host", f"Host {hosts} is not this server's name; "
                                "use server.http_url() or pass serve(hosts=[...])")
        if not self.key_ok(head):
            return error_answer(403, "bad-key", "this server needs its key: use server.url() "
                                "or the lab link, which carry it (?key=...)")
        return None

    @staticmethod
    def without_key(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(name, value) for name, value in pairs if name != "key"]

    # -- the websocket port: handshakes and plain requests --------------------------

    def allowed_origin(self, origin: str | None, host: str | None = None) -> bool:
        server = self.server
        if origin is None or origin in server.origins:
            return True
        port = server._port
        if origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}",
                      f"http://{server._authority()}"):
            return True
        return host is not None and _proxied_same_origin(origin, host)

    async def process_request(self, conn: ServerConnection,
                              request: Request) -> Response | None:
        """``websockets``' ``process_request``: fault checks, then a handshake refusal
        (503 refusing or full, 403 origin or key, 404 path) or a plain HTTP answer."""
        server = self.server
        request_arrived = getattr(conn, "request_arrived", None)
        if request_arrived is not None:
            request_arrived()
        head = RequestHead("GET", request.path, tuple(request.headers.raw_items()))
        path = head.path
        upgrade = any("websocket" in v.lower() for v in request.headers.get_all("Upgrade"))
        if upgrade:
            server.handshake_attempts += 1
            server._emit("handshake", path=path)
        await server._unfrozen()  # a frozen server answers nothing, not even HTTP
        if server._stop_future is None or server._stop_future.done():
            return conn.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "server is stopping\n")
        if not upgrade:
            return await self.http_request(head)
        if server._refusing:
            return self.refuse(conn, path, http.HTTPStatus.SERVICE_UNAVAILABLE,
                                "server is refusing connections (fault: refuse()); retry later\n")
        origins = request.headers.get_all("Origin")
        hosts = request.headers.get_all("Host")
        host = hosts[0] if len(hosts) == 1 else None
        if len(origins) > 1 or not self.allowed_origin(origins[0] if origins else None, host):
            return self.refuse(
                conn, path, http.HTTPStatus.FORBIDDEN,
                f"origin {', '.join(origins)} is not allowed; pass serve(origins=[...]) "
                "to allow it\n",
            )
        if path not in server.app.routes:
            known = ", ".join(server.app.paths) or "none"
            return self.refuse(conn, path, http.HTTPStatus.NOT_FOUND,
                                f"no websocket endpoint at {path}; known paths: {known}\n")
        if not self.key_ok(head):
            return self.refuse(conn, path, http.HTTPStatus.FORBIDDEN,
                                "this server needs its key: connect to server.url(), which "
                                "carries it (?key=...)\n")
        if len(server._channels) >= server.max_connections:
            return self.refuse(conn, path, http.HTTPStatus.SERVICE_UNAVAILABLE,
                                f"{server.max_connections} connections are open (the server's "
                                "max_connections); retry later\n")
        return None

    def refuse(self, conn: ServerConnection, path: str, status: http.HTTPStatus,
                text: str) -> Response:
        self.server._emit("refused", path=path, status=int(status))
        response = conn.respond(status, text)
        for name, value in SECURITY_HEADERS:
            response.headers[name] = value
        return response

    def process_response(self, conn: ServerConnection, request: Request,
                          response: Response) -> None:
        self.server._log_request("GET", request.path, response.status_code)
        if response.status_code != 101 and not request.headers.get_all("Upgrade"):
            self.server.http_bytes_sent += len(response.serialize())

    async def http_request(self, head: RequestHead) -> Response:
        self.server.http_requests += 1
        answer = await self.answer(head)
        self.server._emit("http", path=head.path, status=answer.status)
        status = http.HTTPStatus(answer.status)
        return Response(answer.status, status.phrase,
                        Headers(answer.head_fields(self.security(answer.content_type, head.path))),
                        answer.body)

    # -- answers (the websocket port) ------------------------------------------------

    async def answer(self, head: RequestHead) -> Answer:
        """Answer a plain request on the websocket port (after the server's fault checks)."""
        path = head.path
        app = self.server.app
        if head.method != "GET":
            return error_answer(405, "bad-method", f"{head.method} is not allowed: GET only",
                                [("Allow", "GET")])
        refused = self.refusal(head, data=False)
        if refused is not None:
            return refused
        if path == TOKEN_PATH:
            return self.refusal(head, data=True) or self.api_token(
                dict(self.without_key(head.query_pairs)))
        if path.startswith("/api/topics/"):
            refused = self.refusal(head, data=True)
            if refused is not None:
                return refused
            status, body = await self.api_topic(unquote(path[len("/api/topics/"):]),
                                                dict(self.without_key(head.query_pairs)))
            return json_answer(status, body)
        if app.http_route(path) is not None:
            refused = self.refusal(head, data=path.startswith("/api/"))
            if refused is not None:
                return refused
            request = HttpRequest(path, dict(self.without_key(head.query_pairs)), head.headers)
            try:
                response = await app.respond_http(request)
            except Exception as exc:  # a broken handler answers 500, the server goes on
                self.server._record(f"http handler for {path} raised {exc!r}", exc)
                return error_answer(500, "server-error",
                                    f"the handler for {path} raised {type(exc).__name__}")
            if response is not None:
                return _from_response(response)
        page = _page_respond(path)
        if page is not None:
            return Answer(200, page[0], page[1])
        hint = (" (a websocket endpoint: connect with ws://)" if path in app.routes else
                " (server-sent events have their own port: server.sse_url(topic))"
                if path.startswith("/api/stream/") else "")
        return Answer(404, "text/plain; charset=utf-8", f"not found: {path}{hint}\n".encode())

    def api_token(self, params: Mapping[str, str]) -> Answer:
        """``GET /api/token?key=...``: a fresh token (what a login endpoint would answer),
        ``{"token": "...", "expires_in": 30}``, never cached (``no-store``).

        ``cookie=1``: the token is set as the ``wslearn_token`` cookie instead, and the body
        says only ``{"cookie": "wslearn_token", "expires_in": 30}``. The cookie is
        ``HttpOnly`` (the page's script -- or an injected one -- cannot read it),
        ``SameSite=Strict`` and scoped to ``path=`` (the page's own folder, so behind a
        proxy it goes to this server's pages only; ``/`` when not given). The browser then
        sends it with the WebSocket handshake by itself: no token in any URL or log."""
        server = self.server
        if server.auth is None:
            return error_answer(404, "not-found", "this server has no auth: start it with "
                                "serve(auth=TokenIssuer(lifetime=30))")
        as_cookie = params.get("cookie", "")
        if as_cookie not in ("", "0", "1"):
            return error_answer(400, "bad-request", f"cookie={as_cookie[:20]!r}: use cookie=1 "
                                "(set the token as a cookie) or leave it out")
        cookie_path = params.get("path", "/")
        if as_cookie == "1" and not _COOKIE_PATH.fullmatch(cookie_path):
            return error_answer(400, "bad-request", "path= is the page's folder, e.g. "
                                "/user/ann/proxy/8765/: it starts with / and has no ; , or "
                                "spaces (at most 200 characters)")
        token = server._issue_token_now()
        lifetime = server.auth.lifetime
        expires_in = int(lifetime) if lifetime.is_integer() else lifetime
        if as_cookie != "1":
            return json_answer(200, {"token": token.value, "expires_in": expires_in})
        cookie = (f"{TOKEN_COOKIE}={token.value}; Path={cookie_path}; "
                  f"Max-Age={max(1, math.ceil(lifetime))}; HttpOnly; SameSite=Strict")
        return json_answer(200, {"cookie": TOKEN_COOKIE, "expires_in": expires_in},
                           [("Set-Cookie", cookie)])

    async def api_topic(self, topic: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """``/api/topics/<topic>?after=N&wait=S``: the topic's version, long-polled."""
        server = self.server
        hub = getattr(server.app.state, "hub", None)
        if hub is None:
            return 404, {"error": "no-hub", "detail": "this app has no topic hub"}
        try:
            validate_topics([topic])
            after = _number(params, "after", int, 0, math.inf)
            wait = _number(params, "wait", float, 0.0, MAX_POLL_WAIT)
        except ProtocolError as exc:
            return 400, exc.as_message()
        stopping = server._stop_future
        if after is not None and wait and stopping is not None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while hub.version(topic) <= after and (left := deadline - loop.time()) > 0:
                changed = hub.changed(topic)
                try:
                    await asyncio.wait({changed, stopping}, timeout=left,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    hub.forget(topic, changed)
                    changed.cancel()
                if stopping.done():
                    break
        return 200, {"topic": topic, "version": hub.version(topic), "last": hub.last(topic)}


def make_key(key: str | bool) -> str | None:
    """``True``: a fresh random key; ``False``: none (an open server); a str: that key."""
    if key is True:
        return secrets.token_urlsafe(18)
    if key is False:
        return None
    if not isinstance(key, str):
        raise TypeError(f"key must be True (random), False (none) or a str, got {key!r}")
    if len(key) < MIN_KEY_LENGTH or not all(c.isalnum() or c in "-_." for c in key):
        raise ValueError(f"key must be at least {MIN_KEY_LENGTH} characters of A-Z a-z 0-9 "
                         "- _ . (or True for a random one)")
    return key


def _from_response(response: HttpResponse) -> Answer:
    if not isinstance(response, HttpResponse):
        raise TypeError(f"expected an HttpResponse, got {type(response).__name__}")
    return Answer(int(response.status), response.content_type, bytes(response.body),
                  [(str(k), str(v)) for k, v in response.headers])


def _number(params: dict[str, str], name: str, kind: type, low: float, high: float) -> Any:
    if name not in params:
        return None
    try:
        value = kind(params[name])
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not low <= value <= high:
        raise ProtocolError("bad-param", f"{name} must be a number in {low:g}..{high:g}, "
                                         f"got {params[name]!r}")
    return value


def _page_respond(path: str) -> tuple[str, bytes] | None:
    """The browser lab's static files (``wslearn.page``), or None if it is absent."""
    try:
        from . import page
    except ModuleNotFoundError as exc:
        if exc.name in ("wslearn.page", __package__ + ".page"):
            return None
        raise
    respond = getattr(page, "respond", None)
    return respond(path) if respond is not None else None
