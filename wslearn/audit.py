"""What is still running? The course's cleanup lesson, turned on the course itself.

Every notebook ends with ``wslearn.leftovers()``: servers still running, connections
they still hold, wslearn threads and asyncio tasks still alive. A clean notebook shows
all zeros. The report names what is left and how to stop it, so a learner who forgot a
``close()`` sees exactly which one.
"""

from __future__ import annotations

import asyncio
import html
import threading
import time
from dataclasses import dataclass, field

_PREFIX = "wslearn-"


@dataclass(frozen=True)
class Leftovers:
    """A snapshot of what wslearn started and has not stopped yet."""

    servers: int = 0
    connections: int = 0
    threads: tuple[str, ...] = field(default_factory=tuple)
    tasks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        return not (self.servers or self.connections or self.threads or self.tasks)

    def counts(self) -> list[str]:
        """One line per resource kind; names are sequence numbers, never ids or ports."""
        return [
            f"servers running:     {self.servers}",
            f"server connections:  {self.connections}",
            f"wslearn threads:     {len(self.threads)}",
            f"wslearn tasks:       {len(self.tasks)}",
        ]

    def lines(self) -> list[str]:
        """The counts, then the verdict: "all clean" or what to stop and how."""
        out = self.counts()
        if self.clean:
            out.append("all clean: nothing left running")
        else:
            if self.servers:
                out.append("-> call server.stop() on each server you started")
            if self.tasks:
                out.append("-> await client.close() on each client: " + ", ".join(self.tasks))
            if self.threads and not self.servers:
                out.append("-> still stopping: " + ", ".join(self.threads))
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        # the counts, then the verdict once (bold), then what to do, if anything
        verdict = self.lines()[len(self.counts()):]
        mark = "✓ " + verdict[0] if self.clean else "✗ something is still running"
        todo = "" if self.clean else f"<pre>{html.escape(chr(10).join(verdict))}</pre>"
        counts = html.escape("\n".join(self.counts()))
        return f"<pre>{counts}</pre><p><b>{html.escape(mark)}</b></p>{todo}"


def _snapshot() -> Leftovers:
    from wslearn import server as server_module

    running = [s for s in list(server_module._live_servers) if s.running]
    threads = tuple(
        sorted(t.name for t in threading.enumerate() if t.name.startswith(_PREFIX) and t.is_alive())
    )
    tasks: tuple[str, ...] = ()
    try:
        loop_tasks = asyncio.all_tasks()
    except RuntimeError:  # no running loop: called from plain Python
        loop_tasks = set()
    tasks = tuple(sorted(t.get_name() for t in loop_tasks if t.get_name().startswith(_PREFIX)))
    return Leftovers(
        servers=len(running),
        connections=sum(s.connection_count for s in running),
        threads=threads,
        tasks=tasks,
    )


def snapshot() -> Leftovers:
    """What is running right now (no waiting): for scripts and tests."""
    return _snapshot()


async def leftovers(wait: float = 3.0) -> Leftovers:
    """Report what wslearn left running, after up to ``wait`` seconds for it to wind down.

    ``await wslearn.leftovers()`` is the last cell of every notebook. It is async so
    that, while it waits, the kernel's own loop keeps running: a client task that is
    finishing can finish. Servers notice a closed connection a moment after the client
    closes it, and a stopped server's thread takes a moment to exit; waiting (briefly,
    only while something is left) makes the report deterministic instead of a race.
    """
    deadline = time.monotonic() + wait
    # Let callbacks that other threads queued on this loop run first (a widget noting
    # that its server stopped): they belong to the cell that caused them.
    for _ in range(3):
        await asyncio.sleep(0)
    snap = _snapshot()
    while not snap.clean and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        snap = _snapshot()
    return snap
