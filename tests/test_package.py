"""The package's front door: every advertised name resolves, and importing is cheap."""

from __future__ import annotations

import subprocess
import sys

import wslearn


def test_every_public_name_resolves() -> None:
    missing = [name for name in wslearn.__all__ if not hasattr(wslearn, name)]
    assert missing == []


def test_import_is_lazy() -> None:
    """``import wslearn`` must not drag in ipywidgets or websockets (notebook 00 imports
    it before the environment check has said what is missing)."""
    code = (
        "import sys, wslearn; "
        "print(sorted(m for m in ('ipywidgets', 'websockets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_name_says_so() -> None:
    try:
        wslearn.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
