"""The class gradebook: ``python -m wslearn grade SUBMISSIONS [--out DIR] [--jobs N]
[--timeout S]``.

``SUBMISSIONS`` holds one folder per learner with that learner's exercise notebooks,
named as in ``exercises/`` (``ada/03_backoff.ipynb``; deeper folders such as nbgrader's
``ada/ws/03_backoff.ipynb`` are searched too). Every notebook runs through the same
checkers as ``wslearn.check``, each in its own worker process and kernel
(``wslearn.grade_worker``), at most ``--jobs`` at once, each within ``--timeout``
seconds; a worker that overruns is killed with its whole process tree (kernel included).
A notebook that hangs, crashes its kernel or is not a notebook gets a failing row that
says why, and the batch goes on.

Written to ``--out`` (default ``./gradebook``; never into ``SUBMISSIONS``):

* ``gradebook.csv`` -- one row per learner x exercise: status, scenarios passed / total,
  partial credit (passed / total; 1 for a pass), the first failure in one line;
* ``gradebook.html`` -- the same as a table a person reads, failure details on demand;
* ``feedback/<learner>.html`` -- one page per learner, every scenario of every exercise;
* ``.cache/`` -- outcomes keyed by the notebook's bytes, the wslearn code and the time
  limit: a second run over unchanged submissions reuses them (``--fresh`` re-runs).

Why processes and not threads: a learner's code can block forever, exhaust memory or
``os._exit`` its kernel; only a process can be bounded and killed cleanly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEFAULT_TIMEOUT",
    "FAILING",
    "GradeError",
    "Gradebook",
    "Outcome",
    "Task",
    "find_tasks",
    "grade",
]

DEFAULT_TIMEOUT: Final = 300
#: Extra seconds a worker gets beyond the notebook's limit (kernel start-up, shutdown).
GRACE: Final = 20
#: Seconds without a finished notebook before the progress says what is still running.
STILL_RUNNING: Final = 30
#: Statuses that mean "the grader could not judge" rather than "the learner's code failed".
FAILING: Final = ("error", "timeout", "crashed", "malformed", "missing", "no check")
_NOT_CACHED: Final = ("grader error",)
_PACKAGE: Final = Path(__file__).resolve().parent


class GradeError(ValueError):
    """Bad input (no such folder, nothing to grade); the message says what to do."""


@dataclass(frozen=True)
class Task:
    """One learner's notebook for one exercise (``path`` is ``None`` when it is missing)."""

    learner: str
    exercise: str
    path: Path | None


@dataclass
class Outcome:
    """The grade of one learner x exercise.

    ``status``: ``pass``, ``fail``, ``not implemented`` (the checkers' verdicts), or why
    there is none: ``error`` (a cell raised before the check), ``timeout``, ``crashed``
    (the kernel died), ``malformed`` (not a notebook), ``missing``, ``no check`` (ran,
    never called ``wslearn.check``), ``grader error`` (our side; not cached).
    """

    learner: str
    exercise: str
    status: str
    passed: int = 0
    total: int = 0
    first_failure: str = ""
    reason: str = ""
    summary: str = ""
    hint: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    reused: bool = False

    @property
    def credit(self) -> float:
        """Partial credit in [0, 1]: 1 for a pass, else scenarios passed / counted."""
        if self.status == "pass":
            return 1.0
        if self.status in ("fail", "not implemented") and self.total:
            return round(self.passed / self.total, 2)
        return 0.0

    @property
    def label(self) -> str:
        return {"pass": "✓ pass", "fail": "✗ fail", "not implemented": "… not implemented"}.get(
            self.status, f"✗ {self.status}"
        )


@dataclass
class Gradebook:
    """Every outcome of a run, in learner then course order, and where it was written."""

    learners: list[str]
    exercises: list[str]
    outcomes: list[Outcome]
    out: Path
    seconds: float = 0.0

    def get(self, learner: str, exercise: str) -> Outcome:
        for o in self.outcomes:
            if o.learner == learner and o.exercise == exercise:
                return o
        raise KeyError((learner, exercise))

    def by_learner(self, learner: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.learner == learner]


# ---------------------------------------------------------------------------- finding work


def course_exercises() -> list[str]:
    """The exercise notebook names, in course order (``02_cleanup``, ``03_backoff`` ...)."""
    from .progress import list_exercises

    found = list_exercises()
    if found:
        return found
    from .checks import EXERCISES

    return sorted(EXERCISES.MODULES.values())


def resolve_exercises(names: Iterable[str] | None) -> list[str]:
    """``None`` -> every exercise; else each of ``backoff``, ``03`` or ``03_backoff``."""
    known = course_exercises()
    if not names:
        return known
    from .checks import EXERCISES

    chosen = []
    for name in names:
        try:
            notebook = EXERCISES.MODULES[EXERCISES.resolve(name)]
        except KeyError as exc:
            raise GradeError(str(exc).strip("'\"")) from None
        if notebook not in chosen:
            chosen.append(notebook)
    return [n for n in known if n in chosen] + [n for n in chosen if n not in known]


#: How deep below a learner's folder notebooks are looked for (nbgrader: 1 level).
SEARCH_DEPTH: Final = 3


def _find(folder: Path, exercise: str) -> Path | None:
    """``folder/<exercise>.ipynb``, else the shallowest match at most ``SEARCH_DEPTH``
    folders below it (nbgrader's ``<learner>/<assignment>/``). Bounded: a learner folder
    may be a whole home directory."""
    for depth in range(SEARCH_DEPTH + 1):
        matches = sorted(
            p for p in folder.glob("*/" * depth + f"{exercise}.ipynb")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )  # fmt: skip
        if matches:
            return matches[0]
    return None


def find_tasks(submissions: Path, exercises: Sequence[str]) -> tuple[list[str], list[Task]]:
    """The learners (folder names, sorted) and one task per learner x exercise."""
    if not submissions.is_dir():
        raise GradeError(
            f"{submissions}: no such folder; SUBMISSIONS holds one folder per learner, "
            "each with that learner's exercise notebooks (ada/03_backoff.ipynb, ...)"
        )
    learners = sorted(
        p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    )
    if not learners:
        loose = sorted(p.name for p in submissions.glob("*.ipynb"))
        extra = (
            f"; it has notebooks directly in it ({', '.join(loose[:3])}): put each learner's "
            "notebooks in a folder named after the learner"
            if loose
            else ""
        )
        raise GradeError(f"{submissions}: no learner folders found{extra}")
    tasks = [
        Task(learner, exercise, _find(submissions / learner, exercise))
        for learner in learners
        for exercise in exercises
    ]
    return learners, tasks


# ---------------------------------------------------------------------------- caching


def code_fingerprint() -> str:
    """A hash of the wslearn package's code: a changed checker invalidates cached grades."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*")):
        if path.suffix in (".py", ".js", ".html") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(_PACKAGE)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _cache_key(task: Task, data: bytes, timeout: int, fingerprint: str) -> str:
    digest = hashlib.sha256()
    for part in (task.exercise.encode(), str(timeout).encode(), fingerprint.encode(), data):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:32]


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------- running


def _kill_tree(pid: int) -> None:
    """Kill a worker and every process it started (its kernel runs in its own session)."""
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - ipykernel depends on psutil
        with contextlib.suppress(OSError):
            os.killpg(pid, 9)
        return
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=10)


class _Runner:
    """Runs workers, at most ``jobs`` at once; ``stop()`` kills every running one."""

    def __init__(self, timeout: int) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._started: dict[int, tuple[str, float]] = {}
        self._stopped = False

    def running(self) -> list[tuple[str, float]]:
        """``learner/exercise`` and seconds so far, for each notebook running now."""
        now = time.monotonic()
        with self._lock:
            return sorted((name, now - since) for name, since in self._started.values())

    def run(self, task: Task) -> Outcome:
        assert task.path is not None
        with tempfile.TemporaryDirectory(prefix="wslearn-gradebook-") as scratch:
            out = Path(scratch) / "outcome.json"
            log = Path(scratch) / "worker.log"
            command = [sys.executable, "-m", "wslearn.grade_worker", str(task.path),
                       task.exercise, str(out), "--timeout", str(self.timeout)]  # fmt: skip
            from .execute import kernel_env

            started = time.monotonic()
            with log.open("wb") as log_file:
                with self._lock:
                    if self._stopped:
                        return Outcome(task.learner, task.exercise, "grader error",
                                       reason="stopped before it ran")  # fmt: skip
                    proc = subprocess.Popen(
                        command, stdin=subprocess.DEVNULL, stdout=log_file,
                        stderr=subprocess.STDOUT, env=kernel_env(), start_new_session=True,
                    )  # fmt: skip
                    self._running.add(proc)
                    self._started[proc.pid] = (f"{task.learner}/{task.exercise}", started)
                try:
                    proc.wait(self.timeout + GRACE)
                    killed = False
                except subprocess.TimeoutExpired:
                    _kill_tree(proc.pid)
                    proc.wait()
                    killed = True
                finally:
                    with self._lock:
                        self._running.discard(proc)
                        self._started.pop(proc.pid, None)
            seconds = round(time.monotonic() - started, 1)
            if killed:
                reason = (f"did not finish within the {self.timeout} s limit "
                          "(stopped; a cell may wait forever or loop)")  # fmt: skip
                return Outcome(task.learner, task.exercise, "timeout", reason=reason,
                               first_failure=reason, seconds=seconds)  # fmt: skip
            try:
                data = json.loads(out.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                tail = " ".join(log.read_text(errors="replace").split()[-40:])
                status = "crashed" if proc.returncode and proc.returncode < 0 else "grader error"
                reason = (f"the worker ended with exit code {proc.returncode} and no verdict"
                          + (f": {tail}" if tail else ""))[:300]  # fmt: skip
                return Outcome(task.learner, task.exercise, status, reason=reason,
                               first_failure=reason, seconds=seconds)  # fmt: skip
        known = {f for f in Outcome.__dataclass_fields__ if f not in ("learner", "exercise")}
        fields = {k: v for k, v in data.items() if k in known}
        fields["seconds"] = seconds
        return Outcome(task.learner, task.exercise, **fields)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for proc in running:
            _kill_tree(proc.pid)


def _malformed(path: Path) -> str | None:
    """Why ``path`` is not a notebook we can run, or ``None``."""
    from .build import BuildError, read_notebook

    try:
        read_notebook(path)
    except BuildError as exc:
        text = " ".join(str(exc).replace(str(path), path.name).split())
        return text if len(text) <= 240 else text[:237] + "..."
    return None


def _progress_line(done: int, total: int, o: Outcome) -> str:
    width = len(str(total))
    counts = f" {o.passed}/{o.total}" if o.total else ""
    how = " (reused)" if o.reused else "" if not o.seconds else f" ({o.seconds:.1f} s)"
    why = f" -- {o.first_failure}" if o.status != "pass" and o.first_failure else ""
    if len(why) > 100:
        why = why[:97] + "..."
    return f"[{done:>{width}}/{total}] {o.learner}/{o.exercise}: {o.status}{counts}{how}{why}"


def grade(
    submissions: str | os.PathLike[str],
    out: str | os.PathLike[str] = "gradebook",
    *,
    jobs: int | None = None,
    timeout: int = DEFAULT_TIMEOUT,
    exercises: Iterable[str] | None = None,
    fresh: bool = False,
    echo: Callable[[str], Any] = print,
) -> Gradebook:
    """Grade every learner folder in ``submissions``; write the reports into ``out``.

    ``jobs``: notebooks at once (default: the number of CPU cores). ``timeout``: seconds
    per notebook. ``exercises``: a subset (names or numbers). ``fresh``: ignore cached
    outcomes. ``echo`` receives one progress line per notebook and the summary.
    """
    from .grade_report import summary, write_reports

    if timeout < 1:
        raise GradeError(f"--timeout {timeout}: give the seconds per notebook, at least 1")
    jobs = jobs if jobs is not None else (os.cpu_count() or 2)
    if jobs < 1:
        raise GradeError(f"--jobs {jobs}: give how many notebooks run at once, at least 1")
    submissions, out = Path(submissions), Path(out)
    names = resolve_exercises(exercises)
    learners, tasks = find_tasks(submissions, names)
    if out.resolve().is_relative_to(submissions.resolve()):
        raise GradeError(
            f"--out {out} is inside SUBMISSIONS; write the gradebook elsewhere "
            "(learner folders are only read, never written)"
        )
    started = time.monotonic()
    fingerprint = code_fingerprint()
    cache = out / ".cache"
    results: dict[Task, Outcome] = {}
    pending: list[tuple[Task, Path]] = []
    done = 0
    for task in tasks:
        if task.path is None:
            reason = f"no {task.exercise}.ipynb in {task.learner}/"
            results[task] = Outcome(task.learner, task.exercise, "missing", reason=reason,
                                    first_failure=reason)  # fmt: skip
            continue
        malformed = _malformed(task.path)
        if malformed:  # no process needed to say so
            results[task] = Outcome(task.learner, task.exercise, "malformed", reason=malformed,
                                    first_failure=malformed)  # fmt: skip
            continue
        key = _cache_key(task, task.path.read_bytes(), timeout, fingerprint)
        entry = cache / f"{key}.json"
        if not fresh and entry.is_file():
            try:
                data = json.loads(entry.read_text(encoding="utf-8"))
                data.update(learner=task.learner, exercise=task.exercise, reused=True)
                results[task] = Outcome(**data)
                continue
            except (OSError, ValueError, TypeError):
                pass  # a damaged cache entry: run it again
        pending.append((task, entry))
    total = len(tasks)
    distinct = len({entry for _, entry in pending})
    echo(f"grading {len(learners)} learner(s) x {len(names)} exercise(s) = {total} notebook(s): "
         f"{distinct} to run, {jobs} at once, at most {timeout} s each; "
         f"{total - len(pending)} missing, malformed or unchanged since the last run")  # fmt: skip
    for task in tasks:
        if task in results:
            done += 1
            echo(_progress_line(done, total, results[task]))

    runner = _Runner(timeout)
    try:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="wslearn-grade") as pool:
            # Identical notebooks (typically untouched exercises) run once per batch.
            same: dict[Path, list[Task]] = {}
            for task, entry in pending:
                same.setdefault(entry, []).append(task)
            futures: dict[Future[Outcome], tuple[Task, Path]] = {
                pool.submit(runner.run, group[0]): (group[0], entry)
                for entry, group in same.items()
            }
            remaining = set(futures)
            last_line = time.monotonic()
            try:
                while remaining:
                    finished, remaining = wait(remaining, timeout=1.0, return_when=FIRST_COMPLETED)
                    if not finished and time.monotonic() - last_line >= STILL_RUNNING:
                        busy = ", ".join(f"{n} ({s:.0f} s)" for n, s in runner.running())
                        echo(f"  ... still running: {busy}" if busy else "  ... starting")
                        last_line = time.monotonic()
                    for future in finished:
                        task, entry = futures[future]
                        try:
                            outcome = future.result()
                        except Exception as exc:  # our bug: one row, not the batch
                            outcome = Outcome(task.learner, task.exercise, "grader error",
                                              reason=f"{type(exc).__name__}: {exc}")  # fmt: skip
                        data = asdict(outcome)
                        for k in ("learner", "exercise", "reused"):
                            data.pop(k)
                        if outcome.status not in _NOT_CACHED:
                            _write_atomic(entry, json.dumps(data, ensure_ascii=False))
                        for twin in same[entry]:
                            results[twin] = (outcome if twin is task else
                                             Outcome(twin.learner, twin.exercise, **data))
                            done += 1
                            echo(_progress_line(done, total, results[twin]))
                        last_line = time.monotonic()
            except BaseException:
                runner.stop()
                for future in remaining:
                    future.cancel()
                raise
    finally:
        runner.stop()
    book = Gradebook(learners, names, [results[t] for t in tasks], out,
                     round(time.monotonic() - started, 1))  # fmt: skip
    write_reports(book)
    echo(summary(book))
    return book
