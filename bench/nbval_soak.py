"""Does the nbval suite pass N runs in a row, also with a busy neighbour?

The course promises deterministic stored outputs: ``pytest --nbval`` over notebooks/ and
solutions/ must pass 20 runs in a row on a 2-core machine, also while another process
keeps one core busy. This script measures exactly that and stops at the first failure,
printing its report.

Usage: ``python bench/nbval_soak.py [--runs 20] [--busy] [folders or notebooks...]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--busy", action="store_true",
                        help="keep one core busy with a spinning neighbour process")
    parser.add_argument("paths", nargs="*", default=["notebooks", "solutions"])
    args = parser.parse_args()
    files = sorted(str(p.relative_to(ROOT)) for d in args.paths  # folders or notebooks
                   for p in ([ROOT / d] if d.endswith(".ipynb") else (ROOT / d).glob("*.ipynb")))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
           "--nbval-current-env", "-o", "testpaths=", *files]
    neighbour = None
    if args.busy:
        neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for run in range(1, args.runs + 1):
            start = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            took = time.perf_counter() - start
            last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
            print(f"run {run:2d}/{args.runs}: {'pass' if done.returncode == 0 else 'FAIL'}"
                  f"  {took:5.1f} s  {last}", flush=True)
            if done.returncode != 0:
                print(done.stdout[-6000:])
                return 1
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    print(f"{args.runs} runs in a row passed ({len(files)} notebooks"
          f"{', busy neighbour' if args.busy else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
