"""The background worker, stopped cleanly however it is asked to stop.

    python -m command_site.worker        # what `make run`, `make worker` and the Procfile start

It runs django-q2's `manage.py qcluster` as a child in a session of its own and stands between it
and stop signals. Process managers (honcho under `make run`, systemd, a terminal's Ctrl-C) send
SIGTERM or SIGINT to a whole process group; a qcluster whose every process gets it never stops
(its sentinel dies at once and the cluster waits for it until it is killed, mid-step). Here only
the cluster's own process is asked, after this process has said "stopping" to the engine:

* the engine's draining jobs take no new run, and a run under way goes back to the queue at its
  next step boundary, nothing half-done (tasks.engine.executor.worker_stopping);
* django-q2 then stops its workers once their job returns.

A second SIGINT or SIGTERM stops the cluster at once (SIGKILL; the runs it held are recovered by
the next worker, as after a crash). If this process itself is killed, the kernel sends the
cluster SIGTERM (PR_SET_PDEATHSIG), so no worker outlives it unasked. No Django import here: this
process only waits, and stays small.

A crash is not a stop. When the cluster dies unasked (killed, out of memory), this process says
so and starts a new one, so a process manager that stops everything when one process ends
(honcho under `make run`) keeps the web up; the reaper of the new cluster recovers the runs the
old one held. And nothing a dead worker started lives on: this process is the subreaper of
everything below it (PR_SET_CHILD_SUBREAPER), so a command whose worker died is handed to it, and
it kills that command's whole process group at once, before recovery puts the folder back.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STOP_FILE_ENV = "COMMAND_WORKER_STOP_FILE"
MANAGE_PY = Path(__file__).resolve().parent.parent / "manage.py"
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
# After an unasked exit, wait this long before the next cluster, doubling up to the maximum while
# clusters keep dying young (a cluster that lived a minute starts the count again).
RESTART_DELAY, RESTART_DELAY_MAX, RESTART_SETTLED = 1.0, 30.0, 60.0


def default_worker_count(cpus: int | None = None) -> int:
    """Worker processes when COMMAND_WORKERS is not set: one per CPU this process may use, at least
    2 (a long command on one workspace must not hold back a run on another) and at most 8 (each is
    a whole Django process, and the embedded SQLite database takes one writer at a time: WAL,
    IMMEDIATE transactions and a busy timeout keep that orderly, more workers only queue there)."""
    if cpus is None:
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count() or 1
    return max(2, min(cpus, 8))


def _terminate_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _become_subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _children() -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                found += [int(pid) for pid in (task / "children").read_text().split()]
    return found


def kill_orphans(*, keep: int | None) -> list[int]:
    """Kill every process handed to this subreaper except `keep` (the cluster): what a dead worker
    left running (a command, in a process group of its own, and everything in that group). Returns
    the pids killed, after collecting them."""
    orphans = [pid for pid in _children() if pid != keep]
    for pid in orphans:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # a command leads its own process group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for pid in orphans:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if orphans:
        print(
            f"Worker: stopped {len(orphans)} process(es) left running by a worker that died "
            f"(pids {', '.join(map(str, orphans))}); recovery takes over their runs.",
            file=sys.stderr,
            flush=True,
        )
    return orphans


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stop_dir = tempfile.mkdtemp(prefix="command-worker-")
    stop_file = os.path.join(stop_dir, "stopping")
    env = {**os.environ, STOP_FILE_ENV: stop_file}
    _become_subreaper()

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(MANAGE_PY), "qcluster", *argv],
            env=env,
            start_new_session=True,
            preexec_fn=_terminate_with_parent,  # noqa: PLW1509 - this process starts no threads
        )

    cluster = start()
    asked = 0

    def stop(signum, frame) -> None:
        nonlocal asked
        asked += 1
        if asked == 1:
            Path(stop_file).touch()
            print(
                "Worker stopping: runs under way go back to the queue at their next step "
                "(press Ctrl-C again to stop at once).",
                file=sys.stderr,
                flush=True,
            )
            with contextlib.suppress(ProcessLookupError):
                cluster.send_signal(signal.SIGTERM)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cluster.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay = RESTART_DELAY
    try:
        while True:
            started = time.monotonic()
            while True:
                try:
                    code = cluster.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    kill_orphans(keep=cluster.pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(cluster.pid, signal.SIGKILL)  # anything the cluster left behind
            kill_orphans(keep=None)
            if asked:
                break
            delay = RESTART_DELAY if time.monotonic() - started > RESTART_SETTLED else delay
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            print(
                f"Worker stopped unexpectedly ({how}); starting a new one in {delay:g} s. "
                "The web stays up; runs it held are recovered by the new worker.",
                file=sys.stderr,
                flush=True,
            )
            deadline = time.monotonic() + delay
            while not asked and time.monotonic() < deadline:
                time.sleep(0.1)
            if asked:
                break
            delay = min(delay * 2, RESTART_DELAY_MAX)
            cluster = start()
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(cluster.pid, signal.SIGKILL)  # anything the cluster left behind
        with contextlib.suppress(OSError):
            os.unlink(stop_file)
        with contextlib.suppress(OSError):
            os.rmdir(stop_dir)
    if asked and code in (0, -signal.SIGTERM):
        return 0
    return 128 - code if code < 0 else code  # killed by signal N: the shell's 128 + N


if __name__ == "__main__":
    sys.exit(main())
