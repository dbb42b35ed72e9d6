"""Benchmark: Command's snapshot store against `git add -A && git commit` (what Cline's checkpoints do).

A synthetic workspace of 5,000 files / ~100 MB (4,900 small text files and 100 larger binary
files of random bytes) is captured:

* cold: empty snapshot store and no stat cache, versus `git init` + `git add -A && git commit`
  into a separate git directory;
* incremental: after changing one file, versus `git add -A && git commit` again. Command's
  figure is the normal path in a long-lived worker (an inotify watcher started by the previous
  capture names the changed paths); the figure without the watcher (every file stat'ed against
  the stat cache, as in a fresh process) is reported next to it.

Both sides run with a warm page cache on the same disk. The Command side times
`workspaces.snapshots.capture` (every new blob written and synced with syncfs before it
returns, the manifest stored, the stat cache saved); the database row of a rollback point (one
INSERT) is not included. Not a timed test: run `.venv/bin/python bench/snapshots.py`.
Results are printed and written to bench/results/snapshots.json.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = 5000
LARGE_FILES = 100
LARGE_SIZE = 800 * 1024
SMALL_SIZE = 4 * 1024
COLD_RUNS = 3
INCREMENTAL_RUNS = 5
TARGET_COLD = 1.0
TARGET_INCREMENTAL = 0.5


def setup_django(data_dir: Path) -> None:
    sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "command_site.settings"
    os.environ["COMMAND_DATA_DIR"] = str(data_dir)
    os.environ["COMMAND_ENV_FILE"] = ""
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()


def make_workspace(root: Path) -> int:
    rng = random.Random(5)
    words = [f"word{i}" for i in range(500)]
    total = 0
    for i in range(FILES):
        folder = root / f"pkg{i % 50:02d}" / f"mod{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        if i < LARGE_FILES:
            data = rng.randbytes(LARGE_SIZE)
            path = folder / f"asset{i}.bin"
        else:
            line = " ".join(rng.choice(words) for _ in range(12)) + "\n"
            data = (f"# file {i}\n" + line * (SMALL_SIZE // len(line))).encode()
            path = folder / f"file{i}.txt"
        path.write_bytes(data)
        total += len(data)
    return total


def git(git_dir: Path, work: Path, *args: str) -> None:
    subprocess.run(
        ["git", f"--git-dir={git_dir}", f"--work-tree={work}", "-c", "user.name=bench", "-c", "user.email=b@x", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def git_snapshot(git_dir: Path, work: Path) -> float:
    start = time.perf_counter()
    git(git_dir, work, "add", "-A")
    git(git_dir, work, "commit", "-q", "--allow-empty", "-m", "checkpoint")
    return time.perf_counter() - start


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="command-bench-"))
    try:
        setup_django(scratch / "data")
        from workspaces import snapshots

        work = scratch / "workspace"
        work.mkdir()
        size = make_workspace(work)
        # Let every mtime age past the racy window, as on a real project that is not being written.
        time.sleep(0.2)
        target = next(work.rglob("file2500.txt"))

        cold_command, cold_git = [], []
        for run in range(COLD_RUNS):
            store = snapshots.SnapshotStore(scratch / f"store{run}")
            start = time.perf_counter()
            manifest, _ = snapshots.capture(root=work, cache_key="bench", store=store)
            cold_command.append(time.perf_counter() - start)
            assert len(manifest.files) == FILES
            git_dir = scratch / f"git{run}"
            subprocess.run(["git", "init", "-q", "--bare", str(git_dir)], check=True)
            cold_git.append(git_snapshot(git_dir, work))

        store = snapshots.SnapshotStore(scratch / f"store{COLD_RUNS - 1}")
        # The scan without the watcher writes into a store of its own (another cold run's, holding
        # the same blobs): the changed file's new blob is new to each side, so neither capture is
        # timed after the other has already stored it. The watcher's figure (the target) goes first.
        scan_store = snapshots.SnapshotStore(scratch / f"store{COLD_RUNS - 2}")
        git_dir = scratch / f"git{COLD_RUNS - 1}"
        inc_command, inc_scan, inc_git = [], [], []
        for run in range(INCREMENTAL_RUNS):
            with open(target, "a") as handle:
                handle.write(f"change {run}\n")
            time.sleep(0.1)  # past the racy window, so the stat-cache scan is not penalised
            start = time.perf_counter()
            manifest, _ = snapshots.capture(root=work, cache_key="bench", store=store)
            inc_command.append(time.perf_counter() - start)
            start = time.perf_counter()
            scanned, _ = snapshots.capture(root=work, cache_key="bench-scan", store=scan_store, use_watcher=False)
            inc_scan.append(time.perf_counter() - start)
            assert manifest.to_bytes() == scanned.to_bytes()
            inc_git.append(git_snapshot(git_dir, work))

        result = {
            "workspace": {"files": FILES, "bytes": size, "megabytes": round(size / 1e6, 1)},
            "cold_seconds": {"command": statistics.median(cold_command), "git": statistics.median(cold_git)},
            "incremental_seconds": {"command": statistics.median(inc_command), "git": statistics.median(inc_git)},
            # The same capture without the inotify watcher (another process, or no inotify):
            # every file is stat'ed against the stat cache.
            "incremental_stat_scan_seconds": statistics.median(inc_scan),
            "runs": {"cold": COLD_RUNS, "incremental": INCREMENTAL_RUNS, "statistic": "median"},
            "samples": {
                "cold_command": cold_command,
                "cold_git": cold_git,
                "inc_command": inc_command,
                "inc_stat_scan": inc_scan,
                "inc_git": inc_git,
            },
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
            },
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        result["cold_ratio"] = result["cold_seconds"]["command"] / result["cold_seconds"]["git"]
        result["incremental_ratio"] = result["incremental_seconds"]["command"] / result["incremental_seconds"]["git"]
        result["incremental_stat_scan_ratio"] = (
            result["incremental_stat_scan_seconds"] / result["incremental_seconds"]["git"]
        )
        result["targets"] = {"cold_ratio_max": TARGET_COLD, "incremental_ratio_max": TARGET_INCREMENTAL}
        result["meets_targets"] = (
            result["cold_ratio"] <= TARGET_COLD and result["incremental_ratio"] <= TARGET_INCREMENTAL
        )

        out = REPO / "bench" / "results" / "snapshots.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"Synthetic workspace: {FILES} files, {size / 1e6:.1f} MB")
        print(f"{'':14}{'Command':>10}{'git':>10}{'ratio':>8}{'target':>9}")
        for label, key, ratio, goal in (
            ("cold", "cold_seconds", result["cold_ratio"], TARGET_COLD),
            ("incremental", "incremental_seconds", result["incremental_ratio"], TARGET_INCREMENTAL),
        ):
            c, g = result[key]["command"], result[key]["git"]
            print(f"{label:14}{c:>9.3f}s{g:>9.3f}s{ratio:>7.2f}x{'≤ ' + str(goal) + 'x':>9}")
        scan, scan_ratio = result["incremental_stat_scan_seconds"], result["incremental_stat_scan_ratio"]
        git_inc = result["incremental_seconds"]["git"]
        print(f"{'no watcher':14}{scan:>9.3f}s{git_inc:>9.3f}s{scan_ratio:>7.2f}x   (stat-cache scan, fresh process)")
        print(f"Meets targets: {'yes' if result['meets_targets'] else 'NO'} — written to {out.relative_to(REPO)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
