"""The command line (``python -m wslearn``), the progress file and notebook execution."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import wslearn.execute as execute_mod
from wslearn import progress
from wslearn.__main__ import main
from wslearn.build import BEGIN, END, dumps
from wslearn.execute import ExecutionFailed, clean, execute_paths, notebook_paths

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def progress_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own progress file (never the learner's .wslearn/)."""
    home = tmp_path / "home"
    monkeypatch.setenv("WSLEARN_HOME", str(home))
    monkeypatch.delenv("WSLEARN_EXERCISE", raising=False)
    return home


def write(path: Path, nb: nbformat.NotebookNode) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    for index, cell in enumerate(nb.cells):
        cell.id = f"c{index}"
    path.write_text(dumps(nb), encoding="utf-8")
    return path


# -- help ---------------------------------------------------------------------------------


def test_no_arguments_prints_help_listing_the_subcommands(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("build", "execute", "check", "progress", "env"):
        assert f"    {command} " in out
    assert "make exercises" in out


def test_python_dash_m_wslearn_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wslearn", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "python -m wslearn" in done.stdout and "progress" in done.stdout


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# -- build --------------------------------------------------------------------------------


def test_a_run_and_saved_exercise_is_never_lost_nor_fails_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    write(
        solutions / "03_backoff.ipynb",
        new_notebook(cells=[new_code_cell(f"def f():\n    {BEGIN}\n    return 1\n    {END}")]),
    )
    dirs = ["--solutions", str(solutions), "--exercises", str(exercises)]
    assert main(["build", *dirs]) == 0
    # a learner types an answer into the template and runs it
    path = exercises / "03_backoff.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][0]["source"] = "def f():\n    return 42\n"
    nb["cells"][0]["execution_count"] = 1
    edited = json.dumps(nb)
    path.write_text(edited)
    capsys.readouterr()

    assert main(["build", "--check", *dirs]) == 0  # someone's work: reported, not failed
    out = capsys.readouterr().out
    assert "edited" in out and "my-work/" in out

    assert main(["build", *dirs]) == 0  # regenerates, but saves the answer first
    out = capsys.readouterr().out
    saved = tmp_path / "my-work" / "03_backoff.ipynb"
    assert saved.read_text() == edited and "saved first" in out
    path.write_text(edited)
    assert main(["build", *dirs]) == 0  # never overwrites the first saved copy
    assert saved.read_text() == edited
    assert (tmp_path / "my-work" / "03_backoff.saved-1.ipynb").read_text() == edited


def test_start_copies_missing_exercises_and_never_overwrites(tmp_path: Path) -> None:
    from wslearn.mywork import start

    (tmp_path / "exercises").mkdir()
    for name in ("02_cleanup", "03_backoff"):
        (tmp_path / "exercises" / f"{name}.ipynb").write_text(f"template {name}")
    (tmp_path / "my-work").mkdir()
    (tmp_path / "my-work" / "03_backoff.ipynb").write_text("my answers")
    started = start(tmp_path, settings=False)
    assert started.copied == ("02_cleanup.ipynb",) and started.kept == ("03_backoff.ipynb",)
    assert (tmp_path / "my-work" / "03_backoff.ipynb").read_text() == "my answers"
    assert (tmp_path / "my-work" / "02_cleanup.ipynb").read_text() == "template 02_cleanup"
    assert start(tmp_path, settings=False).copied == ()


def test_lab_overrides_turn_news_off_and_keep_other_settings(tmp_path: Path) -> None:
    from wslearn.mywork import lab_overrides

    path = tmp_path / "share/jupyter/lab/settings/overrides.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/x:y": {"a": 1}}))
    assert "off" in lab_overrides(tmp_path)
    data = json.loads(path.read_text())
    assert data["@jupyterlab/x:y"] == {"a": 1}
    assert data["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert lab_overrides(tmp_path) == ""  # already there: nothing rewritten


def test_build_check_exits_1_listing_stale_files(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    write(
        solutions / "03_backoff.ipynb",
        new_notebook(cells=[new_code_cell(f"def f():\n    {BEGIN}\n    return 1\n    {END}")]),
    )
    dirs = ["--solutions", str(solutions), "--exercises", str(exercises)]

    assert main(["build", "--check", *dirs]) == 1
    captured = capsys.readouterr()
    assert "missing" in captured.out and "03_backoff.ipynb" in captured.out
    assert "`python -m wslearn build`" in captured.err

    assert main(["build", *dirs]) == 0
    assert "1 exercise(s): 1 written" in capsys.readouterr().out
    assert main(["build", "--check", *dirs]) == 0
    assert "exercises up to date (1 checked)" in capsys.readouterr().out

    write(solutions / "03_backoff.ipynb", new_notebook(cells=[new_code_cell("x = 2")]))
    assert main(["build", "--check", *dirs]) == 1
    out = capsys.readouterr().out
    assert "stale" in out and "03_backoff.ipynb" in out


def test_build_errors_are_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    solutions = tmp_path / "solutions"
    write(solutions / "01_x.ipynb", new_notebook(cells=[new_code_cell(f"{BEGIN}\nx = 1\n")]))
    assert main(["build", "--solutions", str(solutions), "--exercises", str(tmp_path / "e")]) == 1
    assert "never closed" in capsys.readouterr().err


# -- progress -----------------------------------------------------------------------------


def exercises_dir(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "exercises"
    for name in names:
        write(folder / f"{name}.ipynb", new_notebook())
    return folder


def test_progress_table_lists_every_exercise_with_a_bar(tmp_path: Path) -> None:
    folder = exercises_dir(tmp_path, "00_start", "03_backoff", "05_heartbeat", "06_handlers")
    progress.record("exercises/03_backoff.ipynb", "pass", "all 4 checks passed")
    progress.record("05_heartbeat", "fail", "no pong timeout:\n the client stayed connected")
    progress.record("00_start", "not-started")

    assert progress.progress_text(folder) == (
        "exercise      best         last         summary\n"
        "00_start      not started  not started\n"
        "03_backoff    pass         pass         all 4 checks passed\n"
        "05_heartbeat  fail         fail         no pong timeout: the client stayed connected\n"
        "06_handlers   not started  not started\n"
        "[#---] 1/4 passed"
    )
    state = progress.load(folder)
    assert state.get("03_backoff").runs == 1 and state.passed == 1 and state.total == 4
    detailed = state.to_text(details=True)
    assert "runs" in detailed and "last run" in detailed and "Z" in detailed
    assert "2 0" not in progress.progress_text(folder), "no wall-clock times unless asked"
    html = state._repr_html_()
    assert "<progress value='1' max='4'>" in html and "no pong timeout" in html


def test_a_passed_exercise_stays_passed_and_shows_the_last_run(progress_home: Path) -> None:
    progress.record("03_backoff", "fail", "first try")
    progress.record("03_backoff", "pass", "all passed")
    progress.record("03_backoff", "fail", "an experiment")
    state = progress.load()
    entry = state.get("03_backoff")
    assert (entry.best, entry.status) == ("pass", "fail") and state.passed == 1
    assert re.search(r"03_backoff +pass +fail +an experiment", state.to_text())


def test_progress_file_lives_in_wslearn_home(progress_home: Path) -> None:
    entry = progress.record("03_backoff", "fail", "x")
    progress.record("03_backoff", "pass", "y")
    data = json.loads((progress_home / "progress.json").read_text())
    assert data["version"] == 1
    assert data["exercises"]["03_backoff"]["runs"] == 2
    assert data["exercises"]["03_backoff"]["status"] == "pass"
    assert entry.status == "fail"
    progress.reset("03_backoff")
    assert progress.load().entries == {}


def test_progress_rejects_bad_status_and_survives_a_corrupt_file(progress_home: Path) -> None:
    with pytest.raises(ValueError, match="pass, fail, not-started"):
        progress.record("03_backoff", "passed")
    progress_home.mkdir(parents=True)
    (progress_home / "progress.json").write_text("{oops", encoding="utf-8")
    state = progress.load()
    assert state.entries == {} and "unreadable" in state.to_text()
    progress.record("03_backoff", "pass")
    assert (progress_home / "progress.json.bad").read_text() == "{oops"
    assert progress.load().get("03_backoff").status == "pass"


def test_exercise_names_and_the_current_exercise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert progress.exercise_name("exercises/03_backoff.ipynb") == "03_backoff"
    assert progress.exercise_name(Path("03_backoff")) == "03_backoff"
    with pytest.raises(ValueError, match="use the notebook's name"):
        progress.exercise_name(" ")
    assert progress.current_exercise("fallback") == "fallback"
    monkeypatch.setenv("WSLEARN_EXERCISE", "03_backoff")
    assert progress.current_exercise("fallback") == "03_backoff"


def test_wslearn_progress_is_callable_and_a_module() -> None:
    import wslearn

    assert wslearn.progress is progress
    assert isinstance(wslearn.progress(), progress.Progress)
    assert wslearn.progress.record is progress.record


def test_progress_command_prints_details(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = exercises_dir(tmp_path, "01_a", "02_b")
    progress.record("01_a", "pass", "fine")
    assert main(["progress", "--exercises", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "01_a      pass" in out and "[#-] 1/2 passed" in out
    assert main(["progress", "--reset"]) == 0
    assert progress.load().entries == {}


# -- execute and check (fake runner) ------------------------------------------------------


def fake_runner(fail_on: str | None = None):
    """Stands in for nbclient: 'executes' by numbering the code cells."""

    def run(nb, *, cwd, **options):
        for count, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), 1):
            if fail_on and fail_on in cell.source:
                raise ExecutionFailed(f"cell {count}: ZeroDivisionError: division by zero", nb)
            cell.execution_count = count
        return nb

    return run


def test_execute_prints_progress_and_rewrites_only_successes(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    good = write(tmp_path / "nb" / "01_good.ipynb", new_notebook(cells=[new_code_cell("1")]))
    bad = write(tmp_path / "nb" / "02_bad.ipynb", new_notebook(cells=[new_code_cell("1/0")]))
    bad_before = bad.read_bytes()

    results = execute_paths(notebook_paths([tmp_path / "nb"]), runner=fake_runner("1/0"))

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[1/2] ") and out[0].endswith(
        "01_good.ipynb ... ok (1 code cells, rewritten)"
    )
    assert out[1].endswith("02_bad.ipynb ... FAILED: cell 1: ZeroDivisionError: division by zero")
    assert [r.ok for r in results] == [True, False]
    assert json.loads(good.read_text())["cells"][0]["execution_count"] == 1
    assert bad.read_bytes() == bad_before, "a failed notebook keeps its old outputs"


def test_execute_command_exit_code_and_bad_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(execute_mod, "run_notebook", fake_runner("boom"))
    path = write(tmp_path / "a.ipynb", new_notebook(cells=[new_code_cell("boom")]))
    write(tmp_path / "b.ipynb", new_notebook(cells=[new_code_cell("fine")]))
    assert main(["execute", str(path), str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "2 notebook(s): 1 ok, 1 failed"
    assert main(["execute", str(tmp_path / "missing")]) == 2
    assert "not a notebook or a folder" in capsys.readouterr().err
    assert notebook_paths([path, tmp_path]) == [path, tmp_path / "b.ipynb"], "a.ipynb runs once"


def test_check_runs_the_notebook_and_shows_the_recorded_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(nb, *, cwd, env, **options):
        # what a checker inside the kernel does: file the result under $WSLEARN_EXERCISE
        assert Path(cwd) == (tmp_path / "exercises").resolve()
        monkeypatch.setenv("WSLEARN_EXERCISE", env["WSLEARN_EXERCISE"])
        name = progress.current_exercise()
        if "pass" in nb.cells[0].source:
            progress.record(name, "pass", "3/3 checks passed")
        elif "fail" in nb.cells[0].source:
            progress.record(name, "fail", "delay(3) returned 8, expected 4")
        return nb

    monkeypatch.setattr(execute_mod, "run_notebook", run)
    folder = tmp_path / "exercises"
    write(folder / "03_backoff.ipynb", new_notebook(cells=[new_code_cell("# pass")]))
    write(folder / "04_limit.ipynb", new_notebook(cells=[new_code_cell("# fail")]))
    write(folder / "05_beat.ipynb", new_notebook(cells=[new_markdown_cell("no checks")]))
    monkeypatch.chdir(tmp_path)

    assert main(["check", "exercises/03_backoff.ipynb"]) == 0
    out = capsys.readouterr().out
    assert "checking exercises/03_backoff.ipynb ... ran to the end" in out
    assert "03_backoff  pass  pass  3/3 checks passed" in out

    assert main(["check", "04"]) == 1, "a number finds exercises/04_*.ipynb"
    assert "delay(3) returned 8, expected 4" in capsys.readouterr().out

    assert main(["check", "05_beat"]) == 1
    assert "no checker result was recorded for 05_beat" in capsys.readouterr().out

    assert main(["check", "99"]) == 2
    assert "matches no notebook" in capsys.readouterr().err


def test_clean_drops_timing_and_widget_state() -> None:
    cell = new_code_cell("1", metadata={"tags": []})
    cell.metadata["execution"] = {"iopub.status.busy": "2025-01-01T00:00:00.000Z"}
    nb = new_notebook(cells=[cell])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    clean(nb)
    assert nb.cells[0].metadata == {"tags": []} and "widgets" not in nb.metadata
    nb.metadata["widgets"] = {}
    assert "widgets" in clean(nb, widget_state=True).metadata


# -- one real kernel ----------------------------------------------------------------------


def test_execute_runs_a_real_kernel_in_the_notebook_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One kernel start: cwd, PYTHONPATH (import wslearn), env, clean outputs, and the
    checkers' records going to a throwaway home instead of the progress file."""
    monkeypatch.setenv("WSLEARN_EXERCISE", "99_kernel")
    folder = tmp_path / "chapter"
    path = write(
        folder / "01_tiny.ipynb",
        new_notebook(
            cells=[
                new_markdown_cell("# tiny"),
                new_code_cell("import os\nprint(os.path.basename(os.getcwd()))"),
                new_code_cell("print('a', flush=True)\nprint('b')"),
                new_code_cell(
                    "from wslearn import progress\n"
                    "entry = progress.record(progress.current_exercise(), 'pass', 'kernel')\n"
                    "(entry.exercise, progress.progress_file().parent.name.startswith("
                    "'wslearn-home-'))"
                ),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
    )

    assert main(["execute", str(folder)]) == 0

    out = capsys.readouterr().out
    assert "[1/1] " in out and "01_tiny.ipynb ... ok (3 code cells, rewritten)" in out
    nb = json.loads(path.read_text(encoding="utf-8"))
    cwd_cell, stream_cell, record_cell = nb["cells"][1:]
    assert cwd_cell["outputs"][0]["text"] == ["chapter\n"]
    assert len(stream_cell["outputs"]) == 1, "consecutive prints coalesced into one output"
    assert stream_cell["outputs"][0]["text"] == ["a\n", "b\n"]
    assert record_cell["outputs"][0]["data"]["text/plain"] == ["('99_kernel', True)"]
    assert [c.get("execution_count") for c in nb["cells"][1:]] == [1, 2, 3]
    assert all("execution" not in c["metadata"] for c in nb["cells"])
    assert "widgets" not in nb["metadata"]
    assert [c["id"] for c in nb["cells"]] == ["c0", "c1", "c2", "c3"]
    assert progress.load().entries == {}, "execute never touches the progress file"


def test_lab_command_serves_the_course_root_and_lands_on_chapter_00(tmp_path: Path) -> None:
    from wslearn.mywork import lab_command

    command = lab_command(tmp_path, ["--port=8899"])
    assert command[1:3] == ["-m", "wslearn.lab"]  # jupyter lab + the course's styles
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in command
    assert "--LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb" in command
    assert command[-1] == "--port=8899"
