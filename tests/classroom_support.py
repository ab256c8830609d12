"""Helpers for the classroom tests: the instructor tools' own venv and npm proxy.

``make classroom`` (a step of ``make test``) installs nbgrader, jupyter-server-proxy and
JupyterHub into ``build/classroom-venv`` -- never into the learner's ``.venv`` -- and
configurable-http-proxy into ``build/node``. Without them these tests skip with the
command to run, except under CI, where they must run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from browser_support import under_ci

ROOT = Path(__file__).resolve().parent.parent
CLASSROOM_VENV = Path(os.environ.get("WSLEARN_CLASSROOM_VENV", ROOT / "build" / "classroom-venv"))
CHP = ROOT / "build" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"


def _missing(what: str) -> None:
    if under_ci():
        pytest.fail(f"{what} -- CI=true, so the classroom tests must run", pytrace=False)
    pytest.skip(what)


def classroom_bin() -> Path:
    """``build/classroom-venv/bin`` with nbgrader, jupyter-server-proxy and jupyterhub."""
    bin_dir = CLASSROOM_VENV / "bin"
    for tool in ("nbgrader", "jupyterhub", "jupyterhub-singleuser", "jupyter"):
        if not (bin_dir / tool).exists():
            _missing(f"{bin_dir / tool} is missing: run `make classroom`")
    return bin_dir


def chp() -> Path:
    """configurable-http-proxy from npm (``make classroom``)."""
    if not CHP.exists():
        found = shutil.which("configurable-http-proxy")
        if found:
            return Path(found)
        _missing(f"{CHP} is missing: run `make classroom` (needs npm)")
    return CHP


def classroom_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment for the classroom venv's tools: its bin first on PATH (nbgrader
    runs ``alembic``, JupyterHub runs ``jupyterhub-singleuser``), throwaway Jupyter dirs,
    a throwaway progress file."""
    bin_dir = classroom_bin()
    env = dict(os.environ)
    env.pop("JUPYTERHUB_SERVICE_PREFIX", None)
    env.pop("PYTHONPATH", None)
    env.update(
        PATH=os.pathsep.join([str(bin_dir), env.get("PATH", "")]),
        VIRTUAL_ENV=str(CLASSROOM_VENV),
        JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"),
        JUPYTER_DATA_DIR=str(tmp / "jupyter-data"),
        IPYTHONDIR=str(tmp / "ipython"),
        WSLEARN_HOME=str(tmp / "wslearn-home"),
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- a kernel under Jupyter


def http_json(method: str, url: str, token: str | None = None, body: Any = None,
              timeout: float = 30) -> Any:  # fmt: skip
    """One REST call (Jupyter Server or JupyterHub API); the decoded JSON or ``None``."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as exc:
        exc.close()  # its socket, or the leak guard complains
        raise
    return json.loads(raw) if raw.strip() else None


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 90,
              *, ok: bool = False) -> None:  # fmt: skip
    """Wait until ``url`` answers (any HTTP status; with ``ok``, a 2xx); fail with the log
    if ``proc`` exits first."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[0]} exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError as exc:
            exc.close()
            if not ok:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{url} answered {exc.code}:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (Jupyter and JupyterHub shut their kernels / servers down), then kill."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class Kernel:
    """A kernel started through a Jupyter server's REST API (``POST api/sessions``, the
    way JupyterLab opens a notebook) and driven over its WebSocket channels -- so it has
    the environment a learner's kernel has (``JPY_PARENT_PID``, the hub's variables)."""

    def __init__(self, base: str, token: str, path: str = "lab.ipynb") -> None:
        self.base, self.token, self.path = base, token, path
        self.session_id = ""
        self._ws: Any = None
        self._connection: Any = None

    def __enter__(self) -> Kernel:
        from websockets.sync.client import connect

        model = http_json("POST", f"{self.base}api/sessions", self.token, {
            "path": self.path, "name": self.path, "type": "notebook",
            "kernel": {"name": "python3"},
        })  # fmt: skip
        self.session_id = model["id"]
        ws_base = "ws" + self.base.removeprefix("http")
        url = f"{ws_base}api/kernels/{model['kernel']['id']}/channels"
        self._connection = connect(url, open_timeout=30, max_size=None,
                                   additional_headers={"Authorization": f"token {self.token}"})
        self._ws = self._connection.__enter__()
        return self

    def run(self, code: str, timeout: float = 120) -> str:
        """Execute ``code``; return its stdout. An error in the cell fails the test."""
        msg_id = uuid.uuid4().hex
        self._ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))  # fmt: skip
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream" and content.get("name") == "stdout":
                out.append(content["text"])
            elif kind == "error":
                pytest.fail(f"kernel error: {content['ename']}: {content['evalue']}\n{code}")
            elif kind == "status" and content.get("execution_state") == "idle":
                return "".join(out)

    def __exit__(self, *exc: object) -> None:
        if self._ws is not None:
            self._connection.__exit__(None, None, None)
        with contextlib.suppress(OSError):
            http_json("DELETE", f"{self.base}api/sessions/{self.session_id}", self.token)
