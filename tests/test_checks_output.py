"""What a learner reads: a passing scenario is one line, a failure is a real diff with the
first deviation marked (text and HTML alike), one mistake repeated in several scenarios is
explained once, and no raw Markdown or mid-word breaks reach the page."""

from __future__ import annotations

from wslearn.checks import CheckResult, Row
from wslearn.checks._result import FIRST_DIFFERENCE, diff, plain, rich

EXPECTED = "t=0 connect #1 open\nt=1 connect #2 failed\nt=3 connect #3 open\nt=3 done"
ACTUAL = ("t=0 connect #1 open\nt=0 extra line\nt=1 connect #2 failed\nt=3 connect #3 open\n"
          "t=3 done")


def _result() -> CheckResult:
    return CheckResult("backoff", [
        Row("first", "pass", "", "same\nlines", "same\nlines"),
        Row("second", "fail", "an extra attempt at `t=0`", EXPECTED, ACTUAL, "no-backoff"),
        Row("third", "fail", "an extra attempt at `t=0`", EXPECTED, ACTUAL, "no-backoff"),
    ], status="fail", hint="Use `await asyncio.sleep(delay)`.", hint_kind="no-backoff")


def test_one_extra_line_is_one_plus_line_not_every_later_line() -> None:
    lines = diff(EXPECTED, ACTUAL)
    changed = [line for line in lines if line.op in "+-"]
    assert [(line.op, line.text) for line in changed] == [("+", "t=0 extra line")]
    assert changed[0].first and sum(line.first for line in lines) == 1


def test_text_shows_the_diff_marks_the_first_deviation_and_groups_repeats() -> None:
    text = _result().to_text()
    assert "+ t=0 extra line   " + FIRST_DIFFERENCE in text
    assert text.count(FIRST_DIFFERENCE) == 1  # the third row repeats the second: once
    assert 'same mistake as in "second"' in text
    passing = text.splitlines()[1]
    assert passing.strip().endswith("first") and "same" not in text.splitlines()[2]
    assert "`" not in text  # hints and details without raw Markdown


def test_html_marks_the_same_first_deviation_and_hides_passing_details() -> None:
    page = _result()._repr_html_()
    assert FIRST_DIFFERENCE.replace("<", "&lt;") in page
    assert "<details><summary>details</summary>" in page  # details on demand
    assert "same mistake as in <i>second</i>" in page
    assert "`" not in page and "<code>await asyncio.sleep(delay)</code>" in page
    assert "word-break:normal" in page and "break-all" not in page


def test_markdown_code_spans() -> None:
    assert plain("call `f(x)` now") == "call f(x) now"
    assert rich("a `<b>` tag") == "a <code>&lt;b&gt;</code> tag"
    assert plain("cancel the *task*, `2 ** k`") == "cancel the task, 2 ** k"
    assert rich("the *task*") == "the <em>task</em>"
    assert plain("2 * 3 * 4") == "2 * 3 * 4"


def test_details_show_passing_scenarios_in_full() -> None:
    details = _result().details()
    assert "expected and actual:\n        same\n        lines" in details
