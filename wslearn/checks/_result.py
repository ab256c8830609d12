"""What a checker returns: a table of scenarios, deterministic in every rendering.

A ``CheckResult`` is displayed by Jupyter as an HTML table (scenario, result, expected,
actual) and printed as the same table in plain text. Results carry a text label
(``✓ pass`` / ``✗ fail`` / ``… not implemented`` / ``- skipped``), never colour alone,
and nothing that changes between runs: no wall-clock times, ports or object ids --
timelines are in logical seconds. A stored notebook output therefore stays identical
run after run, which is what nbval checks.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

__all__ = ["STATUSES", "CheckResult", "Row"]

#: Row and result statuses, with their text labels.
STATUSES = {
    "pass": "✓ pass",
    "fail": "✗ fail",
    "not implemented": "… not implemented",
    "skip": "- skipped",
}


@dataclass(frozen=True)
class Row:
    """One scenario's outcome. ``expected``/``actual`` may span several lines."""

    name: str
    status: str
    detail: str = ""
    expected: str = ""
    actual: str = ""
    kind: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def label(self) -> str:
        return STATUSES[self.status]


def _side_by_side(left: str, right: str, titles: tuple[str, str] = ("expected", "actual")) -> str:
    a = [titles[0], *left.splitlines()]
    b = [titles[1], *right.splitlines()]
    width = max(len(line) for line in a)
    lines = []
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else ""
        y = b[i] if i < len(b) else ""
        mark = " " if i == 0 or x == y else "≠"
        lines.append(f"{x.ljust(width)} {mark} {y}".rstrip())
    return "\n".join(lines)


@dataclass
class CheckResult:
    """The verdict of ``wslearn.check(name, ...)``.

    ``status`` is ``"pass"``, ``"fail"`` or ``"not implemented"``; ``hint`` is one hint
    chosen from the first failure's ``hint_kind``; ``rows`` the scenarios.
    """

    exercise: str
    rows: list[Row] = field(default_factory=list)
    status: str = "pass"
    hint: str | None = None
    hint_kind: str | None = None
    note: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.status == "fail"]

    @property
    def summary(self) -> str:
        """One line for the progress table."""
        done = sum(r.passed for r in self.rows)
        counted = sum(r.status != "skip" for r in self.rows)
        if self.status == "not implemented":
            return "not implemented yet"
        if self.status == "pass":
            return f"all {done} scenarios pass"
        first = self.failures[0] if self.failures else None
        what = f"; first failure: {first.name}" if first else ""
        return f"{done}/{counted} scenarios pass{what}"

    def __bool__(self) -> bool:
        return self.passed

    # -- renderings -------------------------------------------------------------------

    def _headline(self) -> str:
        label = STATUSES.get(self.status, self.status)
        return f'check("{self.exercise}"): {label} -- {self.summary}'

    def to_text(self) -> str:
        lines = [self._headline()]
        for row in self.rows:
            lines.append(f"  {row.label:<18} {row.name}")
            if row.detail and row.status != "pass":
                lines.extend(f"      {line}" for line in row.detail.splitlines())
            if row.status == "fail" and (row.expected or row.actual):
                table = _side_by_side(row.expected, row.actual)
                lines.extend(f"      {line}" for line in table.splitlines())
        if self.note:
            lines.append(self.note)
        if self.hint:
            kind = f" ({self.hint_kind})" if self.hint_kind else ""
            lines.append(f"hint{kind}: {self.hint}")
        if self.status != "pass":
            lines.append(f'more hints, one at a time: wslearn.hint("{self.exercise}")')
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()

    __str__ = __repr__

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.to_text())

    def _repr_html_(self) -> str:
        e = html.escape
        rows = []
        for row in self.rows:
            detail = f"<br><small>{e(row.detail)}</small>" if row.detail else ""
            rows.append(
                "<tr>"
                f"<td style='text-align:left;vertical-align:top'>{e(row.name)}{detail}</td>"
                f"<td style='vertical-align:top;white-space:nowrap'><b>{e(row.label)}</b></td>"
                f"<td style='text-align:left;vertical-align:top'><pre>{e(row.expected)}</pre></td>"
                f"<td style='text-align:left;vertical-align:top'><pre>{e(row.actual)}</pre></td>"
                "</tr>"
            )
        parts = [
            f"<p><b>{e(self._headline())}</b></p>",
            "<table class='wslearn-check'><thead><tr><th>scenario</th><th>result</th>"
            "<th>expected</th><th>actual</th></tr></thead><tbody>",
            *rows,
            "</tbody></table>",
        ]
        if self.note:
            parts.append(f"<p>{e(self.note)}</p>")
        if self.hint:
            kind = f" ({e(self.hint_kind)})" if self.hint_kind else ""
            parts.append(f"<p><b>hint{kind}:</b> {e(self.hint)}</p>")
        if self.status != "pass":
            call = f'wslearn.hint("{e(self.exercise)}")'
            parts.append(f"<p>more hints, one at a time: <code>{call}</code></p>")
        return "".join(parts)
