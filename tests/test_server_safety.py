"""Issue 12 "safe by default" and issue 16's per-server secret: the key, the Host
allowlist, 0.0.0.0, and the security headers of the page and the API."""

from __future__ import annotations

import asyncio
import http.client
import json
import warnings
from collections.abc import Iterator

import pytest
from support import arun
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from wslearn.app import App, HttpResponse
from wslearn.server import Server, serve
from wslearn.topics import topic_app


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


def get(server: Server, path: str, host: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        headers = {"Host": host} if host is not None else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


# -- the per-server key ---------------------------------------------------------------------


def test_url_carries_the_key_and_works(server: Server) -> None:
    assert len(server.key) >= 20
    assert server.url(topics=["a"]).endswith(f"/ws?topics=a&key={server.key}")

    async def main() -> None:
        async with connect(server.url()) as ws:
            assert json.loads(await ws.recv())["type"] == "welcome"

    arun(main())


def test_without_the_key_nothing_is_read_or_driven(server: Server) -> None:
    bare = f"ws://127.0.0.1:{server.port}/ws?topics=a"

    async def main() -> int:
        with pytest.raises(InvalidStatus) as info:
            await connect(bare)
        assert b"server.url()" in info.value.response.body
        return info.value.response.status_code

    assert arun(main()) == 403
    assert get(server, "/api/topics/a").status == 403
    assert get(server, "/api/topics/a?key=wrong").status == 403
    assert get(server, f"/api/topics/a?key={server.key}").status == 200
    assert get(server, "/lab").status == 200  # the page itself holds no data


def test_two_servers_have_different_keys() -> None:
    with serve() as one, serve() as two:
        assert one.key != two.key


def test_key_false_is_an_open_server_and_a_fixed_key_is_kept() -> None:
    with serve(key=False) as server:
        assert server.key is None
        assert "key=" not in server.url()
        assert get(server, "/api/topics/a").status == 200
    with serve(key="my-workshop-key-123") as server:
        assert server.url().endswith("key=my-workshop-key-123")
    with pytest.raises(ValueError, match="key"):
        serve(key="short")


def test_the_endpoint_never_sees_the_key() -> None:
    app = App()
    seen: list[dict[str, str]] = []

    @app.websocket("/q")
    async def q(websocket):  # type: ignore[no-untyped-def]
        await websocket.accept()
        seen.append(dict(websocket.query_params))
        await websocket.close()

    with serve(app) as server:
        async def main() -> None:
            async with connect(server.url("/q") + "&x=1") as ws:
                await ws.wait_closed()

        arun(main())
    assert seen == [{"x": "1"}]


def test_repr_never_shows_the_key(server: Server) -> None:
    assert server.key not in repr(server)


# -- Host allowlist ---------------------------------------------------------------------------


def test_host_allowlist_on_api_routes() -> None:
    with serve(key=False) as server:  # no key: the Host allowlist is the only guard
        path = "/api/topics/a"
        assert get(server, path, host=f"localhost:{server.port}").status == 200
        assert get(server, path, host=f"127.0.0.1:{server.port}").status == 200
        assert get(server, path, host=f"[::1]:{server.port}").status == 200
        assert get(server, path, host=f"evil.example:{server.port}").status == 403
    with serve(hosts=["lab.example.org"], key=False) as server:
        assert get(server, "/api/topics/a", host="lab.example.org").status == 200


def test_keyed_server_rebinding_page_gets_nothing_but_a_proxy_with_the_key_does(
        server: Server) -> None:
    evil = f"evil.example:{server.port}"
    assert get(server, "/api/topics/a", host=evil).status == 403  # a rebinding page
    # jupyter-server-proxy keeps the browser's Host (the hub's); the key proves the rest
    assert get(server, f"/api/topics/a?key={server.key}", host="hub.example.org").status == 200


def test_hosts_of_allowed_origins_are_allowed() -> None:
    with serve(origins=["https://hub.example.org"], key=False) as server:
        assert get(server, "/api/topics/a", host="hub.example.org").status == 200


def test_sse_checks_host_and_key() -> None:
    with serve() as server:
        async def status(path: str, host: str) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.sse_port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return line

        good = f"127.0.0.1:{server.sse_port}"
        assert b" 403 " in arun(status("/api/stream/a", good))  # no key
        assert b" 403 " in arun(status("/api/stream/a", "evil.example"))  # rebinding
        assert server.sse_url("a").endswith(f"?key={server.key}")
    with serve(key=False) as server:
        assert b" 403 " in arun(status("/api/stream/a", "evil.example"))



# -- 0.0.0.0 ------------------------------------------------------------------------------


def test_all_interfaces_warn_and_url_is_usable() -> None:
    with pytest.warns(UserWarning, match="every network interface"):
        server = serve(host="0.0.0.0")
    try:
        assert "0.0.0.0" not in server.url()
    finally:
        server.stop()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        serve().stop()  # loopback: no warning


# -- security headers -------------------------------------------------------------------------


def test_security_headers_on_page_and_api(server: Server) -> None:
    page = get(server, "/lab")
    assert page.getheader("X-Content-Type-Options") == "nosniff"
    csp = page.getheader("Content-Security-Policy") or ""
    assert "script-src 'self'" in csp and "default-src 'none'" in csp  # its own scripts only
    assert "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*" in csp  # JupyterLab
    assert page.getheader("Referrer-Policy") == "no-referrer"  # the key stays in the page
    assert page.getheader("X-Frame-Options") is None  # it would forbid JupyterLab's iframe
    for path in (f"/api/topics/a?key={server.key}", "/nope", "/client.js", "/api/topics/a"):
        response = get(server, path)
        assert response.getheader("X-Content-Type-Options") == "nosniff", path
        assert response.getheader("Content-Security-Policy") == "default-src 'none'", path


def test_security_headers_on_refused_handshakes(server: Server) -> None:
    async def main() -> None:
        with pytest.raises(InvalidStatus) as info:
            await connect(f"ws://127.0.0.1:{server.port}/ws")  # no key
        assert info.value.response.headers["X-Content-Type-Options"] == "nosniff"

    arun(main())


# -- @app.http --------------------------------------------------------------------------------


def test_app_http_routes() -> None:
    app = topic_app()

    @app.http("/api/proposals")
    async def proposals(request):  # type: ignore[no-untyped-def]
        if request.path == "/api/proposals":
            return [{"id": 1, "q": request.query.get("q")}]
        if request.path == "/api/proposals/raw":
            return HttpResponse(status=201, content_type="text/plain", body=b"raw",
                                headers=(("X-Extra", "1"),))
        return None

    @app.http("/static")
    async def static(request):  # type: ignore[no-untyped-def]
        return HttpResponse(content_type="text/javascript", body=b"console.log(1)")

    with pytest.raises(ValueError, match="start with"):
        app.http("nope")

    with serve(app) as server:
        k = server.key
        r = get(server, f"/api/proposals?q=x&key={k}")
        assert r.status == 200 and r.getheader("Content-Type") == "application/json"
        r = get(server, f"/api/proposals/raw?key={k}")
        assert r.status == 201 and r.getheader("X-Extra") == "1"
        assert r.getheader("X-Content-Type-Options") == "nosniff"
        assert get(server, f"/api/proposals/none?key={k}").status == 404
        assert get(server, f"/api/proposalsX?key={k}").status == 404  # not a prefix match
        assert get(server, "/api/proposals").status == 403  # data needs the key
        assert get(server, "/static/app.js").status == 200  # static files do not
