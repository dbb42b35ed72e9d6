"""Sandbox: what starting a command under bubblewrap costs, against the same command started bare.

Both sides go through what `tasks.engine.commands.command_run` does to start and finish a command:
the sandboxed side builds its launch (`command_launch`: bwrap arguments, the pids cgroup, the
rlimit wrapper), starts it, waits, and empties the cgroup; the bare side starts `/bin/sh -c` with
the scrubbed environment the unsandboxed path uses. The command is `true`, so the figure is the
start-up cost alone. Interleaved, RUNS each; p50 (and p95 in the note). Target: ≤ 30 ms added.

A second figure: the same sandboxed launch under the lease watchdog (command_site.lease_watchdog,
which command_run puts around every command so that it never outlives its worker's lease),
against that launch started without it, interleaved in the same loop. Target: ≤ 25 ms added (it
is one more Python interpreter start: `python -I -S`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import REPO, emit, figure, percentile

RUNS = 200
TARGET_ADDED_MS = 30.0
WATCHDOG_TARGET_ADDED_MS = 25.0


def main() -> list[dict]:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_site.settings")
    import django

    django.setup()
    from django.conf import settings

    from command_site.sandbox import sandbox_status
    from tasks.engine.commands import command_environment, command_launch, lease_watched

    settings.COMMAND_SANDBOX = "on"
    status = sandbox_status()
    if not status.sandboxed:
        raise RuntimeError(f"no sandbox to measure: {status.detail}")
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        bare, boxed, watched = [], [], []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                ["/bin/sh", "-c", "true"], cwd=ws, env=command_environment(), start_new_session=True
            )
            proc.wait()
            bare.append((time.perf_counter() - t0) * 1000)
            assert proc.returncode == 0

            t0 = time.perf_counter()
            launch = command_launch(command="true", workspace=ws, cwd=ws)
            proc = subprocess.Popen(launch.argv, cwd="/", env=launch.env, start_new_session=True)
            proc.wait()
            launch.cleanup()
            boxed.append((time.perf_counter() - t0) * 1000)
            assert proc.returncode == 0, "the sandboxed command failed"

            t0 = time.perf_counter()
            launch = command_launch(command="true", workspace=ws, cwd=ws)
            read, write = os.pipe()
            argv, fds = lease_watched(launch, deadline_fd=read, deadline=time.monotonic() + 600)
            proc = subprocess.Popen(argv, cwd="/", env=launch.env, start_new_session=True, pass_fds=fds)
            os.close(read)
            proc.wait()
            os.close(write)
            launch.cleanup()
            watched.append((time.perf_counter() - t0) * 1000)
            assert proc.returncode == 0, "the command under its lease watchdog failed"
    p50_bare, p50_boxed = percentile(bare, 50), percentile(boxed, 50)
    added = p50_boxed - p50_bare
    return [
        figure(
            "sandbox",
            "command start in the sandbox (true), p50",
            p50_boxed,
            "ms",
            baseline=p50_bare,
            baseline_name="the same command started bare",
            target=f"≤ {TARGET_ADDED_MS:.0f} ms added",
            met=added <= TARGET_ADDED_MS,
            note=(
                f"{RUNS} interleaved starts each: +{added:.1f} ms at p50; p95 {percentile(boxed, 95):.1f} ms "
                f"sandboxed vs {percentile(bare, 95):.1f} ms bare; process limit "
                f"{'on (pids cgroup)' if status.process_limit else 'off'}"
            ),
            extra={"added_ms_p50": round(added, 3)},
        ),
        figure(
            "sandbox",
            "command start in the sandbox under the lease watchdog (true), p50",
            percentile(watched, 50),
            "ms",
            baseline=p50_boxed,
            baseline_name="the same sandboxed launch without the watchdog",
            target=f"≤ {WATCHDOG_TARGET_ADDED_MS:.0f} ms added",
            met=percentile(watched, 50) - p50_boxed <= WATCHDOG_TARGET_ADDED_MS,
            note=(
                f"{RUNS} interleaved starts each: +{percentile(watched, 50) - p50_boxed:.1f} ms at p50; "
                f"p95 {percentile(watched, 95):.1f} ms watched vs {percentile(boxed, 95):.1f} ms"
            ),
            extra={"added_ms_p50": round(percentile(watched, 50) - p50_boxed, 3)},
        ),
    ]


if __name__ == "__main__":
    emit(main())
