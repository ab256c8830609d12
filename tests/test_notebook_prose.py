"""The course's prose rules (issues 10 and 17), checked on the stored notebooks.

- Every chapter opens with what the learner will see and about how long it takes.
- No emoji used as words in the chapters' text: without an emoji font (Debian's chromium)
  they render as empty boxes.
- Every relative Markdown link opens something that exists when JupyterLab serves the
  repository root: chapters, docs, solutions, tests, and the learner's own exercise copies
  under ``my-work/`` (made from ``exercises/`` by ``make lab``).
- Chapters 02-09 link their exercise copy and its solution.
- ``docs/sources.md`` has a section for every chapter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EMOJI = re.compile("[\u2705\u274c\u26a0\U0001f300-\U0001faff]")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"```.*?```", re.S)


def markdown(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def exercise_of(chapter: str) -> Path | None:
    """The exercise template whose number matches the chapter (``exercises/NN_*.ipynb``)."""
    found = sorted((ROOT / "exercises").glob(f"{chapter}_*.ipynb"))
    return found[0] if found else None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_opens_with_what_you_will_see_and_the_time(path: Path) -> None:
    first = markdown(path)[0]
    assert "**You will see**" in first and re.search(r"\*\*Time:\*\* about \d+ minutes", first)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_emoji_in_the_text(path: Path) -> None:
    for text in markdown(path):
        assert not EMOJI.search(FENCE.sub("", text)), text[:200]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_relative_links_resolve_from_the_repository_root(path: Path) -> None:
    for text in markdown(path):
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue  # an absolute URL or an anchor
            resolved = (path.parent / target.split("#")[0]).resolve()
            relative = resolved.relative_to(ROOT)
            if relative.parts[0] == "my-work":  # the learner's copy of exercises/
                resolved = ROOT / "exercises" / Path(*relative.parts[1:])
            assert resolved.exists(), f"{path.name}: link to {target} leads nowhere"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if exercise_of(p.name[:2])],
                         ids=lambda p: p.name)  # fmt: skip
def test_chapter_links_its_exercise_copy_and_solution(path: Path) -> None:
    exercise = exercise_of(path.name[:2])
    assert exercise is not None
    text = "\n".join(markdown(path))
    assert f"](../my-work/{exercise.name})" in text
    assert f"](../solutions/{exercise.name})" in text
    assert "make lab" in text  # the sentence that says where the copy comes from


def test_sources_cover_every_chapter() -> None:
    sources = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert re.search(rf"^## {path.name[:2]} · ", sources, re.M), path.name


def test_sources_name_cells_that_exist() -> None:
    """Each row of docs/sources.md points at (chapter, cell id): the id must still exist."""
    sources = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\d\d) · ", sources, flags=re.M)
    by_number = {p.name[:2]: p for p in NOTEBOOKS}
    for number, body in zip(parts[1::2], parts[2::2], strict=True):
        cells = json.loads(by_number[number].read_text(encoding="utf-8"))["cells"]
        ids = {c["id"] for c in cells}
        for line in body.splitlines():
            if not line.startswith("| ") or line.startswith("| cell |"):
                continue
            for cell_id in re.findall(r"\b(cell-\d+[a-z]?|c\d+[a-z]?)\b", line.split("|")[1]):
                assert cell_id in ids, f"docs/sources.md: chapter {number} has no cell {cell_id}"
