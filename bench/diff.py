"""Diff: a 20,000-line file with 1 % of its lines changed, Command's `workspaces.diffs.compute`
(what every FileChange stores) against `git diff --no-index` on the same two files.

Both sides get the bytes from disk; git's figure includes its process start, which is what a
tool shelling out to git pays. Medians of 7 runs each, interleaved.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
import time
from pathlib import Path

from bench.harness import emit, figure, median, setup_django

LINES = 20_000
CHANGED = 0.01
RUNS = 7


def make_files(folder: Path) -> tuple[Path, Path, int]:
    rng = random.Random(7)
    words = [f"word{i}" for i in range(2000)]
    before = [" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))) + "\n" for _ in range(LINES)]
    after = list(before)
    changed = rng.sample(range(LINES), int(LINES * CHANGED))
    for i in changed:
        after[i] = "changed " + after[i]
    a, b = folder / "before.txt", folder / "after.txt"
    a.write_text("".join(before))
    b.write_text("".join(after))
    return a, b, len(changed)


def main() -> list[dict]:
    setup_django()
    from workspaces import diffs

    with tempfile.TemporaryDirectory() as tmp:
        a, b, changed = make_files(Path(tmp))
        ours, git = [], []
        result = None
        for _ in range(RUNS):
            t0 = time.perf_counter()
            result = diffs.compute("file.txt", a.read_bytes(), b.read_bytes())
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(["git", "diff", "--no-index", "--no-color", str(a), str(b)], capture_output=True)
            git.append(time.perf_counter() - t0)
    value, base = median(ours) * 1000, median(git) * 1000
    note = f"{changed} changed lines; Command's diff: +{result.added} −{result.removed}"
    if result.truncated or not result.text:
        note += " (Command did not produce a full diff: input over its size limit or truncated)"
    return [
        figure(
            "diff",
            f"diff of a {LINES:,}-line file, 1 % changed",
            value,
            "ms",
            baseline=base,
            baseline_name="git diff --no-index",
            note=note,
        )
    ]


if __name__ == "__main__":
    emit(main())
