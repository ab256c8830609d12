"""Plain HTTP on the server's port: ``/api/topics/<topic>`` (long polling), the browser
lab's static files, 404s, the ``Origin`` check of browser handshakes, HTTP counters."""

from __future__ import annotations

import contextlib
import http.client
import json
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest
from support import arun, wait_until, with_key
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import wslearn
from wslearn.server import Server, serve


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


def get(server: Server, path: str, timeout: float = 40.0) -> tuple[int, str, bytes]:
    """GET ``path``; (status, content type, body). Closes its socket (leak guard)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("GET", with_key(server, path))
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


def get_json(server: Server, path: str) -> tuple[int, Any]:
    status, content_type, body = get(server, path)
    assert content_type == "application/json"
    return status, json.loads(body)


# -- /api/topics ---------------------------------------------------------------------------------


def test_topic_version_and_last_event(server: Server) -> None:
    assert get_json(server, "/api/topics/analysis") == (
        200, {"topic": "analysis", "version": 0, "last": None})
    server.publish("analysis", "analysis.updated", id=1)
    server.publish("analysis", "analysis.updated", id=2)
    assert get_json(server, "/api/topics/analysis") == (200, {
        "topic": "analysis", "version": 2,
        "last": {"type": "analysis.updated", "topic": "analysis", "id": 2},
    })


def test_long_poll_returns_as_soon_as_the_topic_changes(server: Server) -> None:
    result: list[tuple[int, Any]] = []
    poller = threading.Thread(
        target=lambda: result.append(get_json(server, "/api/topics/a?after=0&wait=25")))
    poller.start()
    try:
        with contextlib.suppress(TimeoutError):  # the request waits inside the server
            wait_until(lambda: server.http_requests == 1)
        assert not result  # still waiting: nothing published yet
        server.publish("a", "a.changed", n=1)
    finally:
        poller.join(30)
    assert result == [(200, {"topic": "a", "version": 1,
                             "last": {"type": "a.changed", "topic": "a", "n": 1}})]


def test_long_poll_returns_at_once_when_already_newer(server: Server) -> None:
    server.publish("a", "x")
    assert get_json(server, "/api/topics/a?after=0&wait=30")[1]["version"] == 1


def test_long_poll_gives_up_after_wait(server: Server) -> None:
    assert get_json(server, "/api/topics/a?after=0&wait=0.2") == (
        200, {"topic": "a", "version": 0, "last": None})


def test_stop_ends_a_long_poll_promptly() -> None:
    server = serve()
    result: list[tuple[int, Any]] = []
    poller = threading.Thread(
        target=lambda: result.append(get_json(server, "/api/topics/a?after=0&wait=30")))
    poller.start()
    try:
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: server.http_requests == 1)
        server.stop()
        poller.join(10)
        assert not poller.is_alive()
        assert result == [(200, {"topic": "a", "version": 0, "last": None})]
    finally:
        server.stop()
        poller.join(30)


@pytest.mark.parametrize(("path", "error"), [
    ("/api/topics/Bad%20Topic", "bad-topic"),
    ("/api/topics/a?after=x", "bad-param"),
    ("/api/topics/a?after=-1", "bad-param"),
    ("/api/topics/a?after=0&wait=31", "bad-param"),
    ("/api/topics/a?wait=nan", "bad-param"),
])
def test_bad_api_requests_are_400_with_a_reason(server: Server, path: str, error: str) -> None:
    status, body = get_json(server, path)
    assert status == 400
    assert body["type"] == "error" and body["error"] == error and body["detail"]


def test_custom_app_without_a_hub_has_no_topics_api() -> None:
    with serve(wslearn.App()) as server:
        status, body = get_json(server, "/api/topics/a")
    assert status == 404 and body["error"] == "no-hub"


# -- static files and 404 -------------------------------------------------------------------------


def test_static_files_come_from_wslearn_page(server: Server,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("wslearn.page")
    fake.respond = lambda path: ("text/html; charset=utf-8", b"<h1>lab</h1>") if path in (  # type: ignore[attr-defined]
        "/", "/lab") else None
    monkeypatch.setitem(sys.modules, "wslearn.page", fake)
    monkeypatch.setitem(vars(wslearn), "page", fake)  # (not setattr: it would import)
    assert get(server, "/") == (200, "text/html; charset=utf-8", b"<h1>lab</h1>")
    assert get(server, "/lab")[0] == 200
    status, content_type, body = get(server, "/missing.js")
    assert (status, content_type) == (404, "text/plain; charset=utf-8")
    assert b"/missing.js" in body


def test_without_the_page_module_every_other_path_is_404(server: Server,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wslearn.page", None)  # import now fails
    if "page" in vars(wslearn):  # (getattr would import it: wslearn imports lazily)
        monkeypatch.delitem(vars(wslearn), "page")
    assert get(server, "/")[0] == 404
    status, _, body = get(server, "/ws")
    assert status == 404 and b"websocket endpoint" in body


def test_http_counters(server: Server) -> None:
    _, _, body = get(server, "/api/topics/a")
    get(server, "/nothing-here")
    assert server.http_requests == 2
    assert server.http_bytes_sent > len(body) + 100  # status line and headers count too
    assert server.handshake_attempts == 0  # plain GETs are not handshakes
    server.reset_counters()
    assert (server.http_requests, server.http_bytes_sent) == (0, 0)


def test_http_is_still_served_while_refusing(server: Server) -> None:
    server.refuse()
    assert get_json(server, "/api/topics/a")[0] == 200


def test_http_waits_while_frozen(server: Server) -> None:
    result: list[Any] = []
    getter = threading.Thread(target=lambda: result.append(get(server, "/api/topics/a")))
    server.freeze()
    getter.start()
    try:
        getter.join(0.3)
        assert not result  # a frozen server answers nothing
    finally:
        server.thaw()
        getter.join(30)
    assert result[0][0] == 200


# -- Origin check ------------------------------------------------------------------------


def handshake(server: Server, origin: str | None) -> int:
    """Open and close a websocket with ``origin``; the HTTP status of the handshake."""

    async def main() -> int:
        try:
            client = await connect(server.url("/echo"), origin=origin)  # type: ignore[arg-type]
        except InvalidStatus as exc:
            return exc.response.status_code
        await client.close()
        return 101

    return arun(main())


def test_origin_check_allows_this_server_and_non_browsers(server: Server) -> None:
    assert handshake(server, None) == 101
    assert handshake(server, f"http://127.0.0.1:{server.port}") == 101
    assert handshake(server, f"http://localhost:{server.port}") == 101
    assert handshake(server, "http://evil.example") == 403
    assert handshake(server, "http://127.0.0.1:1") == 403  # another port is another origin
    assert server.handshake_attempts == 5


def test_extra_origins_can_be_allowed() -> None:
    with serve(origins=["https://hub.example.org"]) as server:
        assert handshake(server, "https://hub.example.org") == 101
        assert handshake(server, "https://other.example.org") == 403


def test_forbidden_origin_body_says_what_to_do(server: Server) -> None:
    async def main() -> bytes:
        with pytest.raises(InvalidStatus) as info:
            await connect(server.url(), origin="http://evil.example")  # type: ignore[arg-type]
        return info.value.response.body

    assert b"serve(origins=[...])" in arun(main())

