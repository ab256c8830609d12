"""How much does the course cost to validate, beyond starting kernels?

Times ``pytest --nbval notebooks/`` against a floor measured in the same run: the
same number of notebooks with one trivial cell each, which is what kernel start-up
alone costs. Target: the course within 3x of that floor.

Usage: ``python bench/nbval_suite.py [--dir notebooks]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def run_nbval(paths: list[Path], cwd: Path) -> float:
    """Run nbval over ``paths`` in a subprocess; return wall seconds (fails loudly)."""
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
        "--nbval-current-env", "-o", "testpaths=", *map(str, paths),
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-3000:])
        raise SystemExit(f"nbval failed (exit {done.returncode}) for {cwd}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="notebooks", help="folder of notebooks to time")
    args = parser.parse_args()
    course = sorted((ROOT / args.dir).glob("*.ipynb"))
    if not course:
        raise SystemExit(f"no notebooks in {args.dir}/")
    with tempfile.TemporaryDirectory() as tmp:
        floor_paths = []
        for i in range(len(course)):
            nb = nbformat.v4.new_notebook()
            nb.cells = [nbformat.v4.new_code_cell("1 + 1", outputs=[
                nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)
            ], execution_count=1)]
            nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                         "language": "python"}
            path = Path(tmp) / f"floor_{i:02d}.ipynb"
            nbformat.write(nb, path)
            floor_paths.append(path)
        print(f"timing {len(course)} notebooks in {args.dir}/ and a floor of "
              f"{len(course)} one-cell notebooks (kernel start-up) ...", flush=True)
        floor = run_nbval(floor_paths, Path(tmp))
        total = run_nbval(course, ROOT)
    ratio = total / floor
    print(f"floor (kernel start-up only): {floor:6.1f} s")
    print(f"course ({args.dir}/):{'':>10}{total:6.1f} s")
    print(f"ratio course/floor:           {ratio:6.2f}x  (target <= 3.00x) "
          f"{'OK' if ratio <= 3 else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
