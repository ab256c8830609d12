"""How long does a learner wait for ``wslearn.check(...)``?

Each solution notebook's objects are checked the way the learner's check cell does it
(simulated scenarios, then the real in-kernel server), ``--runs`` times per exercise.
Prints each exercise's median, then the median over exercises and the slowest one.
``--baseline DIR`` also times another checkout (e.g. ``git worktree add /tmp/base main``)
side by side and prints the ratios, since absolute times on a shared machine mean little.

Usage: ``python bench/checks.py [--runs 3] [--baseline /tmp/base]``
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def objects(notebook: Path) -> tuple[str, tuple[Any, ...]]:
    """Run a solution's code cells up to its check cell; return (exercise, objects)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tree = ast.parse(source)
        last = tree.body[-1] if tree.body else None
        if (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                and ast.unparse(last.value.func).endswith("check")):
            name = ast.literal_eval(last.value.args[0])
            args = [eval(compile(ast.Expression(a), "<check>", "eval"), namespace)
                    for a in last.value.args[1:]]
            return name, tuple(args)
        exec(compile(source, notebook.name, "exec"), namespace)
    raise LookupError(notebook)


def measure(root: Path, runs: int) -> dict[str, float]:
    """Median seconds per exercise, measured in a child process importing ``root``'s wslearn."""
    code = f"""
import json, statistics, sys, time
sys.path.insert(0, {str(root)!r})
sys.path.insert(0, {str(ROOT / 'bench')!r})
from checks import objects
from pathlib import Path
from wslearn.checks import check
out = {{}}
for nb in sorted(Path({str(root)!r}, "solutions").glob("*.ipynb")):
    name, objs = objects(nb)
    times = []
    for _ in range({runs}):
        t = time.perf_counter()
        result = check(name, *objs, record=False)
        times.append(time.perf_counter() - t)
        assert result.passed, result
    out[name] = statistics.median(times)
print(json.dumps(out))
"""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "WSLEARN_HOME": home}
        done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env,
                              capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    now = measure(ROOT, args.runs)
    base = measure(args.baseline.resolve(), args.runs) if args.baseline else {}
    print(f"{'exercise':<14}{'seconds':>9}" + (f"{'baseline':>10}{'ratio':>7}" if base else ""))
    for name, seconds in now.items():
        line = f"{name:<14}{seconds:>9.2f}"
        if name in base:
            line += f"{base[name]:>10.2f}{seconds / base[name]:>7.2f}"
        print(line)
    for label, fn in (("median", statistics.median), ("slowest", max)):
        line = f"{label:<14}{fn(now.values()):>9.2f}"
        if base:
            line += f"{fn(base.values()):>10.2f}{fn(now.values()) / fn(base.values()):>7.2f}"
        print(line)
    print(f"(measured in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
