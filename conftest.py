"""Repository-wide pytest settings, loaded for ``pytest tests`` and ``pytest --nbval`` alike.

A wslearn widget's live output carries a static picture of itself (``text/html``), and
its ``close()`` in a notebook's clean-up cell replaces that output with a snapshot of the
final state (see ``wslearn/widgets/_base.py``). nbclient applies that display update to
the stored notebook, while nbval compares each cell as it runs and never sees the update.
So, unless another sanitize file is given, nbval compares these pictures by their marker
(``<div class="wslearn-static"...``) only; their content is covered by the unit tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_SANITIZE = Path(__file__).resolve().parent / "tests" / "nbval_sanitize.cfg"


def pytest_configure(config: pytest.Config) -> None:
    option = config.option
    if hasattr(option, "nbval_sanitize_with") and option.nbval_sanitize_with is None:
        option.nbval_sanitize_with = str(_SANITIZE)
