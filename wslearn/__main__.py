"""``python -m wslearn`` (or the ``wslearn`` script): the course's command line.

Subcommands: ``start`` (your own copies of the exercises in ``my-work/``, never
overwritten), ``build`` (exercises from solutions), ``execute`` (refresh stored outputs),
``check`` (run an exercise and show its checkers' verdict), ``progress`` (the learner's
table), ``grade`` (a class's gradebook, see ``wslearn.grade``) and ``env`` (what is
installed where). Heavy imports (nbformat, nbclient) happen
inside the commands that need them, so ``progress`` and ``--help`` answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import progress as _progress

EPILOG = """\
examples:
  python -m wslearn lab              start + JupyterLab on the course (make lab)
  python -m wslearn start            copy the exercises you do not have yet to my-work/
  python -m wslearn build            regenerate exercises/ from solutions/  (make exercises)
  python -m wslearn build --check    exit 1 if exercises/ is out of date
  python -m wslearn execute notebooks solutions    refresh stored outputs  (make notebooks)
  python -m wslearn check exercises/03_backoff.ipynb   (or just: check 03)
  python -m wslearn progress         your pass / fail table
  python -m wslearn grade submissions/ --out gradebook --jobs 2   a class's gradebook
  python -m wslearn nbgrader course/  the course as an nbgrader assignment (source/)
"""


def cmd_build(args: argparse.Namespace) -> int:
    from .build import BuildError, Built, build

    def report(item: Built) -> None:
        for warning in item.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if args.check and item.status == "unchanged":
            return
        source = f" (from {_progress.display_path(item.solution)})" if item.solution else ""
        print(f"{item.status:>9}  {_progress.display_path(item.exercise)}{source}")
        if item.status == "edited":
            print(
                f"           {_progress.display_path(item.exercise)} was run and saved (it has "
                "outputs): someone's work, not checked. Learners work in my-work/ "
                "(`python -m wslearn start` copies exercises there, never overwriting).",
            )
        if item.saved_to is not None:
            print(f"           your edited copy was saved first: "
                  f"{_progress.display_path(item.saved_to)}")

    try:
        results = build(args.solutions, args.exercises, check=args.check, report=report)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    problems = [r for r in results if r.problem]
    if args.check:
        if problems:
            print(
                f"{len(problems)} exercise template(s) differ from what solutions/ generate. "
                "Instructors: `python -m wslearn build` (make exercises) regenerates "
                "exercises/ and commit the result; a run-and-saved exercise file is saved "
                "into my-work/ first, so no answer is lost.",
                file=sys.stderr,
            )
            return 1
        print(f"exercises up to date ({len(results)} checked)")
        return 0
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{len(results)} exercise(s): {summary or 'no solutions found'}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from .mywork import start

    started = start(settings=not args.no_settings)
    for line in started.lines():
        print(line)
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    """``make lab``: ``start``, then JupyterLab on the course root (replaces this process)."""
    from .mywork import lab_command, start

    for line in start().lines():
        print(line)
    command = lab_command(extra=args.jupyter_args)
    sys.stdout.flush()
    os.execv(command[0], command)
    return 0  # pragma: no cover - execv does not return


def cmd_execute(args: argparse.Namespace) -> int:
    from .execute import execute_paths, notebook_paths

    try:
        paths = notebook_paths(args.paths)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not paths:
        print("no notebooks found in " + ", ".join(args.paths))
        return 0
    results = execute_paths(
        paths,
        timeout=args.timeout,
        kernel=args.kernel,
        allow_errors=args.allow_errors,
        widget_state=args.widget_state,
    )
    failed = [r for r in results if not r.ok]
    print(f"{len(results)} notebook(s): {len(results) - len(failed)} ok, {len(failed)} failed")
    return 1 if failed else 0


def _exercise_path(target: str) -> Path:
    """A path as given, or an exercise name / number prefix: the learner's copy in
    my-work/ when there is one (that is where answers are typed), else exercises/."""
    path = Path(target)
    if path.is_file():
        return path
    root = _progress.course_root()
    name = _progress.exercise_name(target)
    for folder in (root / "my-work", root / "exercises"):
        found = sorted(
            p for p in folder.glob("*.ipynb") if p.stem == name or p.stem.startswith(name + "_")
        )
        if len(found) == 1:
            return found[0]
    folder = root / "exercises"
    matches = sorted(
        p for p in folder.glob("*.ipynb") if p.stem == name or p.stem.startswith(name + "_")
    )
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(_progress.list_exercises(folder)) or "none"
    what = "is ambiguous" if matches else "matches no notebook"
    raise FileNotFoundError(f"{target!r} {what} in {folder}; exercises: {known}")


def cmd_check(args: argparse.Namespace) -> int:
    from .build import BuildError, read_notebook
    from .execute import ExecutionFailed, run_notebook

    worst = 0
    for target in args.targets:
        try:
            path = _exercise_path(target)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            worst = max(worst, 2)
            continue
        name = _progress.exercise_name(path)
        runs_before = _progress.load().get(name).runs
        print(f"checking {_progress.display_path(path)} ... ", end="", flush=True)
        try:
            run_notebook(
                read_notebook(path),
                cwd=path.parent.resolve(),
                timeout=args.timeout,
                env={_progress.ENV_EXERCISE: name},
            )
            print("ran to the end")
        except (ExecutionFailed, BuildError) as exc:
            print(f"stopped: {exc}")
        state = _progress.load()
        entry = state.get(name)
        if entry.runs == runs_before:
            print(
                f"no checker result was recorded for {name}: the notebook has no "
                "wslearn.check(...) call yet, or it stopped before reaching one"
            )
            worst = max(worst, 1)
            continue
        print(state.to_text(only=[name]))
        if entry.status != "pass":
            worst = max(worst, 1)
    return worst


def cmd_progress(args: argparse.Namespace) -> int:
    if args.reset:
        _progress.reset()
        print(f"progress reset ({_progress.progress_file()})")
        return 0
    print(_progress.load(args.exercises).to_text(details=True))
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from .grade import GradeError, grade

    try:
        grade(args.submissions, args.out, jobs=args.jobs, timeout=args.timeout,
              exercises=args.exercise, fresh=args.fresh)  # fmt: skip
    except GradeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped: the running notebooks were killed; finished ones are cached, so the "
              "same command resumes", file=sys.stderr)
        return 130
    return 0


def cmd_nbgrader(args: argparse.Namespace) -> int:
    from .grade_nbgrader import write_course

    try:
        written = write_course(args.course, args.assignment, exercises=args.exercise,
                               out_of=args.points)  # fmt: skip
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {_progress.display_path(path)}")
    print(f"next: cd {args.course} && nbgrader generate_assignment {args.assignment} "
          "(see docs/workshop-nbgrader.md)")  # fmt: skip
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from importlib import metadata

    import wslearn

    ok = sys.version_info >= (3, 11)
    python = f"{sys.version.split()[0]} ({sys.executable})" + ("" if ok else " -- need 3.11+")
    home = "" if _progress.ENV_HOME in os.environ else " (WSLEARN_HOME unset)"
    rows = [
        ("python", python),
        ("wslearn", f"{getattr(wslearn, '__version__', '?')} ({Path(wslearn.__path__[0])})"),
        ("course root", str(_progress.course_root())),
        ("progress", f"{_progress.progress_file()}{home}"),
    ]
    packages = ("websockets", "ipywidgets", "ipykernel", "jupyterlab", "nbformat", "nbclient")
    for package in packages:
        try:
            rows.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((package, "MISSING -- run `make lab` or pip install -e ."))
            ok = False
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        kernels = sorted(KernelSpecManager().find_kernel_specs())
    except Exception as exc:  # report, never crash an environment check
        kernels = [f"error: {exc}"]
    if "python3" not in kernels:
        ok = False
    hint = "none -- python -m ipykernel install --sys-prefix"
    rows.append(("kernels", ", ".join(kernels) or hint))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslearn",
        description="wslearn course tools: build exercises, execute notebooks, check your work.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    p = sub.add_parser("start", help="copy the exercises to my-work/ (never overwrites)")
    p.add_argument("--no-settings", action="store_true",
                   help="do not write the course's JupyterLab settings overrides")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("lab", help="start, then JupyterLab on the course (make lab)")
    p.add_argument("jupyter_args", nargs="*", metavar="JUPYTER_ARGS",
                   help="passed on to jupyter lab (e.g. --port=8899 --no-browser)")
    p.set_defaults(func=cmd_lab)

    p = sub.add_parser("build", help="write exercises/ from solutions/ (one source)")
    p.add_argument("--check", action="store_true", help="only compare; exit 1 if out of date")
    p.add_argument("--solutions", metavar="DIR", help="default: <course root>/solutions")
    p.add_argument("--exercises", metavar="DIR", help="default: <course root>/exercises")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("execute", help="re-execute notebooks in place (stored outputs)")
    p.add_argument("paths", nargs="+", metavar="DIR_OR_FILE")
    p.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    p.add_argument("--kernel", default="python3", help="kernel name (default python3)")
    p.add_argument("--allow-errors", action="store_true", help="keep going and store errors")
    p.add_argument(
        "--widget-state", action="store_true", help="store widget state (not reproducible)"
    )
    p.set_defaults(func=cmd_execute)

    p = sub.add_parser("check", help="run an exercise notebook and show its checkers' result")
    p.add_argument("targets", nargs="+", metavar="EXERCISE", help="a path, a name or a number")
    p.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("progress", help="show your pass / fail table")
    p.add_argument("--exercises", metavar="DIR", help="default: <course root>/exercises")
    p.add_argument("--reset", action="store_true", help="forget every recorded result")
    p.set_defaults(func=cmd_progress)

    p = sub.add_parser("grade", help="grade a class: one folder per learner -> gradebook")
    p.add_argument("submissions", metavar="SUBMISSIONS",
                   help="a folder with one folder per learner holding their exercise notebooks")
    p.add_argument("--out", default="gradebook", metavar="DIR",
                   help="where gradebook.csv/.html and feedback/ go (default ./gradebook)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="notebooks run at once (default: number of CPU cores)")
    p.add_argument("--timeout", type=int, default=300, metavar="S",
                   help="seconds each notebook may take (default 300)")
    p.add_argument("--exercise", action="append", metavar="NAME",
                   help="grade only this exercise (repeatable; a name or number)")
    p.add_argument("--fresh", action="store_true",
                   help="run every notebook again (ignore results of the last run)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("nbgrader", help="write an nbgrader course's source notebooks")
    p.add_argument("course", metavar="COURSE_DIR", help="the nbgrader course folder")
    p.add_argument("--assignment", default="wslearn", help="assignment name (default wslearn)")
    p.add_argument("--points", type=float, default=10, help="points per exercise (default 10)")
    p.add_argument("--exercise", action="append", metavar="NN_name",
                   help="only this exercise (repeatable; e.g. 03 or 03_backoff)")
    p.set_defaults(func=cmd_nbgrader)

    p = sub.add_parser("env", help="show versions, paths and kernels (setup problems)")
    p.set_defaults(func=cmd_env)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``wslearn = "wslearn.__main__:main"``); returns the exit code."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and getattr(args, "func", None) is cmd_lab:
        args.jupyter_args = [*args.jupyter_args, *unknown]  # jupyter's own options
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
