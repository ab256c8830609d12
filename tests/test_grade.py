"""The class gradebook (``python -m wslearn grade``): real worker processes, real kernels,
the real checkers, over a made-up class whose learners pass, fail partly, never start,
hang, crash their kernel, hand in a broken file or nothing at all."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import nbformat
import psutil
import pytest

from wslearn import grade as grade_mod
from wslearn.__main__ import main
from wslearn.checks import CheckResult, Row
from wslearn.grade import Gradebook, GradeError, Outcome, Task, find_tasks, grade
from wslearn.grade_export import ENV_RESULT, export, to_dict
from wslearn.grade_report import feedback_name, to_csv, to_html

ROOT = Path(__file__).resolve().parent.parent


def _notebook(source: Path) -> nbformat.NotebookNode:
    return nbformat.read(source, as_version=4)


def _insert_before_check(nb: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    index = next(i for i, c in enumerate(nb.cells) if "wslearn.check(" in c.source)
    cell = nbformat.v4.new_code_cell(code)
    cell.id = "inserted"
    nb.cells.insert(index, cell)
    return nb


def _save(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _partly_wrong_backoff() -> nbformat.NotebookNode:
    nb = _notebook(ROOT / "solutions" / "03_backoff.ipynb")
    for cell in nb.cells:
        if "min(30.0, 2.0 ** (attempt - 1))" in cell.source:  # forgets the 30 s cap
            cell.source = cell.source.replace("min(30.0, 2.0 ** (attempt - 1))",
                                              "2.0 ** (attempt - 1)")  # fmt: skip
            return nb
    raise AssertionError("the backoff solution changed: update this test's mutation")


@pytest.fixture
def classroom(tmp_path: Path) -> Path:
    """Six learners (ada, bob, cy, dan, eve, fay), exercises 03 and 06."""
    subs = tmp_path / "submissions"
    sol, ex = ROOT / "solutions", ROOT / "exercises"
    _save(_notebook(sol / "03_backoff.ipynb"), subs / "ada" / "03_backoff.ipynb")
    _save(_notebook(sol / "06_handlers.ipynb"), subs / "ada" / "06_handlers.ipynb")
    _save(_partly_wrong_backoff(), subs / "bob" / "03_backoff.ipynb")
    # nbgrader's layout: submitted/<learner>/<assignment>/<notebook>
    _save(_notebook(ex / "06_handlers.ipynb"), subs / "bob" / "wslearn" / "06_handlers.ipynb")
    crash = _insert_before_check(_notebook(sol / "03_backoff.ipynb"), "import os\nos._exit(1)")
    _save(crash, subs / "cy" / "03_backoff.ipynb")
    (subs / "cy" / "06_handlers.ipynb").write_text('{"cells": [', encoding="utf-8")
    hang = _insert_before_check(_notebook(ex / "06_handlers.ipynb"),
                                "import time\nwhile True:\n    time.sleep(0.2)")  # fmt: skip
    _save(hang, subs / "dan" / "06_handlers.ipynb")  # and no 03 at all
    oops = _insert_before_check(_notebook(sol / "06_handlers.ipynb"), "raise ValueError('oops')")
    _save(oops, subs / "eve" / "06_handlers.ipynb")
    # fay never started 06 either: the same bytes as bob's, graded once for both
    _save(_notebook(ex / "06_handlers.ipynb"), subs / "fay" / "06_handlers.ipynb")
    return subs


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_class_is_graded_and_a_second_run_reuses_the_results(classroom, tmp_path, capsys):
    out = tmp_path / "book"
    before = _children()
    code = main(["grade", str(classroom), "--out", str(out), "--jobs", "2", "--timeout", "25",
                 "--exercise", "03", "--exercise", "handlers"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "[12/12]" in printed and "graded 12 notebook(s)" in printed
    assert "7 to run" in printed  # 12 - 3 missing - 1 malformed - 1 identical twin
    assert _children() <= before, "a worker or kernel outlived the run"

    with (out / "gradebook.csv").open(encoding="utf-8") as f:
        rows = {(r["learner"], r["exercise"]): r for r in csv.DictReader(f)}
    assert len(rows) == 12
    assert rows["fay", "06_handlers"]["status"] == "not implemented"
    ada = rows["ada", "03_backoff"]
    assert (ada["status"], ada["credit"], ada["first_failure"]) == ("pass", "1.00", "")
    assert int(ada["passed"]) == int(ada["total"]) > 0
    assert rows["ada", "06_handlers"]["status"] == "pass"
    bob = rows["bob", "03_backoff"]
    assert bob["status"] == "fail"
    assert 0 < int(bob["passed"]) < int(bob["total"])
    assert 0 < float(bob["credit"]) < 1
    assert "backoff_delay" in bob["first_failure"] and "\n" not in bob["first_failure"]
    stub = rows["bob", "06_handlers"]  # found one folder down
    assert (stub["status"], stub["credit"]) == ("not implemented", "0.00")
    assert rows["cy", "03_backoff"]["status"] == "crashed"
    assert "kernel died" in rows["cy", "03_backoff"]["first_failure"]
    assert rows["cy", "06_handlers"]["status"] == "malformed"
    assert rows["dan", "06_handlers"]["status"] == "timeout"
    assert "25 s" in rows["dan", "06_handlers"]["first_failure"]
    assert rows["dan", "03_backoff"]["status"] == "missing"
    eve = rows["eve", "06_handlers"]
    assert eve["status"] == "error" and "ValueError: oops" in eve["first_failure"]

    page = (out / "gradebook.html").read_text(encoding="utf-8")
    assert "<details>" in page and "feedback/bob.html" in page
    for learner in ("ada", "bob", "cy", "dan", "eve", "fay"):
        assert (out / "feedback" / f"{learner}.html").is_file()
    feedback = (out / "feedback" / "bob.html").read_text(encoding="utf-8")
    assert "expected" in feedback and "hint" in feedback
    assert not any(p.name.endswith(".ipynb") for p in out.rglob("*"))
    assert sorted(p.name for p in (classroom / "ada").iterdir()) == [
        "03_backoff.ipynb", "06_handlers.ipynb"]  # fmt: skip  (submissions only read)

    # unchanged submissions: nothing runs again; a changed one runs alone
    fixed = _notebook(ROOT / "solutions" / "03_backoff.ipynb")
    fixed.cells.append(nbformat.v4.new_markdown_cell("Fixed the cap.", id="bob-note"))
    _save(fixed, classroom / "bob" / "03_backoff.ipynb")
    book = grade(classroom, out, jobs=2, timeout=25, exercises=["03", "06"], echo=lambda _: None)
    ran = [(o.learner, o.exercise) for o in book.outcomes if not o.reused and o.status != "missing"
           and o.status != "malformed"]  # fmt: skip
    assert ran == [("bob", "03_backoff")]
    assert book.get("bob", "03_backoff").status == "pass"
    assert book.get("dan", "06_handlers").status == "timeout"  # reused too


@pytest.mark.slow
def test_a_worker_that_overruns_is_killed_with_its_kernel(tmp_path, monkeypatch):
    """The parent's own limit (the backstop behind nbclient's per-cell timeout)."""
    subs = tmp_path / "subs"
    hang = _insert_before_check(_notebook(ROOT / "exercises" / "03_backoff.ipynb"),
                                "import time\nwhile True:\n    time.sleep(0.2)")  # fmt: skip
    _save(hang, subs / "eve" / "03_backoff.ipynb")
    monkeypatch.setattr(grade_mod, "GRACE", 0)
    before = _children()
    book = grade(subs, tmp_path / "out", jobs=1, timeout=2, exercises=["03"], fresh=True,
                 echo=lambda _: None)  # fmt: skip
    outcome = book.get("eve", "03_backoff")
    assert outcome.status == "timeout"
    assert "2 s" in outcome.reason
    assert _children() <= before


# ---------------------------------------------------------------- fast unit tests


def test_bad_input_gets_a_clear_error(tmp_path):
    with pytest.raises(GradeError, match="no such folder"):
        find_tasks(tmp_path / "nope", ["03_backoff"])
    (tmp_path / "03_backoff.ipynb").write_text("{}")
    with pytest.raises(GradeError, match="folder named after the learner"):
        find_tasks(tmp_path, ["03_backoff"])
    (tmp_path / "ada").mkdir()
    with pytest.raises(GradeError, match="inside SUBMISSIONS"):
        grade(tmp_path, tmp_path / "ada" / "out", echo=lambda _: None)
    with pytest.raises(GradeError, match="no exercise called"):
        grade(tmp_path, tmp_path.parent / "out", exercises=["nope"], echo=lambda _: None)
    assert main(["grade", str(tmp_path / "nope")]) == 2


def test_tasks_list_every_learner_and_exercise(tmp_path):
    (tmp_path / "zoe").mkdir()
    (tmp_path / "ada" / "deep").mkdir(parents=True)
    (tmp_path / "ada" / "deep" / "03_backoff.ipynb").write_text("{}")
    (tmp_path / ".hidden").mkdir()
    too_deep = tmp_path / "zoe" / "a" / "b" / "c" / "d"  # deeper than SEARCH_DEPTH
    too_deep.mkdir(parents=True)
    (too_deep / "02_cleanup.ipynb").write_text("{}")
    learners, tasks = find_tasks(tmp_path, ["02_cleanup", "03_backoff"])
    assert learners == ["ada", "zoe"]
    assert [(t.learner, t.exercise, t.path is not None) for t in tasks] == [
        ("ada", "02_cleanup", False), ("ada", "03_backoff", True),
        ("zoe", "02_cleanup", False), ("zoe", "03_backoff", False)]  # fmt: skip


def test_the_export_hook_writes_one_json_line_per_check(tmp_path, monkeypatch):
    result = CheckResult("backoff", [Row("a", "pass"), Row("b", "fail", "x" * 10_000),
                                     Row("c", "skip")], status="fail", hint="h")  # fmt: skip
    monkeypatch.delenv(ENV_RESULT, raising=False)
    assert export(result) is False
    target = tmp_path / "r.jsonl"
    monkeypatch.setenv(ENV_RESULT, str(target))
    assert export(result, "03_backoff") and export(result, "03_backoff")
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert len(lines) == 2
    data = lines[0]
    assert (data["status"], data["passed"], data["total"], data["notebook"]) == (
        "fail", 1, 2, "03_backoff")  # fmt: skip
    assert len(data["rows"][1]["detail"]) <= 4000
    assert to_dict(object())["rows"] == []  # tolerant of a reworked result object


def test_wslearn_check_exports_when_the_variable_is_set(tmp_path, monkeypatch):
    import wslearn

    target = tmp_path / "r.jsonl"
    monkeypatch.setenv(ENV_RESULT, str(target))
    monkeypatch.setenv("WSLEARN_HOME", str(tmp_path / "home"))

    def backoff_delay(attempt: int) -> float:
        raise NotImplementedError

    async def keep_connected(url, connect, on_message) -> None:
        raise NotImplementedError

    wslearn.check("backoff", backoff_delay, keep_connected, real=False)
    (line,) = target.read_text().splitlines()
    assert json.loads(line)["status"] == "not implemented"


def _book(tmp_path: Path) -> Gradebook:
    evil = "<script>alert(1)</script>"
    outcomes = [
        Outcome("ada", "03_backoff", "pass", 5, 5),
        Outcome(
            evil, "03_backoff", "fail", 2, 4, first_failure=f"drops: {evil}",
            rows=[{"name": "drops", "status": "fail", "detail": evil, "expected": "1",
                   "actual": "2"}], hint="read the table",
        ),
    ]
    return Gradebook(["ada", evil], ["03_backoff"], outcomes, tmp_path)


def test_reports_escape_learner_text_and_keep_one_line_per_cell(tmp_path):
    book = _book(tmp_path)
    page = to_html(book)
    assert "<script>" not in page and "&lt;script&gt;" in page
    text = to_csv(book)
    assert text.splitlines()[0] == "learner,exercise,status,passed,total,credit,first_failure"
    assert "0.50" in text
    assert feedback_name("../../etc/passwd") == "etc_passwd.html"
    assert feedback_name("<script>alert(1)</script>").endswith(".html")
    assert "/" not in feedback_name("a/b")


def test_credit_and_labels():
    assert Outcome("a", "x", "pass", 3, 4).credit == 1.0  # a skipped real run still passes
    assert Outcome("a", "x", "fail", 1, 3).credit == 0.33
    assert Outcome("a", "x", "timeout").credit == 0.0
    assert Outcome("a", "x", "crashed").label == "✗ crashed"
    assert Task("a", "x", None).path is None


def test_the_worker_reports_a_malformed_notebook_without_a_kernel(tmp_path):
    from wslearn.grade_worker import grade_notebook

    bad = tmp_path / "03_backoff.ipynb"
    bad.write_text('{"nbformat": 3}')
    outcome = grade_notebook(bad, "03_backoff", 10)
    assert outcome["status"] == "malformed"
    assert "nbformat 4" in outcome["reason"]
    assert str(tmp_path) not in outcome["reason"]
    assert sys.executable  # the worker runs as `python -m wslearn.grade_worker`
    assert os.environ.get(ENV_RESULT) is None
