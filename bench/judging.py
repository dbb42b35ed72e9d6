"""Figures measured more than once, judged on their median with the spread shown, and the
freshness of each figure in bench/results/latest.json.

`combine(runs)` takes the figure lists of several runs of one benchmark and returns one figure per
name: value, baseline and ratio are the medians, `spread` gives every run's value and ratio
(min–max), and `met` is the target judged on the median (a target of the forms "≤ 1.5× …",
"p95 ≤ 150 ms", "≥ 100 runs/s", anywhere in its words; any other is met only when every run
met it). `stamp(figures, when)` gives each figure its own `measured_at` and `stale: false`;
`keep_stale(figures)` marks figures kept from an earlier run as stale.
"""

from __future__ import annotations

import re
import statistics

_RATIO = re.compile(r"([≤≥])\s*([\d.]+)\s*×")
_VALUE = re.compile(r"([≤≥])\s*([\d.,]+)\s*[^\d\s×]")


def judge(target: str, *, value: float | None, ratio: float | None) -> bool | None:
    """Whether `value` / `ratio` meets `target`; None when the target has a form not read here."""
    match, measured = _RATIO.search(target or ""), ratio
    if match is None:
        match, measured = _VALUE.search(target or ""), value
    if match is None or measured is None:
        return None
    limit = float(match.group(2).replace(",", ""))
    return measured <= limit if match.group(1) == "≤" else measured >= limit


def _median(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def combine(runs: list[list[dict]]) -> list[dict]:
    """One figure per name from several runs (see the module docstring), in the first run's order."""
    if len(runs) == 1:
        return runs[0]
    by_name: dict[str, list[dict]] = {}
    for figures in runs:
        for f in figures:
            by_name.setdefault(f["name"], []).append(f)
    out = []
    for seen in by_name.values():
        first = seen[0]
        value, baseline, ratio = (_median([f[k] for f in seen]) for k in ("value", "baseline", "ratio"))
        met = judge(first["target"], value=value, ratio=ratio)
        if met is None and first["met"] is not None:
            met = all(f["met"] for f in seen)
        ratios = [f["ratio"] for f in seen if f["ratio"] is not None]
        spread = {"values": [f["value"] for f in seen], "runs": len(seen)}
        words = f"median of {len(seen)} runs"
        if ratios:
            spread["ratios"] = ratios
            words += f"; ratio {min(ratios):.2f}–{max(ratios):.2f}×"
        else:
            words += f"; {min(spread['values']):g}–{max(spread['values']):g} {first['unit']}"
        out.append(
            {
                **first,
                "value": value,
                "baseline": baseline,
                "ratio": ratio,
                "met": met,
                "spread": spread,
                "note": f"{words}. {first['note']}".strip(),
            }
        )
    return out


def stamp(figures: list[dict], when: str) -> list[dict]:
    return [{**f, "measured_at": when, "stale": False} for f in figures]


def keep_stale(figures: list[dict], generated_at: str = "") -> list[dict]:
    """Figures kept from an earlier run: their own time stays (the run's, for figures written
    before figures had one), and they say they are stale."""
    return [{"measured_at": generated_at, **f, "stale": True} for f in figures]
