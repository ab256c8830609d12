"""Shared fixtures. The autouse ``no_leaks`` guard is the course's cleanup lesson applied
to its own tests: a test that leaves a thread, an open socket or an asyncio task behind fails."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time

import pytest

#: ``make test`` runs part of the suite once more under ``PYTHONASYNCIODEBUG=1``.
ASYNCIO_DEBUG = bool(os.environ.get("PYTHONASYNCIODEBUG"))


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


class _AsyncioReports(logging.Handler):
    """Collects what asyncio's debug mode reports through the ``asyncio`` logger."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        # "Executing <Task ...> took 0.2 seconds" measures the machine's load (2 shared
        # cores), not a bug in the code: not a report.
        if message.startswith("Executing ") and " took " in message:
            return
        self.reports.append(message.splitlines()[0])


@pytest.fixture(autouse=True)
def asyncio_reports():
    """Under ``PYTHONASYNCIODEBUG=1``: fail the test during which asyncio reported a
    problem (an exception nobody retrieved, a task destroyed while pending, a callback
    that raised, a non-thread-safe call from another thread)."""
    if not ASYNCIO_DEBUG:
        yield
        return
    handler = _AsyncioReports()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
        gc.collect()  # "never retrieved" / "destroyed but pending" appear at collection
    finally:
        logger.removeHandler(handler)
    if handler.reports:
        pytest.fail("asyncio debug mode reported: " + " | ".join(handler.reports), pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_leaks: skip the leak guard (explain why in the test)")
