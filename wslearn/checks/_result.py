"""What a checker returns: a table of scenarios, deterministic in every rendering.

A ``CheckResult`` is displayed by Jupyter as an HTML table (scenario, result, expected,
actual) and printed as the same table in plain text. Results carry a text label
(``✓ pass`` / ``✗ fail`` / ``… not implemented`` / ``- skipped``), never colour alone,
and nothing that changes between runs: no wall-clock times, ports or object ids --
timelines are in logical seconds. A stored notebook output therefore stays identical
run after run, which is what nbval checks.
"""

from __future__ import annotations

import difflib
import html
import re
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


#: Marks the first line where expected and actual part ways.
FIRST_DIFFERENCE = "<- first difference"
_CONTEXT = 3  # unchanged lines kept around a difference


@dataclass(frozen=True)
class DiffLine:
    """One line of an expected/actual diff: ``op`` is " " (both), "-" (expected only) or
    "+" (actual only), "..." for skipped unchanged lines; ``first`` marks the first
    deviation."""

    op: str
    text: str
    first: bool = False


def diff(expected: str, actual: str) -> list[DiffLine]:
    """A real line diff (``difflib``), not a line-by-line comparison: one extra line in
    ``actual`` shows as one ``+`` line, and every later line that matches stays unmarked."""
    a, b = expected.splitlines(), actual.splitlines()
    lines: list[DiffLine] = []
    first = True
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            same = a[i1:i2]
            head = same[:_CONTEXT] if index else []
            tail = same[-_CONTEXT:] if index < len(opcodes) - 1 else []
            if len(same) <= len(head) + len(tail) + 1:
                lines.extend(DiffLine(" ", t) for t in same)
            else:
                lines.extend(DiffLine(" ", t) for t in head)
                skipped = len(same) - len(head) - len(tail)
                lines.append(DiffLine("...", f"({skipped} matching line{'s' * (skipped != 1)})"))
                lines.extend(DiffLine(" ", t) for t in tail)
            continue
        for t in a[i1:i2]:
            lines.append(DiffLine("-", t, first))
            first = False
        for t in b[j1:j2]:
            lines.append(DiffLine("+", t, first))
            first = False
    return lines


def diff_text(expected: str, actual: str) -> list[str]:
    """The diff as plain-text lines: ``-`` expected only, ``+`` actual only."""
    if expected and actual and expected != actual:
        out = ["expected (-) / actual (+):"]
        for line in diff(expected, actual):
            if line.op == "...":
                out.append(f"  {line.text}")
                continue
            mark = f"   {FIRST_DIFFERENCE}" if line.first else ""
            out.append(f"{line.op} {line.text}{mark}".rstrip())
        return out
    if expected and actual:
        return ["expected and actual:", *(f"  {t}" for t in actual.splitlines())]
    if actual:
        return ["actual:", *(f"  {t}" for t in actual.splitlines())]
    if expected:
        return ["expected:", *(f"  {t}" for t in expected.splitlines())]
    return []


_CODE = re.compile(r"`([^`]+)`")
_EMPHASIS = re.compile(r"(?<![*\w])\*(\w[^*\n]*?\w|\w)\*(?![*\w])")


def plain(text: str) -> str:
    """Hint text for text/plain: Markdown code spans and *emphasis* lose their marks."""
    parts = _CODE.split(text)
    return "".join(p if i % 2 else _EMPHASIS.sub(r"\1", p) for i, p in enumerate(parts))


def rich(text: str) -> str:
    """Hint text for HTML: escaped, Markdown code spans as ``<code>``, *emphasis* as
    ``<em>``."""
    parts = _CODE.split(text)
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2
                   else _EMPHASIS.sub(r"<em>\1</em>", html.escape(p))
                   for i, p in enumerate(parts))


_PRE = "overflow-x:auto;font-size:92%;line-height:1.35"
_CELL = "text-align:left;vertical-align:top;word-break:normal;overflow-wrap:normal;hyphens:manual"
_OPS = {
    " ": ("", "  "),
    "-": ("background:#fde8e8", "- "),
    "+": ("background:#e6f4e6", "+ "),
}


def diff_html(expected: str, actual: str) -> str:
    """The same diff as ``diff_text``, as a ``<pre>`` with marked lines (text marks too, so
    it reads without colour)."""
    e = html.escape
    if not (expected and actual and expected != actual):
        return "".join(f"<div>{e(t)}</div>" for t in diff_text(expected, actual)[:1]) + (
            f"<div style='{_PRE}'><pre>" + e("\n".join(
                t[2:] for t in diff_text(expected, actual)[1:])) + "</pre></div>"
            if diff_text(expected, actual) else "")
    rows = []
    for line in diff(expected, actual):
        if line.op == "...":
            rows.append(f"<span style='color:#666'>  {e(line.text)}</span>")
            continue
        style, prefix = _OPS[line.op]
        text = e(prefix + line.text)
        if line.first:
            style += ";font-weight:bold;outline:1px solid #b00"
            text += f"   <b>{e(FIRST_DIFFERENCE)}</b>"
        rows.append(f"<span style='{style}'>{text}</span>")
    return (f"<div>expected (-) / actual (+):</div><div style='{_PRE}'><pre>"
            + "\n".join(rows) + "</pre></div>")


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

    def _groups(self) -> list[tuple[Row, Row | None]]:
        """Each row with the earlier row it repeats (same mistake, same words), if any:
        one bug that fails five scenarios is explained once."""
        seen: dict[tuple[str | None, str], Row] = {}
        out: list[tuple[Row, Row | None]] = []
        for row in self.rows:
            key = (row.kind, row.detail)
            same = seen.get(key) if row.status == "fail" else None
            if row.status == "fail" and same is None:
                seen[key] = row
            out.append((row, same))
        return out

    def to_text(self) -> str:
        lines = [self._headline()]
        for row, same in self._groups():
            lines.append(f"  {row.label:<18} {row.name}")
            if same is not None:
                lines.append(f'      same mistake as in "{same.name}" (see above)')
                continue
            if row.detail and row.status != "pass":
                lines.extend(f"      {line}" for line in plain(row.detail).splitlines())
            if row.status == "fail":
                lines.extend(f"      {line}" for line in diff_text(row.expected, row.actual))
        if self.note:
            lines.append(self.note)
        if self.hint:
            kind = f" ({self.hint_kind})" if self.hint_kind else ""
            lines.append(f"hint{kind}: {plain(self.hint)}")
        if self.status != "pass":
            lines.append(f'a step-by-step hint: wslearn.hint("{self.exercise}", 1)')
        return "\n".join(lines)

    def details(self) -> str:
        """Every scenario with its expected and actual text, passing ones included (the
        table shows a passing scenario as one line)."""
        lines = [self._headline()]
        for row in self.rows:
            lines.append(f"  {row.label:<18} {row.name}")
            if row.detail:
                lines.extend(f"      {line}" for line in row.detail.splitlines())
            lines.extend(f"      {line}" for line in diff_text(row.expected, row.actual))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()

    __str__ = __repr__

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.to_text())

    def _repr_html_(self) -> str:
        e = html.escape
        rows = []
        for row, same in self._groups():
            name = f"<td style='{_CELL};min-width:16em'>{e(row.name)}</td>"
            label = f"<td style='{_CELL};white-space:nowrap'><b>{e(row.label)}</b></td>"
            if same is not None:
                body = f"same mistake as in <i>{e(same.name)}</i> (see above)"
            elif row.status == "fail":
                detail = f"<div>{rich(row.detail)}</div>" if row.detail else ""
                body = detail + diff_html(row.expected, row.actual)
            elif row.status == "pass" and (row.expected or row.actual or row.detail):
                inner = (f"<div>{rich(row.detail)}</div>" if row.detail else "") + diff_html(
                    row.expected, row.actual)
                body = f"<details><summary>details</summary>{inner}</details>"
            else:
                body = rich(row.detail)
            rows.append(f"<tr>{label}{name}<td style='{_CELL}'>{body}</td></tr>")
        parts = [
            f"<p><b>{e(self._headline())}</b></p>",
            "<table class='wslearn-check' style='border-collapse:collapse'><thead><tr>"
            f"<th style='{_CELL}'>result</th><th style='{_CELL}'>scenario</th>"
            f"<th style='{_CELL}'>what happened</th></tr></thead><tbody>",
            *rows,
            "</tbody></table>",
        ]
        if self.note:
            parts.append(f"<p>{rich(self.note)}</p>")
        if self.hint:
            kind = f" ({e(self.hint_kind)})" if self.hint_kind else ""
            parts.append(f"<p><b>hint{kind}:</b> {rich(self.hint)}</p>")
        if self.status != "pass":
            call = f'wslearn.hint("{e(self.exercise)}", 1)'
            parts.append(f"<p>a step-by-step hint: <code>{call}</code></p>")
        return "".join(parts)
