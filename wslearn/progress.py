"""The learner's progress: one small JSON file that checkers write and the CLI reads.

Every ``wslearn.check(...)`` call (in ``wslearn.checks``) ends with
``record(exercise, status, summary)``. The file lives in ``.wslearn/progress.json`` at the
course root (git-ignored), or in ``$WSLEARN_HOME`` when set -- tests point it at a
temporary folder, and a shared JupyterHub can point it at the learner's home.

Why a file and not kernel memory: ``python -m wslearn check`` runs the notebook in a fresh
kernel and must read the outcome afterwards, and progress should survive restarts.

Format (``version`` 1)::

    {"version": 1, "exercises": {"03_backoff": {"status": "fail", "best": "pass",
                                                "summary": "...", "runs": 2,
                                                "last_run": "2025-01-01T12:00:00Z"}}}

``status`` is the last result, ``best`` the best one so far: an exercise that passed
once stays passed (a later experiment that fails does not take it away), and the table
shows both, so the learner sees "pass" and also that the last run failed.

Renderings never show ``last_run`` unless asked (``details=True``): a progress table in a
stored notebook output must not contain wall-clock times.

This module imports nothing heavy: checkers import it inside the learner's kernel.
"""

from __future__ import annotations

import html
import json
import os
import sys
import tempfile
import types
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

__all__ = [
    "ENV_EXERCISE",
    "ENV_HOME",
    "STATUSES",
    "ExerciseResult",
    "Progress",
    "course_root",
    "current_exercise",
    "display_path",
    "exercise_name",
    "home",
    "list_exercises",
    "load",
    "progress",
    "progress_file",
    "progress_text",
    "record",
    "reset",
]

#: Where the progress file lives (a folder); default ``<course root>/.wslearn``.
ENV_HOME: Final = "WSLEARN_HOME"
#: Set by ``python -m wslearn check`` for the kernel it starts: the exercise being checked.
ENV_EXERCISE: Final = "WSLEARN_EXERCISE"
#: The statuses a checker may record.
STATUSES: Final = ("pass", "fail", "not-started")
_LABELS: Final = {"pass": "pass", "fail": "fail", "not-started": "not started"}
_VERSION: Final = 1
#: Which result is better (for ``best``).
_RANK: Final = {"not-started": 0, "fail": 1, "pass": 2}
_SUMMARY_MAX: Final = 200


def course_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds ``exercises/`` (and ``solutions/``, ``notebooks/``).

    Searched upwards from ``start`` (default: the current folder), so it is found from
    the course root and from inside ``notebooks/`` or ``exercises/`` (a kernel's cwd).
    Falls back to the source checkout this package lives in, then to ``start`` itself.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "exercises").is_dir() or (folder / "solutions").is_dir():
            return folder
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "exercises").is_dir():
        return checkout
    return here


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the current folder when that is shorter (for CLI lines)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return Path(path).as_posix()
    return Path(rel).as_posix() if not rel.startswith("..") else Path(path).as_posix()


def home() -> Path:
    """The folder of the progress file: ``$WSLEARN_HOME`` or ``<course root>/.wslearn``."""
    env = os.environ.get(ENV_HOME)
    return Path(env).expanduser() if env else course_root() / ".wslearn"


def progress_file() -> Path:
    """The progress file's path (it may not exist yet)."""
    return home() / "progress.json"


def exercise_name(name: str | os.PathLike[str]) -> str:
    """Normalise ``exercises/03_backoff.ipynb`` (or ``03_backoff``) to ``03_backoff``."""
    text = os.fspath(name)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            f"exercise name {name!r}: use the notebook's name, e.g. '03_backoff' "
            "(or its path, exercises/03_backoff.ipynb)"
        )
    return Path(text.strip()).name.removesuffix(".ipynb")


def current_exercise(default: str | None = None) -> str | None:
    """The exercise ``python -m wslearn check`` is running (``$WSLEARN_EXERCISE``), if any.

    Checkers use it to file their result under the notebook's own name; in an
    interactive kernel it is unset and they fall back to their own ``default``.
    """
    value = os.environ.get(ENV_EXERCISE)
    return exercise_name(value) if value else default


def list_exercises(exercises_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The exercise names found in ``exercises/`` (sorted: ``NN_`` prefixes keep order)."""
    folder = Path(exercises_dir) if exercises_dir is not None else course_root() / "exercises"
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.ipynb") if not p.name.startswith("."))


@dataclass(frozen=True)
class ExerciseResult:
    """The recorded outcomes of one exercise: the last (``status``) and the best."""

    exercise: str
    status: str = "not-started"
    summary: str = ""
    runs: int = 0
    last_run: str | None = None  # ISO 8601 UTC; shown only with details=True
    best: str = "not-started"

    @property
    def label(self) -> str:
        """The last result: ``pass``, ``fail`` or ``not started``."""
        return _LABELS.get(self.status, self.status)

    @property
    def best_label(self) -> str:
        """The best result so far: ``pass``, ``fail`` or ``not started``."""
        return _LABELS.get(self.best, self.best)


class Progress:
    """A snapshot of the progress file, listed against the exercises in ``exercises/``."""

    def __init__(
        self,
        entries: dict[str, ExerciseResult] | None = None,
        exercises: Iterable[str] = (),
        problem: str | None = None,
    ) -> None:
        self.entries: dict[str, ExerciseResult] = dict(entries or {})
        names = list(exercises)
        # Exercises first (course order), then results recorded for other names.
        names += sorted(n for n in self.entries if n not in names)
        self.exercises: tuple[str, ...] = tuple(names)
        #: Why the file could not be read, if it could not (shown in the renderings).
        self.problem = problem

    def get(self, exercise: str) -> ExerciseResult:
        """The entry for ``exercise`` (a ``not-started`` one if nothing was recorded)."""
        name = exercise_name(exercise)
        return self.entries.get(name, ExerciseResult(name))

    @property
    def passed(self) -> int:
        return sum(self.get(n).best == "pass" for n in self.exercises)

    @property
    def total(self) -> int:
        return len(self.exercises)

    def bar(self) -> str:
        """``[#####------] 5/11 passed``: one mark per exercise (scaled above 40)."""
        total, done = self.total, self.passed
        width = min(total, 40)
        filled = round(done * width / total) if total else 0
        return f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total} passed"

    def to_text(self, *, details: bool = False, only: Iterable[str] | None = None) -> str:
        """A stable table; ``details`` adds the run count and last run time (CLI only)."""
        names = self.exercises if only is None else tuple(exercise_name(n) for n in only)
        rows = []
        for name in names:
            e = self.get(name)
            row = [name, e.best_label, e.label]
            if details:
                row += [str(e.runs), e.last_run or "-"]
            rows.append([*row, e.summary])
        header = ["exercise", "best", "last", *(["runs", "last run"] if details else []),
                  "summary"]
        lines = []
        if self.problem:
            lines.append(f"note: {self.problem}")
        if not names:
            lines.append("no exercises found (exercises/ is empty) and nothing recorded yet")
        else:
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
            for r in [header, *rows]:
                cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)] + [r[-1]]
                lines.append("  ".join(cells).rstrip())
        if only is None and self.total:
            lines.append(self.bar())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        colors = {"pass": "#1a7f37", "fail": "#cf222e", "not-started": "#6e7781"}
        rows = "".join(
            "<tr><td><code>{}</code></td><td style='color:{}'>{}</td>"
            "<td style='color:{}'>{}</td><td>{}</td></tr>".format(
                html.escape(n),
                colors.get(self.get(n).best, "inherit"),
                html.escape(self.get(n).best_label),
                colors.get(self.get(n).status, "inherit"),
                html.escape(self.get(n).label),
                html.escape(self.get(n).summary),
            )
            for n in self.exercises
        )
        note = f"<p>note: {html.escape(self.problem)}</p>" if self.problem else ""
        return (
            f"{note}<table class='wslearn-progress'><thead><tr><th>exercise</th>"
            f"<th>best</th><th>last</th><th>summary</th></tr></thead><tbody>{rows}</tbody>"
            "</table>"
            f"<p><progress value='{self.passed}' max='{max(self.total, 1)}'></progress> "
            f"{self.passed}/{self.total} passed</p>"
        )


def _read(path: Path) -> tuple[dict[str, ExerciseResult], str | None]:
    if not path.exists():
        return {}, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = {
            name: ExerciseResult(
                exercise=name,
                status=str(item["status"]),
                summary=str(item.get("summary", "")),
                runs=int(item.get("runs", 0)),
                last_run=item.get("last_run"),
                best=_better(str(item.get("best", "not-started")), str(item["status"])),
            )
            for name, item in data["exercises"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = (
            f"{path} is unreadable ({type(exc).__name__}); it will be replaced by the next "
            "check (the old file is kept as progress.json.bad)"
        )
        return {}, problem
    return entries, None


def load(exercises_dir: str | os.PathLike[str] | None = None) -> Progress:
    """Read the progress file (missing = nothing recorded yet). Never raises for a bad file."""
    entries, problem = _read(progress_file())
    return Progress(entries, list_exercises(exercises_dir), problem)


def record(exercise: str, status: str, summary: str = "") -> ExerciseResult:
    """Record a checker's outcome for ``exercise``; returns the stored entry.

    ``status`` is ``"pass"``, ``"fail"`` or ``"not-started"`` (the learner's code still
    raises ``NotImplementedError``). ``summary`` is one line for the table. The write is
    atomic (temp file + rename), so a reader never sees half a file.
    """
    name = exercise_name(exercise)
    if status not in STATUSES:
        raise ValueError(f"record(status={status!r}): use one of {', '.join(STATUSES)}")
    path = progress_file()
    entries, problem = _read(path)
    if problem is not None:
        path.replace(path.with_name(path.name + ".bad"))
    old = entries.get(name, ExerciseResult(name))
    line = " ".join(str(summary).split())
    if len(line) > _SUMMARY_MAX:
        line = line[: _SUMMARY_MAX - 3] + "..."
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    entry = ExerciseResult(name, status, line, old.runs + 1, now, _better(old.best, status))
    entries[name] = entry
    _write(path, entries)
    return entry


def _better(a: str, b: str) -> str:
    return a if _RANK.get(a, 0) >= _RANK.get(b, 0) else b


def reset(exercise: str | None = None) -> None:
    """Forget the result of one exercise, or of all of them (``None``)."""
    path = progress_file()
    entries, _ = _read(path)
    if exercise is None:
        entries = {}
    else:
        entries.pop(exercise_name(exercise), None)
    _write(path, entries)


def _write(path: Path, entries: dict[str, ExerciseResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "version": _VERSION,
        "exercises": {
            name: {k: v for k, v in asdict(e).items() if k != "exercise"}
            for name, e in sorted(entries.items())
        },
    }
    fd, tmp = tempfile.mkstemp(prefix=".progress-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def progress_text(
    exercises_dir: str | os.PathLike[str] | None = None, *, details: bool = False
) -> str:
    """The progress table as text (what ``python -m wslearn progress`` prints)."""
    return load(exercises_dir).to_text(details=details)


class _CallableModule(types.ModuleType):
    """Makes ``wslearn.progress()`` show the table while ``wslearn.progress.record`` works.

    ``wslearn/__init__`` exports the name ``progress`` lazily, and importing this submodule
    (checkers do) also binds ``wslearn.progress`` -- to the module. Whichever happens first,
    both now lead to this one module object, and calling it displays the table in a
    notebook (rich HTML in Jupyter, the text table elsewhere).
    """

    def __call__(self, exercises_dir: str | os.PathLike[str] | None = None) -> Progress:
        return load(exercises_dir)


sys.modules[__name__].__class__ = _CallableModule
#: The lazy export ``wslearn.progress`` resolves to this module itself (see above).
progress = sys.modules[__name__]
