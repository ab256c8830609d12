"""The one hook between the checkers and the class gradebook: ``$WSLEARN_RESULT``.

When ``$WSLEARN_RESULT`` names a file, every ``wslearn.check(...)`` appends its verdict
to it as one JSON line. The gradebook (``python -m wslearn grade``) sets it for each
notebook it runs, so it reads scenario counts, the first failure and every row's detail
without parsing the checker's printed table -- which may change -- and without touching
the learner's own progress file. Unset (a learner's JupyterLab), nothing is written.

One line looks like::

    {"version": 1, "exercise": "backoff", "notebook": "03_backoff", "status": "fail",
     "passed": 3, "total": 5, "summary": "3/5 scenarios pass; first failure: ...",
     "hint": "...", "rows": [{"name": "...", "status": "pass", "detail": "",
                             "expected": "", "actual": ""}, ...]}

Only the public attributes of ``CheckResult`` and ``Row`` are read (``getattr`` with
defaults), so checker internals may change freely. Sizes are bounded: a learner's code
can put anything into a failure message.
"""

from __future__ import annotations

import json
import os
from typing import Any, Final

__all__ = ["ENV_RESULT", "VERSION", "export", "to_dict"]

#: The environment variable naming the JSON Lines file to append results to.
ENV_RESULT: Final = "WSLEARN_RESULT"
VERSION: Final = 1
_TEXT_MAX: Final = 4000
_ROWS_MAX: Final = 100


def _text(value: Any, limit: int = _TEXT_MAX) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def to_dict(result: Any, notebook: str | None = None) -> dict[str, Any]:
    """A ``CheckResult`` as plain JSON data (public attributes only, sizes bounded)."""
    rows = []
    for row in list(getattr(result, "rows", []) or [])[:_ROWS_MAX]:
        rows.append({
            "name": _text(getattr(row, "name", ""), 300),
            "status": _text(getattr(row, "status", ""), 40),
            "detail": _text(getattr(row, "detail", "")),
            "expected": _text(getattr(row, "expected", "")),
            "actual": _text(getattr(row, "actual", "")),
        })  # fmt: skip
    counted = [r for r in rows if r["status"] != "skip"]
    return {
        "version": VERSION,
        "exercise": _text(getattr(result, "exercise", ""), 100),
        "notebook": notebook,
        "status": _text(getattr(result, "status", "fail"), 40),
        "passed": sum(r["status"] == "pass" for r in counted),
        "total": len(counted),
        "summary": _text(getattr(result, "summary", ""), 500),
        "hint": _text(getattr(result, "hint", None)) or None,
        "rows": rows,
    }


def export(result: Any, notebook: str | None = None) -> bool:
    """Append ``result`` to ``$WSLEARN_RESULT`` if set; ``True`` when it was written.

    Called by ``wslearn.check`` after every check. Never raises: a gradebook detail must
    not break a learner's check.
    """
    path = os.environ.get(ENV_RESULT)
    if not path:
        return False
    try:
        line = json.dumps(to_dict(result, notebook), ensure_ascii=False, sort_keys=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except Exception:  # see the docstring
        return False
    return True
