"""Charts must be byte-stable (nbval stores them) and must not lose samples."""

from __future__ import annotations

import random

import pytest

from wslearn.charts import bar_chart, histogram


def test_bar_chart_text_and_svg_are_stable() -> None:
    a = bar_chart({"infinite retry": 600, "backoff + max 5": 5}, title="attempts", unit="hits")
    b = bar_chart([("infinite retry", 600), ("backoff + max 5", 5)], title="attempts",
                  unit="hits")
    assert a.to_svg() == b.to_svg()
    assert repr(a).splitlines()[1].endswith("600 hits")
    assert "backoff + max 5" in a.to_svg()
    bundle = a._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}  # no image/svg+xml: needs trust
    assert bundle["text/html"].startswith('<img class="wslearn-picture" src="data:image/svg+xml')


def test_histogram_counts_every_sample_and_is_deterministic() -> None:
    rng = random.Random(7)
    values = [rng.uniform(0, 16) for _ in range(200)]
    h = histogram({"full jitter": values, "no jitter": [1.0] * 200}, bin_width=0.5,
                  title="reconnects", xlabel="s")
    assert [sum(c) for _, c in h.series] == [200, 200]
    assert h.to_svg() == histogram({"full jitter": values, "no jitter": [1.0] * 200},
                                   bin_width=0.5, title="reconnects", xlabel="s").to_svg()
    assert "no jitter: peak 200" in repr(h)


def test_out_of_range_values_are_clamped_not_dropped() -> None:
    h = histogram([-1, 0, 5, 99], bin_width=1, start=0, stop=5)
    assert sum(h.series[0][1]) == 4


def test_bad_bin_width_says_what_to_do() -> None:
    with pytest.raises(ValueError, match="positive number"):
        histogram([1, 2], bin_width=0)
