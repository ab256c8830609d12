"""``wslearn/__init__.py`` shows its lazy names to type checkers and IDEs.

At run time the public names are imported lazily (PEP 562 ``__getattr__``); a type
checker cannot run that, so an ``if TYPE_CHECKING:`` block imports each of them from the
module the lazy table names (as websockets does). These tests keep the three lists --
the lazy table, ``__all__`` and the ``TYPE_CHECKING`` imports -- the same.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import wslearn

INIT = Path(wslearn.__file__)


def _type_checking_imports() -> dict[str, str]:
    """name -> module ("wslearn.x") of the imports under ``if TYPE_CHECKING:``."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.level == 1, ast.dump(stmt)
                for alias in stmt.names:
                    module = f"wslearn.{stmt.module}" if stmt.module else f"wslearn.{alias.name}"
                    found[alias.asname or alias.name] = module
    return found


def test_type_checkers_see_every_lazy_name_from_its_module() -> None:
    imports = _type_checking_imports()
    expected = dict(wslearn._EXPORTS) | {name: f"wslearn.{name}" for name in wslearn._SUBMODULES}
    assert imports == expected


def test_all_lists_every_lazy_name() -> None:
    assert wslearn.__all__ == sorted([*wslearn._EXPORTS, *wslearn._SUBMODULES])


def test_every_lazy_name_resolves() -> None:
    for name, module in wslearn._EXPORTS.items():
        assert getattr(wslearn, name) is getattr(importlib.import_module(module), name)
