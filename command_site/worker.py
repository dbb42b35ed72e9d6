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
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

STOP_FILE_ENV = "COMMAND_WORKER_STOP_FILE"
MANAGE_PY = Path(__file__).resolve().parent.parent / "manage.py"
_PR_SET_PDEATHSIG = 1


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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stop_dir = tempfile.mkdtemp(prefix="command-worker-")
    stop_file = os.path.join(stop_dir, "stopping")
    env = {**os.environ, STOP_FILE_ENV: stop_file}
    cluster = subprocess.Popen(
        [sys.executable, str(MANAGE_PY), "qcluster", *argv],
        env=env,
        start_new_session=True,
        preexec_fn=_terminate_with_parent,  # noqa: PLW1509 - this process starts no threads
    )
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
    try:
        code = cluster.wait()
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
