"""The browser lab behind a real jupyter-server-proxy and a real JupyterHub.

No simulated proxy path here: a real Jupyter Server with jupyter-server-proxy (>= 4.1.1),
and a real JupyterHub (configurable-http-proxy from npm, local process spawner, dummy
authenticator) with two users. Each learner's kernel is started the way JupyterLab starts
one (the server's sessions API), runs ``wslearn.serve()`` and asks ``lab_url`` for the
link -- which must point through the proxy by itself -- and a real chromium loads the lab
there: the page, its WebSocket and its cache refetches all go through the proxy.

The tools come from ``build/classroom-venv`` and ``build/node`` (``make classroom``).
"""

from __future__ import annotations

import http.client
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_support import WAIT_MS, Browser, cache_row, require_chromium, screenshot
from classroom_support import (
    Kernel,
    chp,
    classroom_bin,
    classroom_env,
    free_port,
    http_json,
    stop,
    wait_http,
)

START_LAB = """\
import wslearn
from wslearn.page import lab_url

server = wslearn.serve()
print(json.dumps({"url": lab_url(server, topics=["analysis"], ping=600), "port": server.port}))
"""


def expect_text(locator: Any, text: Any, timeout: float = WAIT_MS) -> None:
    from playwright.sync_api import expect

    expect(locator).to_have_text(text, timeout=timeout)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    driver = Browser(require_chromium())
    yield driver
    driver.close()


def _start_lab(kernel: Kernel) -> tuple[str, int]:
    data = json.loads(kernel.run("import json\n" + START_LAB).strip().splitlines()[-1])
    return data["url"], data["port"]


def _assert_lab_url(url: str, prefix: str) -> None:
    """``url`` is the lab behind ``prefix`` with our settings (and maybe more, e.g. a
    per-server key: the test goes on with the URL exactly as the kernel gave it)."""
    parts = urlsplit(url)
    assert parts.path == f"{prefix}lab", url
    assert {"topics": ["analysis"], "ping": ["600"]}.items() <= parse_qs(parts.query).items()


def _status(host: str, port: int, path: str) -> int:
    """The status of a GET without credentials (no redirects followed)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def _ws_refused(url: str) -> bool:
    """Whether a WebSocket handshake without credentials is refused (CVE-2024-28179)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(url, open_timeout=30):
            return False
    except InvalidStatus:
        return True


def _open_lab(page: Any, url: str) -> dict[str, list[str]]:
    """Load the lab at ``url``; return every HTTP and WebSocket URL the page used."""
    seen: dict[str, list[str]] = {"http": [], "ws": []}
    page.on("request", lambda request: seen["http"].append(request.url))
    page.on("websocket", lambda ws: seen["ws"].append(ws.url))
    page.goto(url)
    expect_text(page.locator("#state"), "connected")
    return seen


def _through(seen: dict[str, list[str]], prefix: str) -> None:
    paths = [urlsplit(u).path for u in seen["http"]]
    assert paths and all(p.startswith(prefix) for p in paths), paths
    assert f"{prefix}api/topics/analysis" in paths  # the cache's refetch, proxied
    assert seen["ws"] and all(urlsplit(u).path == f"{prefix}ws" for u in seen["ws"]), seen["ws"]


# ---------------------------------------------------------------- jupyter-server-proxy


def _cookie_auth_through_the_proxy(browser: Browser, kernel: Kernel, origin: str,
                                   token: str) -> None:
    """The page's auth=cookie behind the proxy: the token cookie is scoped to this
    server's folder, travels beside Jupyter's own cookies, and no URL carries it."""
    url = json.loads(kernel.run(
        "import json\nfrom wslearn.auth import TokenIssuer\n"
        "secured = wslearn.serve(auth=TokenIssuer(lifetime=30))\n"
        "print(json.dumps(lab_url(secured, topics=['analysis'], ping=600, auth='cookie')))"
    ).strip().splitlines()[-1])
    folder = url.partition("lab?")[0]
    page = browser.new_page()
    try:
        page.goto(f"{origin}/base/api/status?token={token}")  # Jupyter's login cookie
        seen = _open_lab(page, origin + url)
        assert all("token" not in urlsplit(u).query for u in seen["ws"]), seen["ws"]
        cookies = {c["name"]: c for c in page.context.cookies()}
        ours = cookies["wslearn_token"]
        assert ours["path"] == folder and ours["httpOnly"] and ours["sameSite"] == "Strict"
        assert len(cookies) > 1  # Jupyter's cookies went along with the handshake too
        log = json.loads(kernel.run("print(json.dumps(secured.access_log))").strip())
        handshakes = [line for line in log if line.startswith("GET /ws")]
        assert handshakes and all("token" not in line for line in handshakes), log
        assert page.errors == []
    finally:
        page.context.close()
    kernel.run("secured.stop()")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_lab_behind_jupyter_server_proxy(browser, tmp_path):
    bin_dir = classroom_bin()
    port, token = free_port(), secrets.token_hex(16)
    (tmp_path / "root").mkdir()
    log = tmp_path / "jupyter.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [str(bin_dir / "jupyter"), "server", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
             "--ServerApp.base_url=/base/", f"--ServerApp.root_dir={tmp_path / 'root'}"],
            env=classroom_env(tmp_path), stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, cwd=tmp_path / "root",
        )  # fmt: skip
    origin = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{origin}/base/api/status", proc, log)
        with Kernel(f"{origin}/base/", token) as kernel:
            url, lab_port = _start_lab(kernel)
            prefix = f"/base/proxy/{lab_port}/"
            _assert_lab_url(url, prefix)  # the proxy was found by itself
            # chapter 09's own call: the iframe and the link point through the proxy too
            markup = kernel.run("from wslearn.page import open_lab\n"
                                "print(open_lab(server, speed=20, topics=['proposals']).value)")
            assert f'<iframe src="{prefix}lab?' in markup
            assert f'<a href="{prefix}lab?' in markup
            assert _status("127.0.0.1", port, url) in (302, 403)  # no token: no lab
            assert _ws_refused(f"ws://127.0.0.1:{port}{prefix}ws?topics=analysis")

            page = browser.new_page()
            try:
                page.goto(f"{origin}/base/api/status?token={token}")  # logs in (cookie)
                seen = _open_lab(page, origin + url)
                cells = cache_row(page, "topics/analysis").locator("td")
                expect_text(cells.nth(4), "fresh")
                kernel.run("server.publish('analysis', 'analysis.done', id=1)")
                expect_text(cells.nth(1), "1")  # pushed, invalidated, refetched
                expect_text(cells.nth(3), "2")
                _through(seen, prefix)
                screenshot(page, "lab-behind-jupyter-server-proxy.png")
                assert page.errors == []
            finally:
                page.context.close()
            kernel.run("server.stop()")
            _cookie_auth_through_the_proxy(browser, kernel, origin, token)
    finally:
        stop(proc)


# ---------------------------------------------------------------- JupyterHub, two users

HUB_CONFIG = """\
c = get_config()  # noqa: F821
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{tmp}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{tmp}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "workshop"
c.Authenticator.allowed_users = {{"ada", "bob"}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{tmp}/home/{{username}}"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.services = [{{"name": "workshop-test", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{
    "name": "workshop-test",
    "scopes": ["admin:users", "admin:servers", "access:servers"],
    "services": ["workshop-test"],
}}]
"""


def _login(page: Any, origin: str, user: str) -> None:
    page.goto(f"{origin}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", "workshop")
    page.click("#login_submit")
    page.wait_for_url(f"{origin}/user/{user}/**", timeout=WAIT_MS)  # the hub sends us home
    # Leave the JupyterLab the hub opened, so none of its requests is counted as the lab's.
    page.goto("about:blank")


def _spawn(origin: str, token: str, user: str) -> None:
    """Ask the hub to start ``user``'s server (it answers at once, 202: pending)."""
    http_json("POST", f"{origin}/hub/api/users/{user}/server", token, {}, timeout=150)


def _wait_ready(origin: str, token: str, user: str) -> None:
    for _ in range(600):
        model = http_json("GET", f"{origin}/hub/api/users/{user}", token)
        server = model.get("servers", {}).get("")
        if server and server.get("ready"):
            return
        time.sleep(0.2)
    pytest.fail(f"{user}'s server never became ready")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_two_learners_on_a_real_jupyterhub(browser, tmp_path):
    bin_dir, proxy = classroom_bin(), chp()
    port, token = free_port(), secrets.token_hex(16)
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(HUB_CONFIG.format(
        port=port, hub_port=free_port(), api_port=free_port(), chp=str(proxy), tmp=tmp_path,
        singleuser=str(bin_dir / "jupyterhub-singleuser"), token=token,
    ))  # fmt: skip
    (tmp_path / "home").mkdir()
    log = tmp_path / "jupyterhub.log"
    env = classroom_env(tmp_path, CONFIGPROXY_AUTH_TOKEN=secrets.token_hex(16))
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [str(bin_dir / "jupyterhub"), "-f", str(config)], env=env, cwd=tmp_path,
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    origin = f"http://127.0.0.1:{port}"
    pages: list[Any] = []
    try:
        wait_http(f"{origin}/hub/api/", proc, log, ok=True)  # the proxy has the hub's route
        labs: dict[str, tuple[str, int]] = {}
        kernels: dict[str, Kernel] = {}
        try:
            for user in ("ada", "bob"):  # both servers start at the same time
                _spawn(origin, token, user)
            for user in ("ada", "bob"):
                _wait_ready(origin, token, user)
                kernels[user] = Kernel(f"{origin}/user/{user}/", token).__enter__()
                labs[user] = _start_lab(kernels[user])
                url, lab_port = labs[user]
                _assert_lab_url(url, f"/user/{user}/proxy/{lab_port}/")
                assert _status("127.0.0.1", port, url) in (302, 403)
                assert _ws_refused(f"ws://127.0.0.1:{port}/user/{user}/proxy/{lab_port}/ws")

            seen = {}
            for user in ("ada", "bob"):  # both pages open at once
                page = browser.new_page()
                pages.append(page)
                _login(page, origin, user)
                seen[user] = _open_lab(page, origin + labs[user][0])
            for user in ("ada", "bob"):
                kernels[user].run(f"server.publish('analysis', 'analysis.done', by={user!r})")
            for user, page in zip(("ada", "bob"), pages, strict=True):
                cells = cache_row(page, "topics/analysis").locator("td")
                expect_text(cells.nth(1), "1")  # its own push, refetched through the hub
                expect_text(cells.nth(3), "2")
                data = page.evaluate("() => lab.queries.get('topics/analysis').data")
                assert data["last"]["by"] == user
                _through(seen[user], f"/user/{user}/proxy/{labs[user][1]}/")
                assert page.errors == []
            screenshot(pages[1], "lab-on-jupyterhub-bob.png")

            # ada's browser cannot open bob's lab: the hub checks who asks
            response = pages[0].goto(origin + labs["bob"][0])
            assert response is not None and response.status == 403
            for kernel in kernels.values():
                kernel.run("server.stop()")
        finally:
            for page in pages:
                page.context.close()
            for kernel in kernels.values():
                kernel.__exit__(None, None, None)
    finally:
        stop(proc)
