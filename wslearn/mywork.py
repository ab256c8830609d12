"""The learner's own copies of the exercises: ``my-work/`` at the course root.

Why copies: ``exercises/`` is the generated template (``python -m wslearn build`` writes
it, ``build --check`` guards it in ``make test``). A learner who typed answers into it
would break the instructor's checks, and a rebuild would overwrite the answers. So the
learner works in ``my-work/NN_name.ipynb`` (git-ignored), made once from ``exercises/``
by ``make lab`` and ``python -m wslearn start``. The rule that keeps work safe: a copy is
made only where no file exists yet -- nothing here ever overwrites, deletes or rewrites
a file in ``my-work/``.

``start`` also writes JupyterLab's settings overrides for the course's own environment
(no news or update pop-ups over the first output), when that environment is writable.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .progress import course_root

__all__ = ["FIRST", "MY_WORK", "Started", "lab_command", "lab_overrides", "my_work", "start"]

#: Where ``make lab`` lands, relative to the course root.
FIRST: Final = "notebooks/00_start_here.ipynb"

#: The folder of the learner's copies, relative to the course root.
MY_WORK: Final = "my-work"

#: JupyterLab settings the course sets for its own environment.
LAB_OVERRIDES: Final[dict[str, dict[str, object]]] = {
    # The news / update check asks a question in a pop-up over the notebook's first
    # output, and the course is meant to work offline anyway.
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass(frozen=True)
class Started:
    """What ``start`` did: the copies it made and the ones it left alone."""

    folder: Path
    copied: tuple[str, ...]
    kept: tuple[str, ...]
    settings: str  # what happened to the JupyterLab settings overrides

    def lines(self) -> list[str]:
        where = _relative(self.folder)
        out = []
        if self.copied:
            out.append(f"copied {len(self.copied)} exercise(s) to {where}/: "
                       + ", ".join(self.copied))
        if self.kept:
            out.append(f"kept your {len(self.kept)} existing file(s) in {where}/ untouched")
        if not self.copied and not self.kept:
            out.append("no exercises found to copy")
        out.append(f"work in {where}/ (your copies); exercises/ is the template")
        if self.settings:
            out.append(self.settings)
        return out


def my_work(root: str | os.PathLike[str] | None = None) -> Path:
    """The ``my-work/`` folder of the course at ``root`` (default: the course root)."""
    return Path(root if root is not None else course_root()) / MY_WORK


def start(root: str | os.PathLike[str] | None = None, *, settings: bool = True) -> Started:
    """Copy every exercise missing from ``my-work/``; never overwrite an existing file."""
    base = Path(root if root is not None else course_root())
    exercises = base / "exercises"
    folder = my_work(base)
    copied: list[str] = []
    kept: list[str] = []
    sources = sorted(p for p in exercises.glob("*.ipynb") if not p.name.startswith("."))
    if sources:
        folder.mkdir(exist_ok=True)
    for source in sources:
        target = folder / source.name
        try:
            # "x": create, fail if it exists -- no window between a check and the copy
            with source.open("rb") as src, target.open("xb") as dst:
                shutil.copyfileobj(src, dst)
        except FileExistsError:
            kept.append(source.name)
            continue
        copied.append(source.name)
    return Started(folder, tuple(copied), tuple(kept), lab_overrides() if settings else "")


def lab_overrides(prefix: str | os.PathLike[str] | None = None) -> str:
    """Write the course's JupyterLab settings overrides into ``<prefix>/share/jupyter/lab/
    settings/overrides.json`` (default: this Python's environment), merged with what is
    there. Returns a line for the report ("" when nothing changed)."""
    path = Path(prefix if prefix is not None else sys.prefix) / "share/jupyter/lab/settings"
    path = path / "overrides.json"
    try:
        current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        if not isinstance(current, dict):
            return f"left {path} alone (not a JSON object)"
    except (OSError, ValueError):
        return f"left {path} alone (unreadable)"
    merged = dict(current)
    for plugin, values in LAB_OVERRIDES.items():
        section = dict(merged.get(plugin) or {})
        section.update(values)
        merged[plugin] = section
    if merged == current:
        return ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as exc:  # a read-only system install (e.g. a hub image): fine
        return f"could not write {path} ({exc.strerror}): JupyterLab may show its news pop-up"
    return "JupyterLab: news and update pop-ups turned off for this environment"


def lab_command(root: str | os.PathLike[str] | None = None, extra: list[str] | None = None,
                ) -> list[str]:
    """The ``jupyter lab`` command of ``make lab``: the course root as Jupyter's root (so
    ``my-work/``, ``exercises/``, ``solutions/`` and ``docs/`` are reachable), landing on
    chapter 00. ``extra`` arguments go last (tests add a port, ``--no-browser``...)."""
    base = Path(root if root is not None else course_root()).resolve()
    # wslearn.lab = jupyter lab + the course's custom.css (side-by-side code, word wrap)
    command = [sys.executable, "-m", "wslearn.lab", f"--ServerApp.root_dir={base}",
               f"--LabApp.default_url=/lab/tree/{FIRST}", "--LabApp.custom_css=True"]
    if hasattr(os, "getuid") and os.getuid() == 0:  # containers run as root
        command.append("--allow-root")
    return command + list(extra or [])


def _relative(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
