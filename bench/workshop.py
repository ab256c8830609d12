"""Benchmark: K learners at once on one host -- how many fit on a 4-core / 16 GiB machine?

Run: ``.venv/bin/python bench/workshop.py`` (``--learners 8`` is the default; ``--quick``
runs chapters 03-04 only, for a smoke run).

Each learner is one real kernel that works through the course as a learner does: every
code cell of chapters 03-09 in order (the in-kernel server, clients, widgets without a
browser), then one exercise check (the backoff solution: its checkers' fault scenarios
and the real-server run). All K kernels run at once. Measured per learner, by polling
the kernel process (which holds the server thread and the checker too):

* peak memory: RSS (an upper bound: shared libraries counted in full) and PSS (shared
  pages split between the kernels that share them -- what a host really spends);
* CPU seconds of the kernel, and the wall time for the whole walk;
* the slowest cell (notebook, cell index, seconds).

A baseline run of one learner alone comes first, so the K-learner figures print as
ratios beside it (CPU seconds per learner should stay ~1.0x; wall time grows with
contention). A single-user Jupyter server's own memory (measured: ``jupyter server``
started idle) is added per learner for the sizing estimate:

* memory bound: (16 GiB - 2 GiB for the OS, hub and proxy) / (peak PSS + server);
* CPU bound: a learner running cells keeps (CPU seconds / wall seconds of the walk
  alone) of a core busy; with half the class running cells at the same moment and the
  host 70 % busy: 4 x 0.7 / (0.5 x that share). Everyone at once (the instructor says
  "Run All") is printed beside it.

Nothing here asserts a time: machines are noisy (2 shared cores); read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402  (ipykernel depends on it)

CHAPTERS = ["03", "04", "05", "06", "07", "08", "09"]
EXERCISE = "03_backoff"
GIB = 1024**3
HOST_MEMORY = 16 * GIB
HOST_RESERVED = 2 * GIB
HOST_CORES = 4
BUSY = 0.7
ACTIVE = 0.5


@dataclass
class Learner:
    """What one kernel did and cost."""

    number: int
    peak_rss: int = 0
    peak_pss: int = 0
    cpu: float = 0.0
    wall: float = 0.0
    cells: int = 0
    slowest: tuple[str, int, float] = ("", 0, 0.0)
    errors: list[str] = field(default_factory=list)


def _cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _work(chapters: list[str]) -> list[tuple[str, int, str]]:
    """(notebook, code cell index, source) for the chapters, then the exercise's solution."""
    paths = [next((ROOT / "notebooks").glob(f"{n}_*.ipynb")) for n in chapters]
    paths.append(ROOT / "solutions" / f"{EXERCISE}.ipynb")
    return [(p.stem, i, src) for p in paths for i, src in enumerate(_cells(p))]


class Sampler(threading.Thread):
    """Polls a process's RSS (every 0.2 s) and PSS (every 1 s) and keeps the peaks."""

    def __init__(self, pid: int, learner: Learner) -> None:
        super().__init__(name=f"sampler-{pid}", daemon=True)
        self.proc = psutil.Process(pid)
        self.learner = learner
        self.stop = threading.Event()

    def run(self) -> None:
        last_pss = 0.0
        while not self.stop.wait(0.2):
            try:
                self.learner.peak_rss = max(self.learner.peak_rss, self.proc.memory_info().rss)
                if time.monotonic() - last_pss > 1.0:
                    last_pss = time.monotonic()
                    pss = getattr(self.proc.memory_full_info(), "pss", 0)
                    self.learner.peak_pss = max(self.learner.peak_pss, pss)
            except psutil.Error:
                return


async def _learner(number: int, work: list[tuple[str, int, str]], home: Path) -> Learner:
    from jupyter_client.manager import start_new_async_kernel

    learner = Learner(number)
    env = dict(os.environ, WSLEARN_HOME=str(home / f"learner-{number}"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("JUPYTERHUB_SERVICE_PREFIX", None)
    km, kc = await start_new_async_kernel(kernel_name="python3", cwd=str(ROOT / "notebooks"),
                                          env=env)  # fmt: skip
    pid = km.provisioner.process.pid  # type: ignore[union-attr]
    sampler = Sampler(pid, learner)
    sampler.start()
    started = time.monotonic()
    try:
        for notebook, index, source in work:
            cell_start = time.monotonic()
            reply = await kc.execute_interactive(source, timeout=300, output_hook=lambda m: None)
            seconds = time.monotonic() - cell_start
            learner.cells += 1
            if seconds > learner.slowest[2]:
                learner.slowest = (notebook, index, seconds)
            if reply["content"]["status"] != "ok":
                content = reply["content"]
                learner.errors.append(f"{notebook} cell {index}: {content.get('ename')}: "
                                      f"{content.get('evalue')}")  # fmt: skip
        learner.wall = time.monotonic() - started
        times = psutil.Process(pid).cpu_times()
        learner.cpu = times.user + times.system + times.children_user + times.children_system
    finally:
        sampler.stop.set()
        sampler.join()
        kc.stop_channels()
        await km.shutdown_kernel(now=False)
    return learner


async def _class(count: int, work: list[tuple[str, int, str]], home: Path) -> list[Learner]:
    return list(await asyncio.gather(*(_learner(n, work, home) for n in range(1, count + 1))))


def server_overhead() -> int:
    """RSS of an idle single-user ``jupyter server`` (what each learner costs besides the
    kernel), measured by starting one."""
    port, token = _free_port(), secrets.token_hex(8)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=tmp, JUPYTER_CONFIG_DIR=tmp)
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}"],
            env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            url = f"http://127.0.0.1:{port}/lab?token={token}"  # loads the lab's assets too
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(url, timeout=5) as answer:
                        answer.read()
                    break
                except OSError:
                    time.sleep(0.3)
            info = psutil.Process(proc.pid).memory_full_info()
            return int(getattr(info, "pss", 0) or info.rss)
        finally:
            proc.terminate()
            proc.wait(30)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _report(label: str, learners: list[Learner]) -> dict[str, float]:
    print(f"\n{label}")
    print(f"  {'learner':>7}  {'peak RSS':>9}  {'peak PSS':>9}  {'CPU s':>6}  {'wall s':>6}  "
          "slowest cell")  # fmt: skip
    for ln in learners:
        nb, index, secs = ln.slowest
        print(f"  {ln.number:>7}  {_mib(ln.peak_rss):>9}  {_mib(ln.peak_pss):>9}  {ln.cpu:6.1f}  "
              f"{ln.wall:6.1f}  {nb} cell {index} ({secs:.1f} s)")  # fmt: skip
        for error in ln.errors:
            print(f"           error: {error}")
    n = len(learners)
    return {
        "rss": max(ln.peak_rss for ln in learners),
        "pss": max(ln.peak_pss for ln in learners),
        "cpu": sum(ln.cpu for ln in learners) / n,
        "wall": max(ln.wall for ln in learners),
        "slowest": max(ln.slowest[2] for ln in learners),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=8, help="kernels at once (default 8)")
    parser.add_argument("--quick", action="store_true", help="chapters 03-04 only")
    args = parser.parse_args()
    work = _work(CHAPTERS[:2] if args.quick else CHAPTERS)
    print(f"workshop bench: {args.learners} learner(s) at once, each a kernel running "
          f"chapters {', '.join(CHAPTERS[:2] if args.quick else CHAPTERS)} "
          f"({len(work)} code cells) and the {EXERCISE} check; {os.cpu_count()} cores here")
    with tempfile.TemporaryDirectory(prefix="wslearn-workshop-") as home:
        base = _report("baseline: one learner alone", asyncio.run(_class(1, work, Path(home))))
        many = _report(f"{args.learners} learners at once",
                       asyncio.run(_class(args.learners, work, Path(home))))  # fmt: skip
    server = server_overhead()
    print(f"\nidle single-user Jupyter server (JupyterLab loaded): {_mib(server)} PSS")
    print("\nratios, K learners / baseline:")
    for key, what in (("pss", "peak PSS per learner"), ("cpu", "CPU seconds per learner"),
                      ("wall", "wall time of the walk"), ("slowest", "slowest cell")):  # fmt: skip
        print(f"  {what:<26} {many[key] / base[key]:5.2f}x")

    per_learner = many["pss"] + server
    memory_bound = int((HOST_MEMORY - HOST_RESERVED) // per_learner)
    cpu_share = base["cpu"] / base["wall"]  # cores a learner keeps busy while running cells
    cpu_bound = int(HOST_CORES * BUSY / (ACTIVE * cpu_share))
    all_at_once = int(HOST_CORES * BUSY / cpu_share)
    print(f"\nsizing a {HOST_CORES}-core / {HOST_MEMORY // GIB} GiB host "
          f"({HOST_RESERVED // GIB} GiB kept for the OS, hub and proxy):")
    print(f"  memory: {_mib(per_learner)} per learner (peak PSS {_mib(many['pss'])} + server "
          f"{_mib(server)}) -> {memory_bound} learners")
    print(f"  CPU:    {base['cpu']:.0f} CPU s in {base['wall']:.0f} s of cells = "
          f"{cpu_share * 100:.0f} % of a core while a learner runs cells -> {cpu_bound} "
          f"learners with half of them running cells at once ({all_at_once} if all are), "
          f"{BUSY:.0%} busy")
    burst = base["wall"] * args.learners / max(many["wall"], 1e-9)
    print(f"  bursts: {args.learners} learners running every cell at once went "
          f"{many['wall'] / base['wall']:.1f}x slower than one alone "
          f"(throughput {burst:.1f} learners' worth on {os.cpu_count()} cores)")
    fits = min(memory_bound, cpu_bound)
    limit = "memory" if memory_bound <= cpu_bound else "CPU"
    print(f"  => about {fits} learners ({limit} bound); set a per-user memory limit of "
          f"{_mib(max(per_learner * 1.5, 512 * 2**20))} (peak x 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
