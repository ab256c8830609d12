"""The course as an nbgrader assignment: ``python -m wslearn nbgrader COURSE_DIR``.

nbgrader wants its *source* notebooks to carry cell metadata: which cells hold the
learner's answer (``solution``), which cells grade it (``grade`` + ``points``). wslearn's
solutions already mark the answers with nbgrader's own ``### BEGIN SOLUTION`` /
``### END SOLUTION`` lines, so this module only adds the metadata, writing
``COURSE_DIR/source/<assignment>/NN_name.ipynb`` from ``solutions/``:

* every code cell with a solution block becomes a *solution cell*; the ``# TODO:`` line
  that opens a block moves just above it, so nbgrader's stub (configured as
  ``raise NotImplementedError``) gives the same cell as ``exercises/`` does;
* a written answer in Markdown (``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->``,
  e.g. exercise 11's "why") becomes the same "_Your answer here._" as in ``exercises/``:
  it is reflection, not graded, and nbgrader refuses solution regions outside solution
  cells (the model answer stays in ``solutions/``);
* the ``wslearn.check(...)`` cell becomes a locked *autograder cell* worth ``points``:
  it runs the same checkers and ends with :func:`points`, whose value nbgrader reads as
  partial credit (the share of scenarios passed);
* ``nbgrader_config.py`` is written once (never overwritten): the stub and a per-cell
  time limit for ``autograde``.

Then nbgrader runs as usual (``generate_assignment``, ``collect``/``autograde``,
``generate_feedback``); see ``docs/workshop-nbgrader.md``. nbgrader itself is not a
dependency of wslearn: install the ``classroom`` extra where instructors grade.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import nbformat
from nbformat import NotebookNode

from .build import BEGIN, GENERIC_TODO, MD_BEGIN, TODO_PREFIX, dumps, read_notebook, strip_markdown
from .progress import course_root

__all__ = ["CONFIG", "DEFAULT_POINTS", "STUB", "nbgrader_source", "points", "write_course"]

DEFAULT_POINTS: Final = 10
#: nbgrader's code stub, matching ``python -m wslearn build``'s.
STUB: Final = "raise NotImplementedError"
CONFIG: Final = '''\
# nbgrader settings for the wslearn course (written by `python -m wslearn nbgrader`).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "wslearn"
# The same stub as `python -m wslearn build`: the TODO line sits just above each block.
c.ClearSolutions.code_stub = {"python": "raise NotImplementedError"}
# A checker runs fault scenarios and one real-server run: allow each cell 5 minutes.
c.Execute.timeout = 300
'''
_CHECK = re.compile(r"^(?P<indent>\s*)wslearn\.check\((?P<args>.*)\)\s*$", re.DOTALL)


def points(result: Any, out_of: float = DEFAULT_POINTS) -> float:
    """Partial credit for an nbgrader autograder cell: ``out_of`` x the share passed.

    A pass earns everything (even when the real-server run was skipped); otherwise the
    share of counted scenarios that passed; "not implemented" earns 0. The cell's last
    value is this number, which nbgrader reads as the cell's score.
    """
    if getattr(result, "status", None) == "pass":
        return float(out_of)
    rows = [r for r in getattr(result, "rows", []) or [] if getattr(r, "status", "") != "skip"]
    if not rows:
        return 0.0
    passed: int = sum(getattr(r, "status", "") == "pass" for r in rows)
    return round(float(out_of) * passed / len(rows), 2)


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool,
          points: float | None = None) -> dict[str, Any]:  # fmt: skip
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": locked,
                            "schema_version": 3, "solution": solution}  # fmt: skip
    if points is not None:
        meta["points"] = points
    return meta


def _todo_above(source: str) -> str:
    """Move each block's ``# TODO:`` line (or a generic one) just above ``### BEGIN``."""
    lines = source.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if nxt.strip().startswith(TODO_PREFIX):
                todo = nxt.strip()[len(TODO_PREFIX) :].strip() or GENERIC_TODO
                out += [f"{indent}# TODO: {todo}", line]
                i += 2
                continue
            out += [f"{indent}# TODO: {GENERIC_TODO}", line]
            i += 1
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _autograder(source: str, out_of: float) -> str:
    match = _CHECK.match(source.strip())
    if match is None:
        raise ValueError(f"not a single wslearn.check(...) call: {source!r}")
    return (
        "# Autograder (nbgrader): the same checkers as wslearn.check; the last line is the\n"
        "# score, the share of scenarios passed (this cell is locked).\n"
        "from wslearn.grade_nbgrader import points\n\n"
        f"result = wslearn.check({match.group('args')})\n"
        "display(result)\n"
        f"points(result, out_of={out_of:g})"
    )


def nbgrader_source(solution: NotebookNode, name: str,
                    out_of: float = DEFAULT_POINTS) -> NotebookNode:  # fmt: skip
    """The nbgrader source notebook for one solution notebook (a new object)."""
    nb: NotebookNode = nbformat.from_dict(json.loads(json.dumps(solution)))
    graded = 0
    for cell in nb.cells:
        if not isinstance(cell.source, str):  # raw JSON keeps lines as a list
            cell.source = "".join(cell.source)
        if cell.cell_type == "markdown" and MD_BEGIN in cell.source:
            cell.source = strip_markdown(cell.source, where=f"{name}: a markdown cell")
        if cell.cell_type != "code":
            continue
        grade_id = f"{name}-{cell.get('id', 'cell')}"
        if any(line.strip() == BEGIN for line in cell.source.split("\n")):
            cell.source = _todo_above(cell.source)
            cell.metadata["nbgrader"] = _meta(grade_id, solution=True, grade=False, locked=False)
        elif _CHECK.match(cell.source.strip()):
            cell.source = _autograder(cell.source, out_of)
            cell.metadata["nbgrader"] = _meta(f"{name}-check", solution=False, grade=True,
                                              locked=True, points=out_of)  # fmt: skip
            graded += 1
        cell.outputs = []
        cell.execution_count = None
    if graded != 1:
        raise ValueError(f"{name}: expected one wslearn.check(...) cell, found {graded}")
    nb.metadata["wslearn"] = {"generated_from": f"solutions/{name}.ipynb",
                              "note": "generated by `python -m wslearn nbgrader`"}  # fmt: skip
    return nb


def write_course(
    course: str | os.PathLike[str],
    assignment: str = "wslearn",
    *,
    exercises: Iterable[str] | None = None,
    out_of: float = DEFAULT_POINTS,
    solutions_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write ``course/source/<assignment>/*.ipynb`` (+ ``nbgrader_config.py`` if missing).

    Source notebooks this function wrote before are replaced; any other file in the way
    is an error (an instructor's own notebook is never overwritten).
    """
    course = Path(course)
    solutions = Path(solutions_dir) if solutions_dir else course_root() / "solutions"
    names = sorted(p.stem for p in solutions.glob("*.ipynb") if not p.name.startswith("."))
    if exercises is not None:
        wanted = list(exercises)
        names = [n for n in names if n in wanted or any(n.startswith(w + "_") for w in wanted)]
    if not names:
        raise FileNotFoundError(f"no solution notebooks to convert in {solutions}")
    target = course / "source" / assignment
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = target / f"{name}.ipynb"
        if path.exists():
            meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
            if "wslearn" not in meta:
                raise FileExistsError(f"{path} exists and was not written by wslearn; "
                                      "move it away or pick another --assignment")  # fmt: skip
        nb = nbgrader_source(read_notebook(solutions / f"{name}.ipynb"), name, out_of)
        path.write_text(dumps(nb), encoding="utf-8")
        written.append(path)
    config = course / "nbgrader_config.py"
    if not config.exists():
        config.write_text(CONFIG, encoding="utf-8")
    return written
