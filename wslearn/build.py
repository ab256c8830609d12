"""One source for exercises: ``solutions/NN_name.ipynb`` -> ``exercises/NN_name.ipynb``.

A solution notebook marks the learner's part of a code cell the nbgrader way::

    def delay(attempt):
        ### BEGIN SOLUTION
        # TODO: return base * factor ** (attempt - 1), capped at `cap`
        return min(cap, base * factor ** (attempt - 1))
        ### END SOLUTION

``build`` replaces each block with a stub at the block's indentation::

    def delay(attempt):
        # TODO: return base * factor ** (attempt - 1), capped at `cap`
        raise NotImplementedError

The ``# TODO:`` line right after ``### BEGIN SOLUTION`` is the instruction the learner
sees (it stays a harmless comment in the solution); without one a generic TODO is used.
Markdown cells may hide model answers between ``<!-- BEGIN SOLUTION -->`` and
``<!-- END SOLUTION -->`` (replaced by ``_Your answer here._``).

Why one source: two hand-kept copies drift, and the first drift is a solution leaked
into an exercise or an exercise that no longer matches its checker. Why deterministic
output (same ids, cleared outputs, fixed JSON layout): ``build --check`` compares bytes,
so CI catches an exercise that was not regenerated, and rebuilding never makes a diff.

Learner work is never lost to a build. Learners work in their own copies (``my-work/``,
see :mod:`wslearn.mywork`); but an exercise file that was *run and saved* (it has
outputs or execution counts, which a generated template never has) is someone's work:
``build --check`` reports it as ``edited`` without failing, and ``build`` first saves it
into ``my-work/`` (under its own name if free, else ``NN_name.saved-K.ipynb``) before
writing the fresh template.

A line that *looks* like a marker but is not exact (``## BEGIN SOLUTION``,
``### BEGIN SOLUTIONS``) is an error, not ignored: ignoring it would ship the solution.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import nbformat
from nbformat import NotebookNode

from .progress import course_root

__all__ = [
    "BEGIN",
    "END",
    "BuildError",
    "Built",
    "build",
    "dumps",
    "make_exercise",
    "read_notebook",
    "strip_markdown",
    "strip_solutions",
]

BEGIN: Final = "### BEGIN SOLUTION"
END: Final = "### END SOLUTION"
MD_BEGIN: Final = "<!-- BEGIN SOLUTION -->"
MD_END: Final = "<!-- END SOLUTION -->"
TODO_PREFIX: Final = "# TODO:"
GENERIC_TODO: Final = "write your code here"
MD_ANSWER: Final = "_Your answer here._"

_NEAR_MISS = re.compile(r"(BEGIN|END)\s*SOLUTION", re.IGNORECASE)
_MD_BLOCK = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.DOTALL)
_MD_NEAR_MISS = re.compile(r"<!--[^>]*(BEGIN|END)\s*SOLUTION", re.IGNORECASE)


class BuildError(ValueError):
    """A solution notebook cannot be turned into an exercise; the message says where."""


def strip_solutions(source: str, *, where: str = "cell") -> tuple[str, list[str]]:
    """Replace every solution block of a code cell's source by a TODO stub.

    Returns the new source and warnings (a block at top level makes the exercise cell
    raise when run top to bottom). Raises ``BuildError`` for unbalanced or misspelt markers.
    """
    lines = source.split("\n")
    out: list[str] = []
    warnings: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped == END:
            raise BuildError(f"{where}, line {i + 1}: {END} without a {BEGIN} before it")
        if stripped != BEGIN:
            _reject_near_miss(line, i, where)
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        start = i
        i += 1
        todo = GENERIC_TODO
        if i < len(lines) and lines[i].strip().startswith(TODO_PREFIX):
            todo = lines[i].strip()[len(TODO_PREFIX) :].strip() or GENERIC_TODO
        while i < len(lines) and lines[i].strip() != END:
            if lines[i].strip() == BEGIN:
                raise BuildError(
                    f"{where}, line {i + 1}: {BEGIN} inside the block opened on line "
                    f"{start + 1}; close the first block with {END}"
                )
            _reject_near_miss(lines[i], i, where)
            i += 1
        if i == len(lines):
            raise BuildError(
                f"{where}, line {start + 1}: {BEGIN} is never closed; add {END} "
                "at the end of the learner's part"
            )
        i += 1  # skip the END marker
        if not indent:
            warnings.append(
                f"{where}, line {start + 1}: solution block at top level -- the exercise cell "
                "will raise NotImplementedError when run; put the block inside a function"
            )
        out += [f"{indent}# TODO: {todo}", f"{indent}raise NotImplementedError"]
    return "\n".join(out), warnings


def _reject_near_miss(line: str, index: int, where: str) -> None:
    if _NEAR_MISS.search(line):
        raise BuildError(
            f"{where}, line {index + 1}: {line.strip()!r} looks like a solution marker but "
            f"is not one; write exactly {BEGIN!r} / {END!r} on their own lines"
        )


def strip_markdown(source: str, *, where: str = "cell") -> str:
    """Replace ``<!-- BEGIN SOLUTION -->...<!-- END SOLUTION -->`` by ``_Your answer here._``."""
    result = _MD_BLOCK.sub(MD_ANSWER, source)
    if _MD_NEAR_MISS.search(result):
        raise BuildError(
            f"{where}: unbalanced or misspelt {MD_BEGIN} / {MD_END}; every answer block "
            "needs both, written exactly like that"
        )
    return result


def _compiles(source: str) -> bool:
    """Whether a code cell parses as Python (top-level ``await`` allowed, as in IPython)."""
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return True  # IPython magics: not plain Python, nothing to compare
    try:
        compile(source, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError:
        return False
    return True


def read_notebook(path: str | os.PathLike[str]) -> NotebookNode:
    """Read a v4 notebook, giving id-less cells *deterministic* ids.

    ``nbformat.read`` would invent random ids for old notebooks, and then every build
    would differ. Ids are derived from the file name and cell position instead.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BuildError(f"{path}: cannot read the notebook: {exc}") from None
    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        raise BuildError(f"{path}: not an nbformat 4 notebook; open and save it in JupyterLab")
    nb = nbformat.v4.nbjson.JSONReader().to_notebook(raw)  # joins line lists, like read()
    if nb.get("nbformat_minor", 0) < 5:
        nb.nbformat_minor = 5
    for index, cell in enumerate(nb.cells):
        if "id" not in cell:
            cell.id = hashlib.sha1(f"{path.name}:{index}".encode()).hexdigest()[:8]
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise BuildError(f"{path}: invalid notebook: {exc.message}") from None
    return nb


def dumps(nb: NotebookNode) -> str:
    """The notebook as JSON, byte-for-byte stable (JupyterLab's layout + final newline)."""
    return nbformat.writes(nb) + "\n"


def make_exercise(
    solution: NotebookNode, *, name: str = "notebook", source: str | None = None
) -> tuple[NotebookNode, list[str]]:
    """The exercise notebook for a solution notebook (a new object; the input is untouched).

    Outputs and execution counts are cleared (timing metadata with them); cell ids, cell
    metadata and notebook metadata are kept. ``source`` (e.g. ``solutions/03_x.ipynb``) is
    stored in ``metadata.wslearn.generated_from``, which marks the file as generated.
    """
    nb = nbformat.from_dict(json.loads(json.dumps(solution)))  # a deep copy, as plain data
    warnings: list[str] = []
    for index, cell in enumerate(nb.cells):
        where = f"{name} cell {index} (id {cell.get('id', '?')})"
        text = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if cell.cell_type == "code":
            cell.source, found = strip_solutions(text, where=where)
            warnings += found
            if cell.source != text and _compiles(text) and not _compiles(cell.source):
                raise BuildError(
                    f"{where}: the exercise version of this cell is not valid Python; the stub "
                    f"takes the indentation of the {BEGIN} line -- indent the marker like "
                    "the code it wraps"
                )
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(text, where=where)
    if source is not None:
        nb.metadata["wslearn"] = {
            "generated_from": source,
            "note": "generated by `python -m wslearn build`: edit the solution, not this file",
        }
    return nb, warnings


@dataclass(frozen=True)
class Built:
    """The outcome for one exercise file.

    ``status``: ``written`` / ``unchanged`` / ``removed`` (build), or ``stale`` /
    ``missing`` / ``orphan`` / ``edited`` / ``unchanged`` (``check=True``: nothing is
    written). ``saved_to``: where ``build`` put a learner's edited file first.
    """

    exercise: Path
    status: str
    solution: Path | None = None
    warnings: tuple[str, ...] = field(default=())
    saved_to: Path | None = None

    @property
    def problem(self) -> bool:
        """Whether ``--check`` should fail for this file."""
        return self.status in ("stale", "missing", "orphan")


def learner_edited(text: str) -> bool:
    """Whether an exercise file was run and saved: outputs or execution counts (which a
    generated template never has)."""
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return False
    return any(
        isinstance(c, dict) and (c.get("outputs") or c.get("execution_count") is not None)
        for c in cells
    )


def _save_learner_copy(target: Path, text: str, root: Path) -> Path:
    """Put an edited exercise file into ``my-work/`` without overwriting anything there."""
    folder = root / "my-work"
    folder.mkdir(exist_ok=True)
    candidates = [folder / target.name] + [
        folder / f"{target.stem}.saved-{k}{target.suffix}" for k in range(1, 1000)
    ]
    for candidate in candidates:
        try:
            with candidate.open("x", encoding="utf-8") as f:
                f.write(text)
            return candidate
        except FileExistsError:
            continue
    raise BuildError(f"could not save {target} into {folder}: 1000 saved copies exist")


def _generated_from(path: Path) -> str | None:
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return None
    source = meta.get("wslearn", {}).get("generated_from") if isinstance(meta, dict) else None
    return source if isinstance(source, str) else None


def build(
    solutions_dir: str | os.PathLike[str] | None = None,
    exercises_dir: str | os.PathLike[str] | None = None,
    *,
    check: bool = False,
    report: Callable[[Built], Any] | None = None,
) -> list[Built]:
    """Regenerate ``exercises/`` from ``solutions/`` (or, with ``check``, only compare).

    Files are written only when their bytes change. An exercise that this tool generated
    from a solution that no longer exists is removed (``check``: reported as ``orphan``);
    hand-made exercises without ``metadata.wslearn`` are never touched. ``report`` is
    called with each ``Built`` as soon as it is known (the CLI prints from it).
    """
    root = course_root()
    solutions = Path(solutions_dir) if solutions_dir is not None else root / "solutions"
    exercises = Path(exercises_dir) if exercises_dir is not None else root / "exercises"
    if not solutions.is_dir():
        raise BuildError(f"no solutions folder at {solutions}: pass --solutions DIR")
    results: list[Built] = []

    def add(item: Built) -> None:
        results.append(item)
        if report is not None:
            report(item)

    sources = sorted(p for p in solutions.glob("*.ipynb") if not p.name.startswith("."))
    names = {p.name for p in sources}
    for solution in sources:
        target = exercises / solution.name
        label = f"{solutions.name}/{solution.name}"
        nb, warnings = make_exercise(read_notebook(solution), name=label, source=label)
        text = dumps(nb)
        old = target.read_text(encoding="utf-8") if target.exists() else None
        saved: Path | None = None
        if old == text:
            status = "unchanged"
        elif check:
            status = "missing" if old is None else "edited" if learner_edited(old) else "stale"
        else:
            if old is not None and learner_edited(old):
                saved = _save_learner_copy(target, old, exercises.parent)
            exercises.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            status = "written"
        add(Built(target, status, solution, tuple(warnings), saved))

    if exercises.is_dir():
        for target in sorted(exercises.glob("*.ipynb")):
            if target.name in names or _generated_from(target) is None:
                continue
            if check:
                add(Built(target, "orphan"))
            else:
                target.unlink()
                add(Built(target, "removed"))
    return results
