"""Authentication (issue 15, wire protocol 6): expiring tokens by query, first message or
cookie; 4401 for a missing or expired token (also while connected), 4403 for a forged
one; ``GET /api/token``; an access log that shows what a token in a URL costs -- on the
real server and the simulated one alike."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from rig_support import KINDS, Rig, param, run
from support import arun

from wslearn.app import App, WebSocket
from wslearn.auth import TokenIssuer, redact
from wslearn.protocol import TOKEN_COOKIE
from wslearn.server import serve
from wslearn.server_handle import AUTH_TIMEOUT
from wslearn.simnet import SimNetwork


def lifetime(kind: str) -> float:
    """Virtual seconds cost nothing; real ones are kept short."""
    return 30.0 if kind == "sim" else 1.0


def issuer(kind: str) -> TokenIssuer:
    return TokenIssuer(lifetime=lifetime(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_valid_query_token_is_served_until_it_expires_then_4401(kind: str) -> None:
    async def body(rig: Rig) -> None:
        token = await rig.call(rig.server.issue_token)
        peer = await rig.connect(param(rig.server.url(topics=["a"]), token=token.value))
        assert await peer.recv_json() == {"type": "welcome", "topics": ["a"]}
        await rig.publish("a", "e")
        assert (await peer.recv_json())["type"] == "e"
        await rig.sleep(lifetime(kind) / 2)
        await peer.send({"type": "ping"})
        assert await peer.recv_json() == {"type": "pong"}  # still valid halfway
        # The server closes it when the token expires (on its own clock).
        assert await peer.closed(timeout=lifetime(kind) + 5) == (4401, "token expired")
        assert rig.server.connection_count == 0 or await rig.server.until(
            lambda s: s.connection_count == 0)

    run(kind, body, auth=issuer(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_missing_token_closes_4401_and_nothing_runs_before_auth(kind: str) -> None:
    async def body(rig: Rig) -> None:
        peer = await rig.connect(rig.server.url(topics=["a"]))
        await peer.send({"type": "ping"})  # not an auth frame: no pong, the socket closes
        assert await peer.closed() == (4401, "token missing")
        peer = await rig.connect(rig.server.url())
        await peer.send({"type": "auth"})  # no token in it
        assert await peer.closed() == (4401, "token missing")

    run(kind, body, auth=issuer(kind))


def test_a_silent_socket_is_closed_4401_after_the_auth_timeout() -> None:
    async def body(rig: Rig) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        peer = await rig.connect(rig.server.url())
        assert await peer.closed(timeout=60) == (4401, "token missing")
        assert loop.time() - start == pytest.approx(AUTH_TIMEOUT)  # virtual seconds

    run("sim", body, auth=TokenIssuer(lifetime=30))


@pytest.mark.parametrize("kind", KINDS)
def test_expired_token_closes_4401(kind: str) -> None:
    async def body(rig: Rig) -> None:
        token = await rig.call(rig.server.issue_token)
        await rig.sleep(lifetime(kind) + 0.2)
        peer = await rig.connect(param(rig.server.url(), token=token.value))
        assert await peer.closed() == (4401, "token expired")
        peer = await rig.connect(rig.server.url())
        await peer.send({"type": "auth", "token": token.value})
        assert await peer.closed() == (4401, "token expired")

    run(kind, body, auth=issuer(kind))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("forged", ["forged", "1.99999999999.0123456789abcdef0123456789abcdef",
                                    "OTHER"])
def test_forged_token_closes_4403(kind: str, forged: str) -> None:
    async def body(rig: Rig) -> None:
        value = forged
        if forged == "OTHER":  # well formed and signed, by another server's secret
            value = TokenIssuer(lifetime=30).issue(asyncio.get_running_loop().time()).value
        peer = await rig.connect(param(rig.server.url(), token=value))
        assert await peer.closed() == (4403, "invalid token")
        peer = await rig.connect(rig.server.url())
        await peer.send({"type": "auth", "token": value})
        assert await peer.closed() == (4403, "invalid token")
        peer = await rig.connect(rig.server.url())
        await peer.send({"type": "auth", "token": 12})
        assert await peer.closed() == (4403, "invalid token")

    run(kind, body, auth=issuer(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_first_message_auth_then_normal_service_and_expiry(kind: str) -> None:
    async def body(rig: Rig) -> None:
        token = await rig.call(rig.server.issue_token)
        peer = await rig.connect(rig.server.url(topics=["a"]))
        assert await peer.quiet(0.2)  # no welcome before the token
        await peer.send({"type": "auth", "token": token.value})
        assert await peer.recv_json() == {"type": "welcome", "topics": ["a"]}
        await peer.send({"type": "ping", "n": 1})
        assert await peer.recv_json() == {"type": "pong", "n": 1}
        await peer.send({"type": "auth", "token": token.value})  # only the first frame
        assert (await peer.recv_json())["error"] == "unknown-type"
        assert await peer.closed(timeout=lifetime(kind) + 5) == (4401, "token expired")

    run(kind, body, auth=issuer(kind))


def test_cookie_token_on_the_handshake() -> None:
    async def body(rig: Rig) -> None:
        token = await rig.call(rig.server.issue_token)
        # Jupyter's own cookies beside ours, one of them malformed for http.cookies
        cookie = {"Cookie": f'_xsrf=2|ab|cd|17; odd one=1; theme="dark"; '
                            f"wslearn_token={token.value}"}
        peer = await rig.connect(rig.server.url(topics=["a"]), additional_headers=cookie)
        assert await peer.recv_json() == {"type": "welcome", "topics": ["a"]}
        await peer.close()
        peer = await rig.connect(rig.server.url(), additional_headers={
            "Cookie": "wslearn_token=forged"})
        assert await peer.closed() == (4403, "invalid token")

    run("real", body, auth=TokenIssuer(lifetime=30))


@pytest.mark.parametrize("kind", KINDS)
def test_resume_and_auth_together(kind: str) -> None:
    async def body(rig: Rig) -> None:
        await rig.publish("a", "e", n=1)
        await rig.publish("a", "e", n=2)
        token = await rig.call(rig.server.issue_token)
        peer = await rig.connect(param(rig.server.url(topics=["a"]), resume="a:1",
                                       token=token.value))
        assert (await peer.recv_json())["seq"] == {"a": 2}
        assert await peer.recv() == '{"type":"e","topic":"a","n":2,"seq":2}'
        await peer.close()

    run(kind, body, auth=issuer(kind))


# -- GET /api/token, reprs, the access log ------------------------------------------------


async def raw_get(port: int, target: str) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                 .encode())
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_api_token_needs_the_key_and_is_never_cached() -> None:
    async def main() -> None:
        with serve(auth=TokenIssuer(lifetime=30)) as server:
            status, _, body = await raw_get(server.port, "/api/token")
            assert status == 403 and json.loads(body)["error"] == "bad-key"
            status, headers, body = await raw_get(server.port, f"/api/token?key={server.key}")
            assert status == 200 and headers["cache-control"] == "no-store"
            answer = json.loads(body)
            assert set(answer) == {"token", "expires_in"} and answer["expires_in"] == 30
            assert server.auth is not None and server.auth.verify(
                answer["token"], asyncio.get_running_loop().time()).value == "valid"
            async with asyncio.timeout(10):
                from websockets.asyncio.client import connect

                async with connect(param(server.url(), token=answer["token"])) as ws:
                    assert json.loads(await ws.recv())["type"] == "welcome"
            assert server.access_log[-1].startswith("GET /ws?token=")
        with serve() as plain:
            status, _, body = await raw_get(plain.port, f"/api/token?key={plain.key}")
            assert status == 404 and "serve(auth=TokenIssuer" in json.loads(body)["detail"]

    arun(main())


def test_api_token_as_an_http_only_cookie_for_the_page_s_folder() -> None:
    """``/api/token?cookie=1&path=...``: the token goes into a Set-Cookie (HttpOnly,
    SameSite=Strict, the page's folder, as long as the token lives), never into the body;
    the handshake that carries the cookie is served, and its URL holds no token."""
    from websockets.asyncio.client import connect

    async def main() -> None:
        with serve(auth=TokenIssuer(lifetime=30)) as server:
            key = f"key={server.key}"
            status, headers, body = await raw_get(
                server.port, f"/api/token?cookie=1&path=%2Fuser%2Fann%2Fproxy%2F8765%2F&{key}")
            assert status == 200 and headers["cache-control"] == "no-store"
            assert json.loads(body) == {"cookie": TOKEN_COOKIE, "expires_in": 30}
            name, _, rest = headers["set-cookie"].partition("=")
            value, *attributes = rest.split("; ")
            assert name == TOKEN_COOKIE and value.encode() not in body
            assert attributes == ["Path=/user/ann/proxy/8765/", "Max-Age=30", "HttpOnly",
                                  "SameSite=Strict"]
            _, headers, _ = await raw_get(server.port, f"/api/token?cookie=1&{key}")
            assert "Path=/;" in headers["set-cookie"]  # no path given: the whole server
            cookie = headers["set-cookie"].partition(";")[0]
            async with asyncio.timeout(10), connect(server.url(topics=["a"]),
                                                    additional_headers={"Cookie": cookie}) as ws:
                assert json.loads(await ws.recv()) == {"type": "welcome", "topics": ["a"]}
            assert server.access_log[-1].startswith("GET /ws?topics=a ")  # nothing to leak
            for bad, said in [("cookie=yes", "cookie=1"), ("cookie=1&path=x", "starts with /"),
                              ("cookie=1&path=%2Fa%3B%20Domain%3Devil", "no ;"),
                              ("cookie=1&path=%2F" + "a" * 300, "200 characters")]:
                status, headers, body = await raw_get(server.port, f"/api/token?{bad}&{key}")
                assert status == 400 and "set-cookie" not in headers, bad
                assert said in json.loads(body)["detail"], bad

    arun(main())


@pytest.mark.parametrize("kind", KINDS)
def test_tokens_never_show_in_reprs_or_the_endpoint_and_the_log_is_bounded(kind: str) -> None:
    app = App()
    seen: list[dict[str, str]] = []

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        seen.append(dict(websocket.query_params))
        await websocket.send_json({"type": "welcome", "topics": []})
        await websocket.receive_text()

    async def body(rig: Rig) -> None:
        server = rig.server
        token = await rig.call(server.issue_token)
        assert token.value not in repr(token) and "expires_at" in repr(token)
        peer = await rig.connect(param(server.url("/ws"), name="ada", token=token.value))
        await peer.recv_json()
        assert seen == [{"name": "ada"}]  # the endpoint never sees the token (nor the key)
        for text in (repr(server), repr(server.connections), repr(server.auth)):
            assert token.value not in text
        line = server.access_log[-1]
        assert line == f"GET /ws?name=ada&token={token.value} 101"  # raw: the lesson
        assert redact(line) == "GET /ws?name=ada&token=*** 101"
        assert not any("key=" in entry for entry in server.access_log)
        await peer.close()
        for _ in range(250):
            server._log_request("GET", "/x", 200)  # type: ignore[attr-defined]
        assert len(server.access_log) == 200

    run(kind, body, app=app, auth=issuer(kind))


def test_auth_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="TokenIssuer"):
        SimNetwork().serve(auth="secret")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="no auth"):
        SimNetwork().serve().issue_token()
    with serve() as server, pytest.raises(RuntimeError, match="no auth"):
        server.issue_token()
    assert re.fullmatch(r"Token\(expires_at=\d+(\.\d+)?\)",
                        repr(TokenIssuer(lifetime=5).issue(now=1.0)))
