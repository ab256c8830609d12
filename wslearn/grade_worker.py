"""Grade one learner notebook in this process (and one kernel): the gradebook's worker.

``python -m wslearn.grade_worker NOTEBOOK EXERCISE OUT.json --timeout S`` runs the
notebook top to bottom in a fresh kernel, in a scratch folder (the submission is only
read, never written), with ``$WSLEARN_RESULT`` pointing at a scratch file so every
``wslearn.check(...)`` reports its verdict as JSON (see ``wslearn.grade_export``), and a
scratch ``$WSLEARN_HOME`` so no progress file anywhere is touched. It writes one JSON
object to ``OUT.json`` -- the :class:`wslearn.grade.Outcome` fields -- and exits 0.

Why a process per notebook: a learner's code may hang, exhaust memory, kill its kernel
or leave threads behind; the parent (``wslearn.grade``) bounds each worker's time and
kills its whole process tree, kernel included, and the batch goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .grade_export import ENV_RESULT

__all__ = ["grade_notebook", "main"]

_COUNTS = re.compile(r"(?:all (\d+) scenarios pass)|(?:(\d+)/(\d+) scenarios pass)")


def _one_line(text: str, limit: int = 240) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _first_failure(rows: list[dict[str, Any]]) -> str:
    for row in rows:
        if row.get("status") == "fail":
            detail = str(row.get("detail") or "").strip().splitlines()
            return _one_line(f"{row.get('name')}: {detail[0]}" if detail else str(row.get("name")))
    return ""


def _pick(results: list[dict[str, Any]], exercise: str) -> dict[str, Any] | None:
    """The last verdict for this notebook's exercise (a learner may check twice)."""
    mine = [r for r in results if r.get("notebook") == exercise]
    chosen = mine or results
    return chosen[-1] if chosen else None


def _from_progress(home: Path, exercise: str) -> dict[str, Any] | None:
    """Fallback: the entry ``wslearn.check`` recorded in the scratch progress file."""
    try:
        data = json.loads((home / "progress.json").read_text(encoding="utf-8"))
        entry = data["exercises"][exercise]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    summary = str(entry.get("summary", ""))
    match = _COUNTS.search(summary)
    passed = total = 0
    if match and match.group(1):
        passed = total = int(match.group(1))
    elif match:
        passed, total = int(match.group(2)), int(match.group(3))
    status = {"not-started": "not implemented"}.get(entry.get("status"), entry.get("status"))
    first = summary.split("first failure:", 1)[1].strip() if "first failure:" in summary else ""
    return {"status": status, "passed": passed, "total": total, "summary": summary,
            "rows": [], "hint": None, "first_failure": first}  # fmt: skip


def grade_notebook(notebook: Path, exercise: str, timeout: int) -> dict[str, Any]:
    """Run ``notebook`` and return the outcome fields (see ``wslearn.grade.Outcome``)."""
    from .build import BuildError, read_notebook
    from .execute import ExecutionFailed, run_notebook
    from .progress import ENV_EXERCISE, ENV_HOME

    started = time.monotonic()
    outcome: dict[str, Any] = {
        "status": "error", "passed": 0, "total": 0, "summary": "", "first_failure": "",
        "reason": "", "hint": None, "rows": [],
    }  # fmt: skip
    try:
        nb = read_notebook(notebook)
    except BuildError as exc:
        reason = str(exc).replace(str(notebook), notebook.name)
        line = _one_line(reason)
        outcome.update(status="malformed", reason=line, first_failure=line)
        return outcome
    with tempfile.TemporaryDirectory(prefix="wslearn-grade-") as scratch:
        root = Path(scratch)
        work, home = root / "work", root / "home"
        work.mkdir()
        home.mkdir()
        results_file = root / "results.jsonl"
        shutil.copy2(notebook, work / notebook.name)
        env = {ENV_HOME: str(home), ENV_RESULT: str(results_file), ENV_EXERCISE: exercise}
        stopped: str | None = None
        kind = "error"
        try:
            run_notebook(nb, cwd=work, timeout=timeout, env=env)
        except ExecutionFailed as exc:
            stopped = str(exc)
            if "timed out" in stopped:
                kind = "timeout"
            elif "kernel died" in stopped or "no Jupyter kernel" in stopped:
                kind = "crashed"
        results: list[dict[str, Any]] = []
        if results_file.exists():
            for line in results_file.read_text(encoding="utf-8").splitlines():
                try:
                    results.append(json.loads(line))
                except ValueError:
                    continue
        verdict = _pick(results, exercise) or _from_progress(home, exercise)
    if verdict is not None:
        outcome.update(
            status=verdict.get("status") or "fail",
            passed=int(verdict.get("passed") or 0),
            total=int(verdict.get("total") or 0),
            summary=str(verdict.get("summary") or ""),
            hint=verdict.get("hint"),
            rows=list(verdict.get("rows") or []),
        )
        outcome["first_failure"] = verdict.get("first_failure") or _first_failure(outcome["rows"])
        if outcome["status"] == "not implemented" and not outcome["first_failure"]:
            outcome["first_failure"] = "not started: the stubs still raise NotImplementedError"
        if stopped:  # the verdict stands; say what else went wrong
            outcome["reason"] = _one_line(f"after the check, {stopped}")
    else:
        if stopped:
            outcome.update(status=kind, reason=_one_line(stopped))
        else:
            outcome.update(
                status="no check",
                reason="the notebook ran to the end but never called wslearn.check(...)",
            )
        outcome["first_failure"] = outcome["reason"]
    outcome["seconds"] = round(time.monotonic() - started, 1)
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wslearn.grade_worker")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("exercise")
    parser.add_argument("out", type=Path)
    parser.add_argument("--timeout", type=int, default=300)
    args = parser.parse_args(argv)
    outcome = grade_notebook(args.notebook, args.exercise, args.timeout)
    tmp = args.out.with_name(args.out.name + ".part")
    tmp.write_text(json.dumps(outcome, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
