"""wslearn.lessons.herd: the thundering-herd measurement of chapter 03."""

from __future__ import annotations

import pytest

from wslearn import BackoffPolicy
from wslearn.lessons.herd import HerdRun, herd_histogram, thundering_herd


def test_without_jitter_every_client_knocks_in_the_same_instant() -> None:
    run = thundering_herd(40, jitter="none", down_for=10)
    assert isinstance(run, HerdRun)
    # attempts at 1, 3, 7 s see a stopped server; attempt 4 at 15 s is the herd
    assert run.arrivals == (15.0,) * 40
    assert run.peak(0.1) == 40
    assert run.gave_up == 0
    assert run.last_back == 15.0


def test_full_jitter_spreads_the_arrivals_and_is_deterministic() -> None:
    first = thundering_herd(40, jitter="full", down_for=10)
    again = thundering_herd(40, jitter="full", down_for=10)
    assert first == again
    assert first.peak(0.1) < 40 // 2
    assert all(t >= 10 for t in first.arrivals)  # a stopped server sees nothing


def test_equal_jitter_keeps_the_budget_long_enough() -> None:
    run = thundering_herd(40, jitter="equal", down_for=10)
    assert run.gave_up == 0  # equal jitter waits at least 15.5 s in 5 attempts


def test_a_short_budget_gives_up_during_a_long_outage() -> None:
    run = thundering_herd(5, jitter="none", down_for=40, policy=BackoffPolicy(max_attempts=3))
    assert run.gave_up == 5
    assert run.arrivals == ()
    assert "gave up: 5" in run.summary()


def test_histogram_rows_follow_the_runs() -> None:
    runs = [thundering_herd(10, jitter=j, down_for=10) for j in ("none", "full")]
    chart = herd_histogram(runs, bin_width=0.5, start=10, stop=39.9)
    names = [name for name, _ in chart.series]
    assert names == ["no jitter", "full jitter"]
    assert sum(chart.series[0][1]) == 10
    assert "<svg" in chart.to_svg()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        thundering_herd(0)
    with pytest.raises(ValueError):
        thundering_herd(3, down_for=0)
    with pytest.raises(ValueError):
        herd_histogram([])
