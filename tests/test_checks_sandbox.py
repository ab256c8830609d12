"""Learner code that raises, hangs, loops forever or never awaits is reported cleanly,
within a bound, and leaves nothing behind (the autouse leak guard checks threads and
sockets after every test). Also: results and hints render deterministically."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import wait_until

import wslearn
from wslearn.audit import snapshot
from wslearn.checks import check, hint
from wslearn.checks._sandbox import PacedLoop, run

ROOT = Path(__file__).resolve().parent.parent


def delay(attempt):
    return min(30.0, 2.0 ** (attempt - 1))


def bounded_check(*objects, **options):
    """Run the backoff checker. "Returns within a bound" is the ``timeout`` marker's job
    (pytest-timeout fails a test that overruns it): no test measures how long it took."""
    return check("backoff", *objects, record=False, real=False, **options)


@pytest.mark.timeout(30)  # the bound: the sandbox stops the learner's code
def test_raising_code_is_reported_with_its_line() -> None:
    async def keep(url, connect, on_message):
        raise ZeroDivisionError("boom")

    result = bounded_check(delay, keep)
    assert result.status == "fail"
    assert result.hint_kind == "raises"
    assert "ZeroDivisionError: boom (in keep, line" in result.to_text()


@pytest.mark.timeout(30)  # the bound: the sandbox stops the learner's code
def test_hanging_code_costs_no_real_time() -> None:
    async def keep(url, connect, on_message):
        await asyncio.Event().wait()  # waits forever: under virtual time that is instant

    result = bounded_check(delay, keep)
    assert result.status == "fail"
    assert result.hint_kind in ("returns-early", "no-reconnect", "hangs")


@pytest.mark.timeout(30)  # the bound: the sandbox stops the learner's code
def test_busy_loop_is_interrupted_after_the_deadline() -> None:
    async def keep(url, connect, on_message):
        while True:
            pass

    result = bounded_check(delay, keep, deadline=0.5)
    assert result.hint_kind == "busy-loop"
    assert "still running after 0.5 s" in result.to_text()
    assert [r.status for r in result.rows[2:]] == ["skip"] * (len(result.rows) - 2)


@pytest.mark.timeout(30)  # the bound: the sandbox stops the learner's code
def test_busy_loop_that_catches_exception_is_still_stopped() -> None:
    async def keep(url, connect, on_message):
        while True:
            try:
                while True:
                    pass
            except Exception:  # Aborted is a BaseException: this cannot catch it
                continue

    result = bounded_check(delay, keep, deadline=0.5)
    assert result.hint_kind == "busy-loop"


def test_spinning_on_sleep_zero_is_a_busy_loop() -> None:
    async def keep(url, connect, on_message):
        while True:
            await asyncio.sleep(0)  # awaits, but virtual time never moves

    result = bounded_check(delay, keep, deadline=0.5)
    assert result.hint_kind == "busy-loop"


@pytest.mark.timeout(30)  # the bound: the sandbox stops the learner's code
def test_blocking_sleep_is_reported_when_it_returns() -> None:
    async def keep(url, connect, on_message):
        time.sleep(1.0)  # blocks the event loop: nothing else can run

    result = bounded_check(delay, keep, deadline=0.3)
    assert result.hint_kind == "busy-loop"


def test_plain_function_instead_of_async_def() -> None:
    def keep(url, connect, on_message):
        return None

    result = bounded_check(delay, keep)
    assert result.hint_kind == "not-async"
    assert "async def keep_connected" in result.to_text()


def test_coroutine_that_never_awaits_returns_early() -> None:
    async def keep(url, connect, on_message):
        return None

    result = bounded_check(delay, keep)
    assert result.status == "fail"
    assert result.hint_kind == "returns-early"


def test_forgotten_await_is_named() -> None:
    async def keep(url, connect, on_message):
        while True:
            try:
                async with connect(url) as ws:
                    async for text in ws:
                        on_message(text)
            except ConnectionError:
                pass
            asyncio.sleep(1)

    result = bounded_check(delay, keep)
    assert result.hint_kind == "missing-await"
    assert "coroutine 'sleep' was created but never awaited" in result.to_text()


def test_stubs_report_not_implemented() -> None:
    def backoff_delay(attempt):
        raise NotImplementedError

    async def keep_connected(url, connect, on_message):
        raise NotImplementedError

    result = bounded_check(backoff_delay, keep_connected)
    assert result.status == "not implemented"
    assert not result.passed
    assert result.hint is None
    assert "… not implemented" in result.to_text()


def test_wrong_arguments_and_unknown_names_never_raise() -> None:
    result = check("backoff", 42, record=False)
    assert result.status == "fail" and result.hint_kind == "wrong-arguments"
    result = check("no-such-exercise", record=False)
    assert result.status == "fail"
    assert "the exercises are: cleanup, backoff" in result.to_text()


def test_rendering_is_deterministic_and_labelled() -> None:
    async def keep(*args: object) -> None:
        return None

    first = bounded_check(lambda a: 2**a, keep)
    second = bounded_check(lambda a: 2**a, keep)
    assert repr(first) == repr(second)
    assert first._repr_html_() == second._repr_html_()
    html = first._repr_html_()
    assert "✗ fail" in html and "<pre>" in html
    assert " at 0x" not in html and "127.0.0.1:" not in html


def test_hints_are_stable_and_go_up_to_the_level_asked_for() -> None:
    """Run All must not use hints up: the same call shows the same hints every time."""
    first, again = hint("backoff"), hint("03_backoff")
    assert repr(first) == repr(again)
    assert repr(first).startswith("hint 1/5 for backoff:")
    assert 'next hint: wslearn.hint("backoff", 2)' in repr(first)
    second = repr(hint("backoff", 2))
    assert second.startswith("hint 1/5 for backoff:") and "\nhint 2/5 for backoff:" in second
    assert repr(hint("backoff", 2)) == second
    last = repr(hint("exercises/03_backoff.ipynb", 6))
    assert "hint 5/5" in last and "solutions/03_backoff.ipynb" in last
    assert repr(hint("backoff", 99)) == last
    for text in (repr(hint("backoff", 5)), repr(hint("cleanup", 5))):
        assert "`" not in text  # no raw Markdown in text output
    assert "<code>" in hint("backoff", 5)._repr_html_()
    with pytest.raises(ValueError, match="whole number"):
        hint("backoff", 0)


def test_check_and_hint_are_exported_lazily() -> None:
    assert wslearn.check is check
    assert wslearn.hint is hint


def test_leftovers_reports_nothing_after_a_real_run() -> None:
    def backoff_delay(attempt):
        return min(30.0, 2.0 ** (attempt - 1))

    async def keep_connected(url, connect, on_message):
        attempt = 0
        while True:
            try:
                async with connect(url) as ws:
                    attempt = 0
                    async for text in ws:
                        on_message(text)
            except ConnectionError:
                pass
            attempt += 1
            await asyncio.sleep(backoff_delay(attempt))

    result = check("backoff", backoff_delay, keep_connected, record=False)
    assert result.passed, result
    with contextlib.suppress(TimeoutError):  # a stopped server's thread takes a moment
        wait_until(lambda: snapshot().clean, 3.0)
    assert snapshot().clean, snapshot()


def test_paced_loop_keeps_logical_time() -> None:
    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(30)
        first = loop.time()
        async with asyncio.timeout(10):
            await asyncio.sleep(3.5)
        return first, loop.time()

    result = run(main, loop_factory=lambda: PacedLoop(1000.0), deadline=5.0)
    assert result.error is None
    assert result.value == (30.0, 33.5)  # exact: planned deadlines, not wall-clock readings


def test_cli_check_runs_an_exercise_notebook(tmp_path: Path) -> None:
    env = {**__import__("os").environ, "WSLEARN_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "wslearn", "check", "exercises/03_backoff.ipynb"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert "03_backoff" in done.stdout, done.stdout + done.stderr
    assert "not started" in done.stdout
    assert done.returncode == 1  # not passed yet
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["exercises"]["03_backoff"]["status"] == "not-started"
    shown = subprocess.run([sys.executable, "-m", "wslearn", "progress"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    assert "03_backoff" in shown.stdout and "passed" in shown.stdout


@pytest.mark.parametrize("speed", [20.0])
def test_real_run_matches_the_simulated_timeline(speed: float) -> None:
    from wslearn.checks import backoff as backoff_checker

    def backoff_delay(attempt):
        return min(30.0, 2.0 ** (attempt - 1))

    async def keep_connected(url, connect, on_message):
        attempt = 0
        while True:
            try:
                async with connect(url) as ws:
                    attempt = 0
                    async for text in ws:
                        on_message(text)
            except ConnectionError:
                pass
            attempt += 1
            await asyncio.sleep(backoff_delay(attempt))

    result = check("backoff", backoff_delay, keep_connected, record=False)
    rows = {r.name: r for r in result.rows}
    sim = next(r for r in result.rows if r.name.startswith("server stops"))
    real = rows["real server: " + sim.name]
    assert sim.actual == real.actual == backoff_checker.EXPECTED_RESTART


def test_wrong_signature_is_the_learners_problem_not_a_checker_error() -> None:
    async def keep(url, connect):  # forgot on_message
        pass

    result = bounded_check(delay, keep)
    assert result.hint_kind == "wrong-signature", result
    assert "takes 2 positional arguments but 3 were given" in result.to_text()
