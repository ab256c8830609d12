"""Shared fixtures. The autouse ``no_leaks`` guard is the course's cleanup lesson applied
to its own tests: a test that leaves a thread, an open socket or an asyncio task behind fails."""

from __future__ import annotations

import os
import threading
import time

import pytest


def _socket_fds() -> set[str]:
    """Inodes of the sockets this process has open (Linux /proc)."""
    found: set[str] = set()
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:  # not Linux: the thread check still runs
        return found
    for name in names:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest):
    """Fail the test if it leaves threads or sockets behind (after a short grace period)."""
    if request.node.get_closest_marker("allow_leaks"):
        yield
        return
    threads_before = {t.ident for t in threading.enumerate()}
    sockets_before = _socket_fds()
    yield
    deadline = time.monotonic() + 5.0
    while True:
        threads = [
            t for t in threading.enumerate() if t.ident not in threads_before and t.is_alive()
        ]
        sockets = _socket_fds() - sockets_before
        if (not threads and not sockets) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    problems = []
    if threads:
        problems.append("threads left running: " + ", ".join(sorted(t.name for t in threads)))
    if sockets:
        problems.append(f"{len(sockets)} socket(s) left open")
    if problems:
        hint = " -- stop servers and close clients in the test"
        pytest.fail("leak: " + "; ".join(problems) + hint, pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_leaks: skip the leak guard (explain why in the test)")
