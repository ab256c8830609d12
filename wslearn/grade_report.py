"""The gradebook's files: ``gradebook.csv``, ``gradebook.html``, ``feedback/<learner>.html``.

Everything a learner's code could have produced (failure details, learner folder names)
is HTML-escaped: a gradebook is opened by an instructor's browser, and a learner's
``print("<script>...")`` must show as text. The pages are self-contained (inline CSS, no
JavaScript, no network): details open with ``<details>``, so they work offline, from a
file:// URL, and in a zip mailed to a colleague. Status is always a text label, never
colour alone.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .grade import Gradebook, Outcome

__all__ = ["CSV_COLUMNS", "feedback_name", "summary", "to_csv", "write_reports"]

CSV_COLUMNS: Final = ("learner", "exercise", "status", "passed", "total", "credit",
                      "first_failure")  # fmt: skip
_ROW_LABELS: Final = {"pass": "✓ pass", "fail": "✗ fail", "skip": "- skipped",
                      "not implemented": "… not implemented"}  # fmt: skip
_STYLE: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1f2328}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #d1d9e0;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f6f8fa}
td.num{text-align:right}
.s-pass{color:#1a7f37}.s-fail{color:#cf222e}.s-other{color:#9a6700}.s-ni{color:#6e7781}
details summary{cursor:pointer}
pre{margin:.2rem 0;white-space:pre-wrap;font-size:12px}
small{color:#59636e}
"""


def feedback_name(learner: str) -> str:
    """A safe file name for a learner's feedback page (folder names may hold anything)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", learner).strip("._") or "learner"
    return f"{safe}.html"


def _css_class(status: str) -> str:
    return {"pass": "s-pass", "fail": "s-fail", "not implemented": "s-ni"}.get(status, "s-other")


def to_csv(book: Gradebook) -> str:
    """One row per learner x exercise; ``credit`` has two decimals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for o in book.outcomes:
        writer.writerow([o.learner, o.exercise, o.status, o.passed, o.total, f"{o.credit:.2f}",
                         o.first_failure])  # fmt: skip
    return buffer.getvalue()


def _cell(o: Outcome) -> str:
    e = html.escape
    counts = f" {o.passed}/{o.total}" if o.total else ""
    head = f"<span class='{_css_class(o.status)}'>{e(o.label)}{counts}</span>"
    if o.status == "pass":
        return head
    text = o.first_failure or o.reason
    if not text:
        return head
    return f"<details><summary>{head}</summary><small>{e(text)}</small></details>"


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _total(outcomes: Iterable[Outcome]) -> tuple[float, int]:
    items = list(outcomes)
    return round(sum(o.credit for o in items), 2), len(items)


def to_html(book: Gradebook) -> str:
    """The class table: learners x exercises, each failure's detail on demand."""
    e = html.escape
    head = "".join(f"<th>{e(x)}</th>" for x in book.exercises)
    rows = []
    for learner in book.learners:
        mine = book.by_learner(learner)
        credit, count = _total(mine)
        cells = "".join(f"<td>{_cell(o)}</td>" for o in mine)
        link = f"feedback/{feedback_name(learner)}"
        rows.append(
            f"<tr><th><a href='{e(link, quote=True)}'>{e(learner)}</a></th>{cells}"
            f"<td class='num'>{credit:g} / {count}</td></tr>"
        )
    per_exercise = []
    for exercise in book.exercises:
        items = [o for o in book.outcomes if o.exercise == exercise]
        passed = sum(o.status == "pass" for o in items)
        per_exercise.append(f"<td>{passed}/{len(items)} pass</td>")
    body = (
        "<h1>Gradebook</h1>"
        f"<p>{len(book.learners)} learner(s), {len(book.exercises)} exercise(s). "
        "Click a failing cell for its first failure, a learner for every scenario. "
        "Credit: 1 for a pass, else the share of scenarios passed.</p>"
        f"<table class='gradebook'><thead><tr><th>learner</th>{head}<th>credit</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody>"
        f"<tfoot><tr><th>passed</th>{''.join(per_exercise)}<td></td></tr></tfoot></table>"
        "<p><small>Also: gradebook.csv (one row per learner x exercise), "
        "gradebook.json (every scenario).</small></p>"
    )
    return _page("Gradebook", body)


def _rows_table(o: Outcome) -> str:
    e = html.escape
    if not o.rows:
        return ""
    lines = []
    for row in o.rows:
        status = str(row.get("status", ""))
        detail = str(row.get("detail") or "")
        side = ""
        if status != "pass" and (row.get("expected") or row.get("actual")):
            side = (f"<td><pre>{e(str(row.get('expected') or ''))}</pre></td>"
                    f"<td><pre>{e(str(row.get('actual') or ''))}</pre></td>")  # fmt: skip
        else:
            side = "<td></td><td></td>"
        shown = detail if status != "pass" else ""
        lines.append(
            f"<tr><td>{e(str(row.get('name', '')))}"
            + (f"<br><small>{e(shown)}</small>" if shown else "")
            + f"</td><td class='{_css_class(status)}'>{e(_ROW_LABELS.get(status, status))}</td>"
            f"{side}</tr>"
        )
    return ("<table><thead><tr><th>scenario</th><th>result</th><th>expected</th>"
            f"<th>actual</th></tr></thead><tbody>{''.join(lines)}</tbody></table>")  # fmt: skip


def feedback_page(book: Gradebook, learner: str) -> str:
    """One learner's page: every exercise, every scenario, the hint for each failure."""
    e = html.escape
    mine = book.by_learner(learner)
    credit, count = _total(mine)
    parts = [
        f"<h1>Feedback for {e(learner)}</h1>",
        f"<p>Credit {credit:g} of {count}. Each exercise below lists the checker's "
        "scenarios; open a failing one to see expected and actual side by side.</p>",
    ]
    for o in mine:
        counts = f" — {o.passed}/{o.total} scenarios" if o.total else ""
        parts.append(f"<h2>{e(o.exercise)}: <span class='{_css_class(o.status)}'>"
                     f"{e(o.label)}</span>{counts}</h2>")  # fmt: skip
        if o.reason:
            parts.append(f"<p>{e(o.reason)}</p>")
        if o.rows:
            parts.append(f"<details{' open' if o.status != 'pass' else ''}>"
                         f"<summary>scenarios</summary>{_rows_table(o)}</details>")  # fmt: skip
        if o.hint and o.status != "pass":
            parts.append(f"<p><b>hint:</b> {e(o.hint)}</p>")
        if o.status not in ("pass", "missing", "malformed"):
            parts.append(f"<p><small>Try it yourself: <code>python -m wslearn check "
                         f"{e(o.exercise)}</code></small></p>")  # fmt: skip
    return _page(f"Feedback: {learner}", "".join(parts))


def write_reports(book: Gradebook) -> None:
    """Write the CSV, HTML, JSON and the feedback pages into ``book.out``."""
    out = book.out
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    (out / "gradebook.csv").write_text(to_csv(book), encoding="utf-8")
    (out / "gradebook.html").write_text(to_html(book), encoding="utf-8")
    records = []
    for o in book.outcomes:
        data = asdict(o)
        data["credit"] = o.credit
        data.pop("reused", None)
        data.pop("seconds", None)
        records.append(data)
    (out / "gradebook.json").write_text(
        json.dumps({"version": 1, "learners": book.learners, "exercises": book.exercises,
                    "outcomes": records}, indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    for learner in book.learners:
        path = out / "feedback" / feedback_name(learner)
        path.write_text(feedback_page(book, learner), encoding="utf-8")


def summary(book: Gradebook) -> str:
    """The end-of-run summary the CLI prints."""
    counts: dict[str, int] = {}
    for o in book.outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    reused = sum(o.reused for o in book.outcomes)
    ran = sum(not o.reused and o.status != "missing" for o in book.outcomes)
    minutes, seconds = divmod(round(book.seconds), 60)
    took = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    order = ["pass", "fail", "not implemented", "error", "timeout", "crashed", "malformed",
             "no check", "missing", "grader error"]  # fmt: skip
    statuses = ", ".join(f"{counts[s]} {s}" for s in order if s in counts)
    lines = [
        f"graded {len(book.outcomes)} notebook(s) in {took}: {ran} run, {reused} reused "
        "from the last run",
        f"  {statuses}",
    ]
    width = max((len(x) for x in book.exercises), default=0)
    for exercise in book.exercises:
        items = [o for o in book.outcomes if o.exercise == exercise]
        passed = sum(o.status == "pass" for o in items)
        lines.append(f"  {exercise.ljust(width)}  {passed}/{len(items)} pass")
    out = book.out
    lines.append(
        f"wrote {out / 'gradebook.csv'}, {out / 'gradebook.html'} and "
        f"{len(book.learners)} feedback page(s) in {out / 'feedback'}"
    )
    return "\n".join(lines)
