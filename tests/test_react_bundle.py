"""The React lab's vendored libraries: what ships matches web/package-lock.json, every
package in a bundle has its licence beside it, and (where node is present, as in CI) a
rebuild from the lockfile is byte-identical to what ships."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
VENDOR = ROOT / "wslearn" / "react" / "vendor"


def lock() -> dict:
    return json.loads((WEB / "package-lock.json").read_text())


def locked(name: str) -> str:
    return lock()["packages"][f"node_modules/{name}"]["version"]


def test_package_json_pins_exact_versions_and_the_lockfile_agrees() -> None:
    package = json.loads((WEB / "package.json").read_text())
    for section in ("dependencies", "devDependencies"):
        for name, spec in package[section].items():
            assert re.fullmatch(r"\d+\.\d+\.\d+", spec), f"{name} is not pinned: {spec}"
            assert locked(name) == spec
    assert locked("react").startswith("19.") and locked("react-dom").startswith("19.")
    assert locked("@tanstack/react-query").startswith("5.")


def test_shipped_bundle_matches_the_lockfile() -> None:
    versions = json.loads((VENDOR / "versions.json").read_text())
    for name, version in versions["packages"].items():
        assert locked(name) == version, name
        licence = VENDOR / "LICENSES" / f"{name.replace('/', '__')}.txt"
        assert licence.is_file() and licence.stat().st_size > 100, f"no licence for {name}"
    for name in ("react", "react-dom", "scheduler", "@tanstack/react-query", "sucrase"):
        assert name in versions["packages"]
    for module in versions["modules"].values():
        head = (VENDOR / module).read_text()[:600]
        assert f"react@{locked('react')}" in head and "development builds" in head
    # The libraries' own version strings, independent of our banner.
    react = "".join(p.read_text() for p in VENDOR.glob("chunk-*.js"))
    assert f'exports.version = "{locked("react")}"' in react
    dom = (VENDOR / "react-dom-client.js").read_text()
    assert f'reconcilerVersion: "{locked("react-dom")}"' in dom
    # Development builds: React's dev-only warnings and StrictMode double invoking are in.
    assert "react-dom-client.development.js" in dom and "production.js" not in dom
    assert "Download the React DevTools" in dom


def test_only_local_urls_in_the_page() -> None:
    page = (ROOT / "wslearn" / "react" / "index.html").read_text()
    assert "http://" not in page and "https://" not in page  # no CDN


def _node_ready() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (WEB / "node_modules" / "esbuild").is_dir():
        return "web/node_modules is missing: run `cd web && npm ci` (make web does it)"
    return None


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    problem = _node_ready()
    if problem is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{problem} -- CI must check the rebuild")
        pytest.skip(problem)
    out = tmp_path / "vendor"
    subprocess.run(["node", "build.mjs", str(out)], cwd=WEB, check=True,
                   capture_output=True, timeout=300)
    shipped = sorted(p.relative_to(VENDOR) for p in VENDOR.rglob("*") if p.is_file())
    rebuilt = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert shipped == rebuilt
    for rel in shipped:
        assert (VENDOR / rel).read_bytes() == (out / rel).read_bytes(), f"{rel} differs"
