"""Static checks on the stored notebooks: what nbval cannot see but the course promises.

nbval proves that outputs are *reproducible*; these tests prove they are *clean*:
no ports, wall-clock times or object ids in stored outputs, ``NBVAL_IGNORE_OUTPUT``
only with a comment saying why, no ``clear_output`` animation, no nest_asyncio.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(
    p for d in ("notebooks", "solutions", "exercises") for p in (ROOT / d).glob("*.ipynb")
)

FORBIDDEN = {
    "a port": re.compile(r"(127\.0\.0\.1|localhost|\[::1\]):\d{2,5}"),
    "an object id": re.compile(r"\bat 0x[0-9a-fA-F]{6,}"),
    "a wall-clock time": re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}"),
    "a temp path": re.compile(r"/tmp/[A-Za-z0-9_]{6,}"),
}
PRIVATE_MIME = (
    "application/vnd.jupyter.widget-view+json",
    "application/vnd.jupyter.widget-state+json",
)


def _outputs_text(cell: dict) -> str:
    parts: list[str] = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        for mime, value in out.get("data", {}).items():
            if mime in PRIVATE_MIME:
                continue
            if isinstance(value, list):
                value = "".join(value)
            parts.append(value if isinstance(value, str) else json.dumps(value))
    return "\n".join(parts)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_stored_outputs_are_clean(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        where = f"{path.name} cell {index}"
        text = _outputs_text(cell)
        for what, pattern in FORBIDDEN.items():
            match = pattern.search(text)
            assert not match, f"{where}: stored output contains {what}: {match.group(0)!r}"
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{where}: stored error output"
            if out.get("name") == "stderr":
                pytest.fail(f"{where}: stored stderr output: {out['text']!r}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sources_follow_the_rules(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = _source(cell)
        lines = src.splitlines()
        if "NBVAL_IGNORE_OUTPUT" in src:
            assert lines[0].startswith("# NBVAL_IGNORE_OUTPUT") and len(lines[0]) > 40, (
                f"{path.name} cell {index}: NBVAL_IGNORE_OUTPUT needs a comment on the same line "
                "saying why this cell is truly live"
            )
        where = f"{path.name} cell {index}"
        assert "clear_output" not in src, f"{where}: no clear_output animation"
        assert "nest_asyncio.apply" not in src, f"{where}: wslearn must not need nest_asyncio"
        assert "asyncio.run(" not in src or "RuntimeError" in src, (
            f"{where}: use top-level await in notebooks, not asyncio.run()"
        )
