"""One-source exercises: solutions/*.ipynb -> exercises/*.ipynb, deterministic."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from wslearn.build import (
    BEGIN,
    END,
    BuildError,
    build,
    dumps,
    make_exercise,
    read_notebook,
    strip_markdown,
    strip_solutions,
)

SOLVED = """\
from wslearn import BackoffPolicy

def delay(attempt, base=1.0, cap=30.0):
    ### BEGIN SOLUTION
    # TODO: return base * 2 ** (attempt - 1), capped at cap
    return min(cap, base * 2 ** (attempt - 1))
    ### END SOLUTION

class Client:
    def on_close(self):
        if self.closed:
            ### BEGIN SOLUTION
            return None
            ### END SOLUTION
        self.schedule()"""

EXERCISE = """\
from wslearn import BackoffPolicy

def delay(attempt, base=1.0, cap=30.0):
    # TODO: return base * 2 ** (attempt - 1), capped at cap
    raise NotImplementedError

class Client:
    def on_close(self):
        if self.closed:
            # TODO: write your code here
            raise NotImplementedError
        self.schedule()"""


def test_blocks_become_indented_todo_stubs() -> None:
    text, warnings = strip_solutions(SOLVED)
    assert text == EXERCISE
    assert warnings == []
    ast.parse(text)


def test_trailing_newline_and_empty_todo_are_kept_sane() -> None:
    source = f"def f():\n    {BEGIN}\n    # TODO:\n    return 1\n    {END}\n"
    assert strip_solutions(source)[0] == (
        "def f():\n    # TODO: write your code here\n    raise NotImplementedError\n"
    )


def test_a_top_level_block_builds_with_a_warning() -> None:
    text, warnings = strip_solutions(f"{BEGIN}\nx = 1\n{END}\nprint(x)", where="nb cell 2")
    assert text == "# TODO: write your code here\nraise NotImplementedError\nprint(x)"
    assert warnings == [
        "nb cell 2, line 1: solution block at top level -- the exercise cell will raise "
        "NotImplementedError when run; put the block inside a function"
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (f"def f():\n    {BEGIN}\n    return 1\n", r"line 2: ### BEGIN SOLUTION is never closed"),
        (f"x = 1\n{END}\n", r"line 2: ### END SOLUTION without a ### BEGIN SOLUTION"),
        (f"{BEGIN}\n{BEGIN}\n{END}\n", r"line 2: ### BEGIN SOLUTION inside the block"),
        ("def f():\n    ## BEGIN SOLUTION\n    return 1\n", "looks like a solution marker"),
        (f"{BEGIN}\nx = 1\n### END SOLUTIONS\n{END}", "looks like a solution marker"),
        ("# begin solution\nx = 1", "looks like a solution marker"),
    ],
)
def test_bad_markers_are_errors_never_a_leaked_solution(source: str, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        strip_solutions(source, where="03_backoff.ipynb cell 4")


def test_markdown_answers_are_replaced() -> None:
    text = (
        "Why?\n\n<!-- BEGIN SOLUTION -->\nBecause the timer\nis never cleared."
        "\n<!-- END SOLUTION -->"
    )
    assert strip_markdown(text) == "Why?\n\n_Your answer here._"
    with pytest.raises(BuildError, match="unbalanced or misspelt"):
        strip_markdown("<!-- BEGIN SOLUTION -->\nno end")
    with pytest.raises(BuildError, match="unbalanced or misspelt"):
        strip_markdown("<!-- BEGIN SOLUTION -->x<!-- END SOLUTION->")


def solution_notebook() -> nbformat.NotebookNode:
    code = new_code_cell(SOLVED, execution_count=3, metadata={"tags": ["keep-me"]})
    code.metadata["execution"] = {"iopub.status.busy": "2025-01-01T00:00:00Z"}
    code.outputs = [new_output("stream", name="stdout", text="solved\n")]
    nb = new_notebook(
        cells=[
            new_markdown_cell("# 03 Backoff\n<!-- BEGIN SOLUTION -->secret<!-- END SOLUTION -->"),
            code,
            new_code_cell("check(delay)", execution_count=4),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"
    return nb


def test_make_exercise_clears_outputs_and_keeps_ids_and_metadata() -> None:
    solution = solution_notebook()
    before = json.dumps(solution, sort_keys=True)
    exercise, warnings = make_exercise(solution, name="s.ipynb", source="solutions/s.ipynb")
    assert json.dumps(solution, sort_keys=True) == before, "the solution is untouched"
    assert warnings == []
    md, code, check = exercise.cells
    assert [c.id for c in exercise.cells] == ["cell-0", "cell-1", "cell-2"]
    assert md.source == "# 03 Backoff\n_Your answer here._"
    assert code.source == EXERCISE and code.outputs == [] and code.execution_count is None
    assert code.metadata == {"tags": ["keep-me"]}, "tags kept, timing metadata dropped"
    assert check.execution_count is None
    assert exercise.metadata.kernelspec.name == "python3"
    assert exercise.metadata.wslearn["generated_from"] == "solutions/s.ipynb"


def test_a_stub_that_breaks_syntax_is_an_error() -> None:
    nb = new_notebook(cells=[new_code_cell(f"def f():\n{BEGIN}\n    return 1\n{END}")])
    with pytest.raises(BuildError, match="indent the marker like the code it wraps"):
        make_exercise(nb, name="x.ipynb")


def test_read_notebook_gives_old_notebooks_deterministic_ids(tmp_path: Path) -> None:
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("y = 2")])
    nb.nbformat_minor = 4
    raw = json.loads(nbformat.writes(nb))
    for cell in raw["cells"]:
        cell.pop("id", None)
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(raw), encoding="utf-8")
    first, second = read_notebook(path), read_notebook(path)
    assert [c.id for c in first.cells] == [c.id for c in second.cells]
    assert dumps(first) == dumps(second)
    with pytest.raises(BuildError, match="not an nbformat 4 notebook"):
        (tmp_path / "bad.ipynb").write_text("{}", encoding="utf-8")
        read_notebook(tmp_path / "bad.ipynb")


def write(path: Path, nb: nbformat.NotebookNode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(nb), encoding="utf-8")


def test_build_writes_is_deterministic_and_check_detects_staleness(tmp_path: Path) -> None:
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    write(solutions / "03_backoff.ipynb", solution_notebook())

    assert [b.status for b in build(solutions, exercises, check=True)] == ["missing"]
    first = build(solutions, exercises)
    assert [(b.exercise.name, b.status) for b in first] == [("03_backoff.ipynb", "written")]
    target = exercises / "03_backoff.ipynb"
    data = target.read_bytes()
    assert data.endswith(b"}\n") and b"min(cap" not in data and b"solved" not in data

    assert [b.status for b in build(solutions, exercises)] == ["unchanged"]
    assert target.read_bytes() == data, "byte-identical on repeated builds"
    assert [b.status for b in build(solutions, exercises, check=True)] == ["unchanged"]

    changed = solution_notebook()
    changed.cells[2].source = "check(delay, attempts=5)"
    write(solutions / "03_backoff.ipynb", changed)
    stale = build(solutions, exercises, check=True)
    assert [(b.status, b.problem) for b in stale] == [("stale", True)]
    assert target.read_bytes() == data, "--check never writes"


def test_build_removes_only_generated_orphans(tmp_path: Path) -> None:
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    write(solutions / "01_a.ipynb", solution_notebook())
    write(solutions / "02_b.ipynb", solution_notebook())
    build(solutions, exercises)
    write(exercises / "99_handmade.ipynb", new_notebook())
    (solutions / "02_b.ipynb").unlink()

    assert [(b.exercise.name, b.status) for b in build(solutions, exercises, check=True)] == [
        ("01_a.ipynb", "unchanged"),
        ("02_b.ipynb", "orphan"),
    ]
    assert [(b.exercise.name, b.status) for b in build(solutions, exercises)][-1] == (
        "02_b.ipynb",
        "removed",
    )
    assert sorted(p.name for p in exercises.iterdir()) == ["01_a.ipynb", "99_handmade.ipynb"]


def test_build_without_solutions_folder_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="--solutions DIR"):
        build(tmp_path / "nope", tmp_path / "exercises")


LINE = st.sampled_from(["x = 1", "y = f(x)", "", "# note", "return x", "pass"])


@given(
    blocks=st.lists(
        st.tuples(st.integers(1, 3), st.lists(LINE, max_size=4), st.booleans()),
        min_size=1,
        max_size=4,
    )
)
def test_property_every_block_becomes_exactly_one_stub_and_nothing_leaks(blocks: list) -> None:
    source_lines = []
    for depth, body, has_todo in blocks:
        pad = "    " * depth
        source_lines += [f"{pad}keep_{depth}()", f"{pad}{BEGIN}"]
        source_lines += [f"{pad}# TODO: step {depth}"] if has_todo else []
        source_lines += [f"{pad}SECRET_{line}" for line in body] + [f"{pad}{END}"]
    text, _ = strip_solutions("\n".join(source_lines))
    out = text.split("\n")
    assert "SECRET" not in text and "SOLUTION" not in text
    assert sum(line.strip() == "raise NotImplementedError" for line in out) == len(blocks)
    for (depth, _, has_todo), index in zip(
        blocks,
        [i for i, line in enumerate(out) if "raise NotImplementedError" in line],
        strict=True,
    ):
        pad = "    " * depth
        assert out[index] == f"{pad}raise NotImplementedError"
        todo = f"step {depth}" if has_todo else "write your code here"
        assert out[index - 1] == f"{pad}# TODO: {todo}"
        assert out[index - 2] == f"{pad}keep_{depth}()"
