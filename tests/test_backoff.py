"""BackoffPolicy: the seed's schedule, limits, jitter formulas, and properties."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wslearn.backoff import BackoffPolicy

FAST = settings(deadline=None, max_examples=150)


def test_default_is_the_seeds_schedule() -> None:
    policy = BackoffPolicy()
    assert policy.delays() == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert policy.total() == 31.0
    assert policy.describe() == "1s, 2s, 4s, 8s, 16s (5 attempts, no jitter)"


def test_cap_limits_each_delay() -> None:
    policy = BackoffPolicy(cap=5.0, max_attempts=6)
    assert policy.delays() == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_every_knob_is_configurable() -> None:
    policy = BackoffPolicy(base=0.5, factor=3.0, cap=100.0, max_attempts=4)
    assert policy.delays() == [0.5, 1.5, 4.5, 13.5]
    assert policy.gives_up_after(4) and not policy.gives_up_after(3)


def test_forever_is_allowed_only_to_demonstrate_the_mistake() -> None:
    policy = BackoffPolicy(max_attempts=None)
    with pytest.raises(ValueError, match="forever"):
        policy.delays()
    delays = policy.iter_delays()
    assert [next(delays) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert not policy.gives_up_after(1000)
    assert "forever" in policy.describe()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"base": 0}, ValueError, "base must be > 0"),
        ({"base": -1}, ValueError, "base"),
        ({"factor": 0.5}, ValueError, "factor must be >= 1"),
        ({"cap": 0.5}, ValueError, "cap"),
        ({"max_attempts": 0}, ValueError, "max_attempts"),
        ({"max_attempts": 2.5}, ValueError, "max_attempts"),
        ({"max_attempts": True}, ValueError, "max_attempts"),
        ({"jitter": "some"}, ValueError, "jitter must be one of"),
        ({"base": "1"}, TypeError, "must be a number"),
        ({"base": math.inf}, ValueError, "finite"),
        ({"seed": "x"}, TypeError, "seed"),
    ],
)
def test_bad_settings_get_clear_errors(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        BackoffPolicy(**kwargs)


def test_attempt_numbers_are_checked() -> None:
    policy = BackoffPolicy()
    with pytest.raises(ValueError, match="start at 1"):
        policy.delay(0)
    with pytest.raises(ValueError, match="past max_attempts"):
        policy.delay(6)
    with pytest.raises(TypeError):
        policy.delay(1.0)  # type: ignore[arg-type]


def test_full_jitter_is_seeded_and_within_the_aws_bounds() -> None:
    policy = BackoffPolicy(jitter="full", seed=7)
    first = policy.delays()
    assert first == policy.delays() == BackoffPolicy(jitter="full", seed=7).delays()
    assert first != BackoffPolicy(jitter="full", seed=8).delays()
    for k, d in enumerate(first, start=1):
        assert 0 <= d <= policy.ceiling(k)
    assert "full jitter, seed 7" in policy.describe()


def test_equal_jitter_keeps_at_least_half() -> None:
    policy = BackoffPolicy(jitter="equal", seed=1)
    for k, d in enumerate(policy.delays(), start=1):
        assert policy.ceiling(k) / 2 <= d <= policy.ceiling(k)


def test_huge_factor_does_not_overflow() -> None:
    policy = BackoffPolicy(factor=1e300, cap=60, max_attempts=10)
    assert policy.delays()[-1] == 60


@FAST
@given(
    base=st.floats(0.001, 100),
    factor=st.floats(1, 10),
    cap_extra=st.floats(0, 1000),
    attempts=st.integers(1, 40),
    jitter=st.sampled_from(["none", "full", "equal"]),
    seed=st.integers(0, 2**32),
)
def test_schedule_properties(base, factor, cap_extra, attempts, jitter, seed) -> None:
    policy = BackoffPolicy(base, factor, base + cap_extra, attempts, jitter, seed)
    delays = policy.delays()
    assert len(delays) == attempts
    assert delays == policy.delays()  # same seed, same schedule
    ceilings = [policy.ceiling(k) for k in range(1, attempts + 1)]
    assert all(a <= b for a, b in itertools.pairwise(ceilings))  # never shrinks
    assert all(c <= policy.cap for c in ceilings)
    for d, c in zip(delays, ceilings, strict=True):
        assert 0 <= d <= c + 1e-3
        if jitter == "none":
            assert d == c
        if jitter == "equal":
            assert d >= c / 2 - 1e-3
    assert math.isclose(policy.total(), sum(delays), abs_tol=1e-6)
