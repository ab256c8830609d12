"""Where the lab link points: through jupyter-server-proxy when the kernel runs under a
Jupyter server that has it (found from the kernel's environment), else straight to the
in-kernel server. The real proxy and hub are in test_hub.py; these are the rules."""

from __future__ import annotations

import importlib.util
import json
from types import SimpleNamespace

import pytest

from wslearn import page as lab
from wslearn.http_api import _proxied_same_origin


def _server(port: int = 45678) -> SimpleNamespace:
    return SimpleNamespace(port=port, host="127.0.0.1",
                           http_url=lambda path: f"http://127.0.0.1:{port}{path}")  # fmt: skip


@pytest.fixture
def plain_kernel(monkeypatch, tmp_path):
    """A kernel of a plain Jupyter Server (pid 4242, base_url /base/) with the proxy."""
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.setenv("JPY_PARENT_PID", "4242")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "jpserver-4242.json").write_text(json.dumps({"base_url": "/base/", "port": 8888}))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "jupyter_server_proxy"
                        else real(name, *a))  # fmt: skip
    return tmp_path


def test_a_plain_jupyter_server_with_the_proxy_is_found(plain_kernel):
    assert lab.jupyter_proxy_base() == "/base/"
    assert lab.lab_url(_server(), speed=4) == "/base/proxy/45678/lab?speed=4"
    assert lab.lab_url(_server(), proxy=False) == "http://127.0.0.1:45678/lab"


def test_no_proxy_package_or_no_server_file_means_the_direct_url(plain_kernel, monkeypatch):
    (plain_kernel / "jpserver-4242.json").unlink()
    assert lab.jupyter_proxy_base() is None
    assert lab.lab_url(_server()) == "http://127.0.0.1:45678/lab"
    (plain_kernel / "jpserver-4242.json").write_text("{not json")
    assert lab.jupyter_proxy_base() is None
    (plain_kernel / "jpserver-4242.json").write_text(json.dumps({"base_url": "/b/"}))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert lab.jupyter_proxy_base() is None
    monkeypatch.setenv("JPY_PARENT_PID", "not-a-pid")
    assert lab.jupyter_proxy_base() is None


def test_jupyterhub_wins(plain_kernel, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    assert lab.lab_url(_server()) == "/user/ada/proxy/45678/lab"


def test_outside_jupyter_nothing_changes(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.delenv("JPY_PARENT_PID", raising=False)
    assert lab.jupyter_proxy_base() is None


def test_the_server_allows_the_proxied_same_origin_only_under_the_proxy(plain_kernel, monkeypatch):
    assert _proxied_same_origin("http://hub.example.org", "hub.example.org")
    assert _proxied_same_origin("https://127.0.0.1:8888", "127.0.0.1:8888")
    assert not _proxied_same_origin("http://evil.example", "hub.example.org")
    assert not _proxied_same_origin("null", "null")
    assert not _proxied_same_origin("file://x", "x")
    monkeypatch.delenv("JPY_PARENT_PID")
    assert not _proxied_same_origin("http://127.0.0.1:8888", "127.0.0.1:8888")
