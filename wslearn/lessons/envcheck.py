"""The environment check of chapter 00: what the course needs, and how to fix what is missing.

Each row is a requirement, ✓ or ✗, and for a ✗ the exact fix. Versions are *not* shown
on ✓ rows ("ok"): they are pinned by ``constraints.txt`` but may still differ between
machines, and the stored notebook output must be the same everywhere. A ✗ row names the
version found, because that is what the learner needs to see.

    from wslearn.lessons.envcheck import check_environment
    await check_environment()      # a report; repr = the ✓/✗ table
"""

from __future__ import annotations

import asyncio
import html
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Final

__all__ = ["Check", "Report", "check_environment", "version_at_least"]

FIX_INSTALL: Final = "run `make lab` (or: pip install -c constraints.txt -e '.[test]')"


@dataclass(frozen=True)
class Check:
    """One requirement: its name, whether it holds, and what to do if it does not."""

    name: str
    ok: bool
    fix: str = ""

    def line(self, width: int) -> str:
        mark = "✓" if self.ok else "✗"
        status = "ok" if self.ok else f"MISSING -- {self.fix}"
        return f"{mark} {self.name:<{width}}  {status}"


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def missing(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_text(self) -> str:
        width = max(len(c.name) for c in self.checks)
        lines = [c.line(width) for c in self.checks]
        n = len(self.missing)
        lines.append("all good: the course will run here" if self.ok
                     else f"{n} problem{'s' if n != 1 else ''}: fix the ✗ rows, then restart "
                          "the kernel and run this cell again")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'✓' if c.ok else '✗'}</td><td>{html.escape(c.name)}</td>"
            f"<td>{'ok' if c.ok else html.escape(c.fix)}</td></tr>" for c in self.checks
        )
        verdict = "all good" if self.ok else f"{len(self.missing)} to fix"
        return f"<table>{rows}</table><p><b>{verdict}</b></p>"


def _parse(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
        if not piece.isdigit():
            break
    return tuple(parts)


def version_at_least(found: str | None, wanted: str) -> bool:
    """``version_at_least("17.4", "17")`` -> True; None (not installed) -> False."""
    if found is None:
        return False
    a, b = _parse(found), _parse(wanted)
    size = max(len(a), len(b))
    return a + (0,) * (size - len(a)) >= b + (0,) * (size - len(b))


def _installed(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _package(package: str, wanted: str, label: str | None = None,
             versions: Callable[[str], str | None] = _installed) -> Check:
    found = versions(package)
    name = label or f"{package} >= {wanted}"
    if found is None:
        return Check(name, False, f"{package} is not installed; {FIX_INSTALL}")
    if not version_at_least(found, wanted):
        return Check(name, False, f"found {package} {found}; {FIX_INSTALL}")
    return Check(name, True)


def _new_asyncio_api() -> Check:
    name = "websockets' new asyncio API"
    try:
        importlib.import_module("websockets.asyncio.client")
        importlib.import_module("websockets.asyncio.server")
    except ImportError:
        return Check(name, False, f"websockets.asyncio is missing (websockets < 13); {FIX_INSTALL}")
    return Check(name, True)


async def _live_checks() -> list[Check]:
    """Start a server on 127.0.0.1, connect a client, wait for ``welcome``; clean up."""
    bind = "a server can listen on 127.0.0.1"
    talk = "a client connects and gets welcome"
    try:
        from wslearn.server import serve

        server = serve()
    except Exception as exc:
        return [Check(bind, False, f"{type(exc).__name__}: {exc} -- is a firewall or sandbox "
                                   "blocking local sockets?"),
                Check(talk, False, "needs the server above")]
    try:
        from websockets.asyncio.client import connect

        async with asyncio.timeout(10.0):
            async with connect(server.url(topics=["check"]), proxy=None,
                               ping_interval=None) as ws:
                first = await ws.recv()
        got = '"type":"welcome"' in str(first)
        result = Check(talk, got, "" if got else f"the first frame was not welcome: {first!r}")
    except Exception as exc:
        result = Check(talk, False, f"{type(exc).__name__}: {exc} -- is HTTP_PROXY set for "
                                    "127.0.0.1, or a firewall in the way?")
    finally:
        server.stop()
    return [Check(bind, True), result]


async def check_environment(
    *, versions: Callable[[str], str | None] = _installed,
    python: tuple[int, ...] | None = None, live: bool = True,
) -> Report:
    """Check everything the course needs; never raises.

    ``versions`` and ``python`` exist for tests (pretend a package is missing or old);
    ``live=False`` skips the socket checks.
    """
    py = tuple(python if python is not None else sys.version_info[:3])
    py_text = ".".join(map(str, py))
    checks = [
        Check("Python >= 3.11", py >= (3, 11),
              f"found Python {py_text}; install 3.11+ and run `make lab PYTHON=python3.11`"),
        _package("websockets", "17", versions=versions),
        _new_asyncio_api() if versions is _installed else Check(
            "websockets' new asyncio API", version_at_least(versions("websockets"), "13"),
            f"websockets < 13; {FIX_INSTALL}"),
        _package("ipywidgets", "8", versions=versions),
        _package("jupyterlab_widgets", "3",
                 label="JupyterLab widget manager (jupyterlab_widgets)", versions=versions),
        _package("ipykernel", "7.1", versions=versions),
    ]
    if live:
        checks += await _live_checks()
    return Report(tuple(checks))
