"""nbgrader, for real: ``python -m wslearn nbgrader`` writes the source notebooks,
nbgrader 0.9's ``generate_assignment`` turns them into the learner's notebooks -- the same
cells as ``exercises/`` -- and ``autograde`` scores three made-up students through the
checkers: a correct one, a partly wrong one, an untouched one."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
from classroom_support import CLASSROOM_VENV, classroom_bin, classroom_env

from wslearn.checks import CheckResult, Row
from wslearn.grade_nbgrader import nbgrader_source, points, write_course

ROOT = Path(__file__).resolve().parent.parent


def _nbgrader(course: Path, tmp: Path, *args: str, timeout: float = 600) -> str:
    bin_dir = classroom_bin()
    done = subprocess.run(
        [str(bin_dir / "nbgrader"), *args], cwd=course, env=classroom_env(tmp),
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0 and "ERROR" not in log, log[-4000:]
    return log


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_generate_assignment_gives_the_exercises_and_autograde_scores_three_students(tmp_path):
    course = tmp_path / "course"
    write_course(course, "wslearn")
    _nbgrader(course, tmp_path, "generate_assignment", "wslearn", "--force")

    # the learner's notebooks: exercises/ cell for cell, but for the locked autograder cell
    released = sorted((course / "release" / "wslearn").glob("*.ipynb"))
    exercises = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    assert [p.name for p in released] == exercises
    for path in released:
        ours, theirs = _cells(ROOT / "exercises" / path.name), _cells(path)
        assert [c["id"] for c in theirs] == [c["id"] for c in ours], path.name
        graded = [c for c in theirs if c["metadata"].get("nbgrader", {}).get("grade")]
        assert len(graded) == 1 and graded[0]["metadata"]["nbgrader"]["points"] == 10
        assert "wslearn.check(" in _source(graded[0]) and graded[0]["metadata"]["editable"] is False
        for mine, release in zip(ours, theirs, strict=True):
            if release is not graded[0]:
                assert _source(release) == _source(mine), (path.name, mine["id"])
            assert "### BEGIN SOLUTION" not in _source(release)

    # autograde one exercise for three students (each notebook costs a kernel and the
    # checkers' scenarios: ~10-15 s)
    write_course(course, "ws2", exercises=["03_backoff"])
    _nbgrader(course, tmp_path, "generate_assignment", "ws2", "--force")
    source = {p.stem: json.loads(p.read_text()) for p in (course / "source" / "ws2").glob("*")}
    release = {p.stem: json.loads(p.read_text()) for p in (course / "release" / "ws2").glob("*")}
    for name, nb in release.items():
        answers = {c["id"]: c["source"] for c in source[name]["cells"]}
        correct = copy.deepcopy(nb)
        for cell in correct["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                cell["source"] = answers[cell["id"]]
        partly = copy.deepcopy(correct)
        for cell in partly["cells"]:  # forgets the 30 s cap: some scenarios fail
            text = _source(cell)
            if "min(30.0, 2.0 ** (attempt - 1))" in text:
                cell["source"] = text.replace("min(30.0, 2.0 ** (attempt - 1))",
                                              "2.0 ** (attempt - 1)")  # fmt: skip
        for student, notebook in (("correct", correct), ("partly", partly), ("untouched", nb)):
            folder = course / "submitted" / student / "ws2"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    _nbgrader(course, tmp_path, "autograde", "ws2", "--create", "--force")

    script = (
        "import json, sys\n"
        "from nbgrader.api import Gradebook\n"
        "with Gradebook('sqlite:///' + sys.argv[1]) as gb:\n"
        "    print(json.dumps({s: {n.name: n.score for n in gb.find_submission('ws2', s).notebooks}"
        " for s in ('correct', 'partly', 'untouched')}))\n"
    )
    out = subprocess.run(
        [str(CLASSROOM_VENV / "bin" / "python"), "-c", script, str(course / "gradebook.db")],
        capture_output=True, text=True, check=True, env=classroom_env(tmp_path), timeout=120,
    ).stdout  # fmt: skip
    scores = json.loads(out)
    assert scores["correct"] == {"03_backoff": 10.0}
    assert scores["untouched"] == {"03_backoff": 0.0}
    assert 0 < scores["partly"]["03_backoff"] < 10  # partial credit: the share passed


def test_points_are_the_share_of_scenarios_passed():
    rows = [Row("a", "pass"), Row("b", "fail"), Row("c", "pass"), Row("d", "fail"),
            Row("r", "skip")]  # fmt: skip
    assert points(CheckResult("x", rows, status="fail"), 10) == 5.0
    assert points(CheckResult("x", [Row("a", "pass"), Row("r", "skip")], status="pass")) == 10.0
    assert points(CheckResult("x", [Row("a", "not implemented")], status="not implemented")) == 0
    assert points(CheckResult("x", [], status="fail"), 3) == 0.0


def test_source_notebooks_carry_nbgrader_metadata_and_never_overwrite_foreign_files(tmp_path):
    nb = json.loads((ROOT / "solutions" / "03_backoff.ipynb").read_text())
    import nbformat

    source = nbgrader_source(nbformat.from_dict(nb), "03_backoff", 4)
    kinds = [c.metadata.get("nbgrader", {}) for c in source.cells]
    assert sum(k.get("solution", False) for k in kinds) >= 1
    (grade,) = [k for k in kinds if k.get("grade")]
    assert grade["points"] == 4 and grade["locked"] and grade["schema_version"] == 3
    assert len({k["grade_id"] for k in kinds if k}) == len([k for k in kinds if k])
    for cell in source.cells:  # the TODO line sits above the block: nbgrader keeps it
        lines = cell.source.split("\n")
        for i, line in enumerate(lines):
            if line.strip() == "### BEGIN SOLUTION":
                assert lines[i - 1].strip().startswith("# TODO:")
    write_course(tmp_path, "a", exercises=["03"])
    write_course(tmp_path, "a", exercises=["03"])  # ours: replaced
    assert (tmp_path / "nbgrader_config.py").read_text().count("code_stub") == 1
    (tmp_path / "source" / "b").mkdir(parents=True)
    (tmp_path / "source" / "b" / "03_backoff.ipynb").write_text('{"metadata": {}}')
    with pytest.raises(FileExistsError, match="not written by wslearn"):
        write_course(tmp_path, "b", exercises=["03"])


def test_a_written_markdown_answer_becomes_the_exercise_s_placeholder():
    """nbgrader refuses solution regions outside solution cells: exercise 11's "why" answer
    becomes the same placeholder as in exercises/ (the model answer stays in solutions/)."""
    import nbformat

    name = "11_production_rules"
    solution = nbformat.from_dict(json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text()))
    assert any("<!-- BEGIN SOLUTION -->" in _source(c) for c in solution.cells)
    source = nbgrader_source(solution, name)
    exercise = {c["id"]: _source(c) for c in _cells(ROOT / "exercises" / f"{name}.ipynb")}
    for cell in source.cells:
        assert "BEGIN SOLUTION -->" not in cell.source
        if cell.cell_type == "markdown":
            assert cell.source == exercise[cell.id]
