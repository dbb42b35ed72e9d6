"""The arithmetic every benchmark figure goes through."""

from __future__ import annotations

import math

from bench.harness import figure, percentile


def test_percentile_interpolates_like_numpy_linear():
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 50) == 30.0
    assert percentile(values, 95) == 48.0
    assert percentile(list(reversed(values)), 0) == 10.0
    assert math.isnan(percentile([], 95))


def test_figure_ratio_is_value_over_baseline_and_absent_without_one():
    f = figure("x", "p95", 30.0, "ms", baseline=20.0, baseline_name="echo", target="≤ 1.5×", met=True)
    assert f["ratio"] == 1.5 and f["baseline"] == 20.0 and f["met"] is True
    assert figure("x", "rate", 7.0, "runs/s")["ratio"] is None
