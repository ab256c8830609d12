"""Run notebooks with nbclient, keeping stored outputs reproducible.

``make notebooks`` (``python -m wslearn execute notebooks solutions``) refreshes the stored
outputs that nbval later compares, and ``python -m wslearn check`` runs an exercise to
collect its checkers' verdicts. Both go through ``run_notebook`` so they behave alike:

* a fresh ``python3`` kernel per notebook, started in the notebook's own folder (relative
  paths in a notebook mean the same as in JupyterLab);
* 120 s per cell -- a hung cell (a client that never gives up) fails instead of hanging
  ``make``;
* no ``metadata.execution`` timestamps and no stored widget state (random model ids):
  the same notebook, executed twice, is byte-identical, so re-running makes no git diff;
* consecutive stream outputs merged, so one ``print`` loop is one output however the
  kernel happened to flush it;
* in a source checkout, the checkout is put on the kernel's ``PYTHONPATH`` so ``import
  wslearn`` works without ``pip install -e``.

A notebook that fails is *not* rewritten (its old outputs stay) unless ``allow_errors``.
``execute`` gives the kernels a throwaway ``$WSLEARN_HOME``: refreshing the solutions'
stored outputs runs their checkers, and that must not mark exercises as passed in the
local progress file (nor may stored outputs depend on it).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import nbformat
from nbformat import NotebookNode

from .build import BuildError, dumps, read_notebook
from .progress import ENV_HOME, display_path

__all__ = [
    "DEFAULT_KERNEL",
    "DEFAULT_TIMEOUT",
    "Executed",
    "ExecutionFailed",
    "clean",
    "execute_paths",
    "kernel_env",
    "notebook_paths",
    "run_notebook",
]

DEFAULT_TIMEOUT: Final = 120
DEFAULT_KERNEL: Final = "python3"
_CHECKOUT: Final = Path(__file__).resolve().parent.parent


class ExecutionFailed(RuntimeError):
    """A notebook stopped on an error. ``nb`` is the partly executed notebook."""

    def __init__(self, message: str, nb: NotebookNode | None = None, cell: int | None = None):
        super().__init__(message)
        self.nb = nb
        self.cell = cell


@dataclass(frozen=True)
class Executed:
    """The outcome for one notebook: ``ok`` with how many code cells ran, or the error."""

    path: Path
    ok: bool
    cells: int
    error: str | None = None
    written: bool = False


def notebook_paths(targets: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, folders expanded to their ``*.ipynb`` (sorted, not recursive)."""
    found: list[Path] = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            found += sorted(p for p in path.glob("*.ipynb") if not p.name.startswith((".", "_")))
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(
                f"{path}: not a notebook or a folder of notebooks; pass e.g. notebooks/ "
                "or notebooks/03_reconnect.ipynb"
            )
    return list(dict.fromkeys(found))  # a file named twice runs once


def kernel_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for the kernel: ours, plus the checkout on ``PYTHONPATH``."""
    env = dict(os.environ)
    if (_CHECKOUT / "pyproject.toml").is_file():
        parts = [str(_CHECKOUT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    env.update(extra or {})
    return env


def _error_cell(nb: NotebookNode) -> tuple[int | None, str]:
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                detail = " ".join(str(out.get("evalue", "")).split())
                return index, out.get("ename", "Error") + (f": {detail}" if detail else "")
    return None, ""


_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _keep_widget_ids(new: NotebookNode, old: NotebookNode) -> None:
    """Reuse the stored widget model ids where a cell's source is unchanged.

    Every run mints fresh random model ids; nbval ignores them, but they would make each
    ``make notebooks`` rewrite every notebook that shows a widget, burying real output
    changes in noise. (The ids point at no saved widget state either way.)
    """
    for new_cell, old_cell in zip(new.cells, old.cells, strict=False):
        if new_cell.get("source") != old_cell.get("source"):
            continue
        old_ids = [o["data"][_WIDGET_VIEW].get("model_id") for o in old_cell.get("outputs", [])
                   if _WIDGET_VIEW in o.get("data", {})]
        new_views = [o["data"][_WIDGET_VIEW] for o in new_cell.get("outputs", [])
                     if _WIDGET_VIEW in o.get("data", {})]
        if len(old_ids) == len(new_views):
            for view, model_id in zip(new_views, old_ids, strict=True):
                if model_id:
                    view["model_id"] = model_id


def clean(nb: NotebookNode, *, widget_state: bool = False) -> NotebookNode:
    """Drop what differs between identical runs: timing metadata and widget state.

    Widget state holds random model ids; without ``widget_state`` it is removed even when
    an earlier JupyterLab save left some behind.
    """
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    if not widget_state:
        nb.metadata.pop("widgets", None)
    return nb


def run_notebook(
    nb: NotebookNode,
    *,
    cwd: str | os.PathLike[str],
    timeout: int = DEFAULT_TIMEOUT,
    kernel: str = DEFAULT_KERNEL,
    env: Mapping[str, str] | None = None,
    allow_errors: bool = False,
    widget_state: bool = False,
) -> NotebookNode:
    """Execute ``nb`` in place in a fresh kernel started in ``cwd``; return it cleaned.

    Raises ``ExecutionFailed`` naming the cell (index) and error when a cell raises or
    times out, or when the kernel cannot start. Call it from sync code (it runs its own
    event loop), e.g. the CLI -- not from inside a running notebook's event loop.
    """
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        allow_errors=allow_errors,
        record_timing=False,
        store_widget_state=widget_state,
        coalesce_streams=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        # Our own loop, closed at the end. ``client.execute()`` would go through
        # jupyter_core's run_sync, which keeps a loop (and its self-pipe sockets) alive.
        asyncio.run(client.async_execute(env=kernel_env(env)))
    except CellTimeoutError:
        index = _running_cell(nb)
        raise ExecutionFailed(f"cell {index} timed out after {timeout} s", nb, index) from None
    except CellExecutionError as exc:
        index, text = _error_cell(nb)
        text = text or f"{exc.ename}: {' '.join(exc.evalue.split())}"
        raise ExecutionFailed(f"cell {index}: {text}", nb, index) from None
    except NoSuchKernel:
        raise ExecutionFailed(
            f"no Jupyter kernel named {kernel!r}; install one with "
            "`python -m ipykernel install --sys-prefix` (or pass --kernel NAME)"
        ) from None
    except DeadKernelError as exc:
        raise ExecutionFailed(f"the kernel died: {exc}", nb) from None
    return clean(nb, widget_state=widget_state)


def _running_cell(nb: NotebookNode) -> int | None:
    """The first code cell without an execution count: where a timeout stopped."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("execution_count") is None and cell.source:
            return index
    return None


def _code_cells(nb: NotebookNode) -> int:
    return sum(1 for c in nb.cells if c.cell_type == "code")


def execute_paths(
    paths: Iterable[Path],
    *,
    timeout: int = DEFAULT_TIMEOUT,
    kernel: str = DEFAULT_KERNEL,
    allow_errors: bool = False,
    widget_state: bool = False,
    out: Callable[..., Any] = print,
    runner: Callable[..., NotebookNode] | None = None,
) -> list[Executed]:
    """Execute each notebook in place and print one progress line per notebook.

    ``[3/11] notebooks/03_reconnect.ipynb ... ok (12 code cells)``. A notebook is
    rewritten only when it succeeded (or ``allow_errors``) and its bytes changed.
    ``runner`` (default ``run_notebook``) is replaceable for tests.
    """
    run = runner or run_notebook
    options = {
        "timeout": timeout,
        "kernel": kernel,
        "allow_errors": allow_errors,
        "widget_state": widget_state,
    }
    paths = list(paths)
    with tempfile.TemporaryDirectory(prefix="wslearn-home-") as scratch:
        options["env"] = {ENV_HOME: scratch}
        return [
            _execute_one(path, f"[{number}/{len(paths)}]", run, out, options)
            for number, path in enumerate(paths, 1)
        ]


def _execute_one(
    path: Path,
    counter: str,
    run: Callable[..., NotebookNode],
    out: Callable[..., Any],
    options: dict[str, Any],
) -> Executed:
    out(f"{counter} {display_path(path)} ... ", end="", flush=True)
    try:
        nb = read_notebook(path)
        run(nb, cwd=path.parent.resolve(), **options)
    except (ExecutionFailed, BuildError) as exc:
        out(f"FAILED: {exc}")
        return Executed(path, False, 0, str(exc))
    old_text = path.read_text(encoding="utf-8")
    _keep_widget_ids(nb, nbformat.reads(old_text, as_version=4))
    text = dumps(nb)
    written = old_text != text
    if written:
        path.write_text(text, encoding="utf-8")
    cells = _code_cells(nb)
    index, error = _error_cell(nb)  # only possible with allow_errors
    note = f", error kept in cell {index}: {error}" if index is not None else ""
    out(f"ok ({cells} code cells, {'rewritten' if written else 'unchanged'}{note})")
    return Executed(path, True, cells, written=written)
