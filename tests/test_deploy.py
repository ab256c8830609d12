"""The deployment recipes in docs/deploy and binder/ stay in step with what `make` installs.

What cannot run here (building the image, a Kubernetes cluster, a TLJH host) is not
faked: these tests check what can be checked offline -- the install commands are the
Makefile's, the base image is pinned, jupyter-server-proxy is new enough, and every key
of config.yaml is one the Zero to JupyterHub chart accepts (the chart's values schema is
in no package registry, so the allowed key paths are listed here; they were checked
against the chart's schema by hand, see docs/workshop-deploy.md)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "docs" / "deploy" / "Dockerfile"
CONFIG = ROOT / "docs" / "deploy" / "z2jh-config.yaml"
_QUIET = {"--quiet", "-q", "--no-cache-dir"}

#: Key paths of the chart's values schema (jupyterhub chart 4.x) that config.yaml may use.
CHART_KEYS = {
    "singleuser", "singleuser.image", "singleuser.image.name", "singleuser.image.tag",
    "singleuser.defaultUrl", "singleuser.memory", "singleuser.memory.guarantee",
    "singleuser.memory.limit", "singleuser.cpu", "singleuser.cpu.guarantee",
    "singleuser.cpu.limit", "singleuser.storage", "singleuser.storage.capacity",
    "singleuser.lifecycleHooks", "singleuser.lifecycleHooks.postStart",
    "hub", "hub.config", "cull", "cull.enabled", "cull.timeout",
}  # fmt: skip
#: Below these the chart passes values through (Kubernetes objects, traitlets config).
PASS_THROUGH = ("singleuser.lifecycleHooks.postStart.", "hub.config.")


def _pip_args(line: str) -> list[str]:
    words = shlex.split(line)
    start = words.index("install") + 1
    return [w for w in words[start:] if w not in _QUIET]


def _make_install() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    (line,) = [x for x in text.splitlines() if "$(PY) -m pip install" in x and "-e" in x]
    return _pip_args(line)


def test_the_image_installs_exactly_what_make_installs_plus_the_proxy():
    lines = [x.strip() for x in DOCKERFILE.read_text().splitlines()]
    (base,) = [x for x in lines if x.startswith("FROM ")]
    image = base.split()[1]
    assert ":" in image and not image.endswith((":latest", ":python-3.11", ":python-3.12"))
    assert re.search(r":\d{4}-\d{2}-\d{2}$|@sha256:", image), f"{image} is not pinned"
    installs = [_pip_args(x) for x in lines if x.startswith("RUN ") and "pip install" in x]
    assert installs[0] == _make_install()
    assert installs[1] == ["-c", "constraints.txt", "jupyter-server-proxy"]


def test_binder_installs_the_same():
    post = (ROOT / "binder" / "postBuild").read_text().splitlines()
    installs = [_pip_args(x) for x in post if "pip install" in x]
    assert installs[0] == _make_install()
    assert installs[1] == ["-c", "constraints.txt", "jupyter-server-proxy"]
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    major, minor = map(int, runtime.removeprefix("python-").split("."))
    assert (major, minor) >= (3, 11)


def test_the_pinned_proxy_is_not_the_vulnerable_one():
    pins = dict(
        line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )  # fmt: skip
    version = tuple(int(x) for x in pins["jupyter_server_proxy"].split(".")[:3])
    assert version >= (4, 1, 1)  # CVE-2024-28179


def _paths(node: object, prefix: str = "") -> list[str]:
    if not isinstance(node, dict):
        return []
    found = []
    for key, value in node.items():
        path = f"{prefix}{key}"
        found.append(path)
        if not path.startswith(PASS_THROUGH):
            found += _paths(value, path + ".")
    return found


def test_config_yaml_uses_only_chart_keys_and_the_image():
    config = yaml.safe_load(CONFIG.read_text())
    unknown = [p for p in _paths(config) if p not in CHART_KEYS and not p.startswith(PASS_THROUGH)]
    assert unknown == []
    assert config["singleuser"]["defaultUrl"].endswith("/notebooks/00_start_here.ipynb")
    hook = " ".join(config["singleuser"]["lifecycleHooks"]["postStart"]["exec"]["command"])
    assert "cp -Rn" in hook  # copies only what is missing: learner work is never overwritten
