"""Targets judged on the median of several runs, with the spread shown; stale figures say so."""

from __future__ import annotations

from bench.harness import figure
from bench.judging import combine, judge, keep_stale, stamp


def _latency(ratio: float) -> dict:
    target = "p95 ≤ 1.5× baseline"
    return figure("latency-redis", "live latency p95", 10 * ratio, "ms", baseline=10.0, target=target, met=ratio <= 1.5)


def test_the_target_is_judged_on_the_median_and_every_run_is_shown():
    [one] = combine([[_latency(r)] for r in (1.48, 1.73, 1.09)])
    assert one["ratio"] == 1.48 and one["met"] is True
    assert one["spread"]["ratios"] == [1.48, 1.73, 1.09] and one["spread"]["runs"] == 3
    assert one["note"].startswith("median of 3 runs; ratio 1.09–1.73×")
    [over] = combine([[_latency(r)] for r in (1.48, 1.73, 1.55)])
    assert over["ratio"] == 1.55 and over["met"] is False, "one good run does not carry the figure"


def test_targets_of_each_form_are_read_and_others_are_not_guessed():
    assert judge("≤ 1.2× baseline", value=999, ratio=1.1) is True
    assert judge("≤ 1.2× baseline", value=1, ratio=1.3) is False
    assert judge("≤ 150 ms", value=151, ratio=None) is False
    assert judge("≥ 0.5× procrastinate", value=1, ratio=0.6) is True
    assert judge("≤ 1.2× baseline", value=1, ratio=None) is None
    assert judge("(reported)", value=1, ratio=1) is None
    # As the latency figures word them.
    assert judge("p95 ≤ 1.5× baseline", value=16.5, ratio=1.33) is True
    assert judge("p95 ≤ 250 ms", value=65.3, ratio=5.35) is True


def test_each_figure_carries_its_time_and_a_kept_one_says_it_is_stale():
    [fresh] = stamp([_latency(1.0)], "2026-12-05T14:00:00Z")
    assert fresh["measured_at"] == "2026-12-05T14:00:00Z" and fresh["stale"] is False
    [kept] = keep_stale([fresh], "2026-12-06T09:00:00Z")
    assert kept["measured_at"] == "2026-12-05T14:00:00Z" and kept["stale"] is True
    [old] = keep_stale([_latency(1.0)], "2026-12-04T10:00:00Z")
    assert old["measured_at"] == "2026-12-04T10:00:00Z" and old["stale"] is True
