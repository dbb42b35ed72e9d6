"""The lease fence around a step's side effects, and making sure a superseded worker is gone.

Database writes are fenced in their own UPDATE (state.run_transition, dispatch.run_heartbeat,
events.event_emit). A step's writes to files, the snapshot store and outputs cannot be, so while
a handler runs the executor opens a write fence (command_site.write_fence) whose check reads the
run's lease at the moment of each write: the write goes ahead only while this worker's attempt
still holds an unexpired lease. A refused write changes nothing, is recorded as a `write.refused`
workstream event on the run (and logged), and stops the worker (LateWriteRefused is LeaseLost).

What remains between the check and the write itself (a process frozen in the microseconds
between them) is closed on the same host by recovery: before it resumes a run it makes sure the
superseded worker process is gone (`superseded_worker_stop`, identified by pid and start time,
never by name). A worker on another host cannot be stopped from here; its late writes are
refused by this fence, and `manage.py audit` reports any change an attempt recorded after it
lost the run (rule ``change_without_lease``).

A command the step starts runs under a lease watchdog (command_site.lease_watchdog) that kills it
when the worker stops renewing the lease, before the lease expires: each renewal of the run's lease
(dispatch.run_heartbeat) is passed on to the watchdogs of the run's running commands as a new
deadline (`lease_deadline`, `lease_deadline_subscribe`). Nothing of it depends on the worker's
Python process still running: a frozen worker simply stops sending deadlines.

Hooks: `on_lease_lost(fn)` registers `fn(*, run_id, lease)`, called once in the worker when its
heartbeat finds the lease lost or cannot renew it for a whole lease (e.g. to kill the run's
commands at once; tasks.engine.commands already stops them at its next control check).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.utils import timezone

from command_site.write_fence import WriteFence, WriteRefused
from tasks.engine.errors import LeaseLost
from tasks.engine.sql import COUNT, ID, CompiledQuery, Mark, fetch_one
from tasks.models import TaskRun

logger = logging.getLogger(__name__)

# The host part of a worker id. Set it where several machines share a hostname (or, in tests, to
# play a worker on another machine): recovery only ever stops processes of its own host.
WORKER_HOST_ENV = "COMMAND_WORKER_HOST"


class LateWriteRefused(LeaseLost, WriteRefused):
    """A write by a worker that no longer holds its run's lease was refused; nothing was written."""


# --- the lease at write time ----------------------------------------------------------------------


def lease_held(*, run_id: int, lease) -> bool:
    """Whether `lease` (attempt, worker id) holds run `run_id` right now: its attempt and worker
    are the run's, the run is in a leased state, and the lease has not expired (an expired lease
    may be revoked at any moment, so it no longer counts)."""
    attempt, worker_id = lease.as_tuple()
    return fetch_one(*_LEASE_HELD.sql_params(run_id, attempt, worker_id, timezone.now())) is not None


# Asked before every write a step makes to files, snapshots or outputs: compiled once (tasks.engine.sql).
_WORKER = Mark(TaskRun, "worker_id", "stand-in worker 7f3a")
_NOW = Mark(TaskRun, "lease_expires_at", datetime.datetime(1901, 2, 3, 4, 5, 6, tzinfo=datetime.UTC))
_LEASE_HELD = CompiledQuery(
    lambda: TaskRun.objects.filter(
        pk=ID.value,
        attempt=COUNT.value,
        worker_id=_WORKER.value,
        state__in=TaskRun.LEASED_STATES,
        lease_expires_at__gt=_NOW.value,
    ).values_list("pk")[:1],
    ID,
    COUNT,
    _WORKER,
    _NOW,
)


def step_write_fence(ctx) -> WriteFence:
    """The write fence for one step's handler (`ctx` is its StepContext)."""

    def check(what: str) -> None:
        try:
            held = not ctx._lease_lost.is_set() and lease_held(run_id=ctx.run.pk, lease=ctx.lease)
        except Exception:  # noqa: BLE001 - a lease that cannot be read is not a lease that holds
            logger.warning("%s: the lease could not be read before “%s”", ctx.run.reference, what, exc_info=True)
            held = False
        if held:
            return
        ctx._lease_lost.set()
        write_refusal_record(run=ctx.run, lease=ctx.lease, step_id=ctx.step.step_id, what=what)
        raise LateWriteRefused(
            f"{ctx.run.reference}: attempt {ctx.lease.attempt} no longer holds the run; refused to {what}."
        )

    return WriteFence(check=check, run_id=ctx.run.pk, attempt=ctx.lease.attempt)


def write_refusal_record(*, run: TaskRun, lease, step_id: str, what: str) -> None:
    """Record a refused late write: a `write.refused` event on the run (the audit and the page can
    see it) and a log line. Best effort: the refusal stands even when it cannot be recorded."""
    from tasks.engine.events import event_emit

    logger.warning(
        "%s: refused a late write by attempt %s (%s): %s", run.reference, lease.attempt, lease.worker_id, what
    )
    try:
        current = TaskRun.objects.filter(pk=run.pk).values_list("attempt", flat=True).first()
        event_emit(
            run=run,
            kind="write.refused",
            phase="run",
            status="warning",
            title=f"A late write by attempt {lease.attempt} was refused",
            explanation=(
                f"The worker of attempt {lease.attempt} tried to {what} after it had lost {run.reference} "
                f"(now attempt {current}). Nothing was written."
            ),
            step_id=step_id,
            payload={"refused_attempt": lease.attempt, "worker_id": lease.worker_id, "what": what},
        )
    except Exception:  # noqa: BLE001 - the database may be what cost the lease
        logger.exception("%s: the refused late write could not be recorded", run.reference)


# --- the deadline of a running command -----------------------------------------------------------

_DEADLINE_LOCK = threading.Lock()
# run id -> {write end of a running command's watchdog pipe: the last deadline sent on it}
_DEADLINE_PIPES: dict[int, dict[int, float]] = {}


def lease_margin() -> float:
    """How long before its lease expires a command is killed when the lease was not renewed."""
    from django.conf import settings

    return max(1.0, settings.COMMAND_LEASE_SECONDS / 5)


def lease_deadline(renewal_started: float) -> float:
    """The watchdog's deadline (CLOCK_MONOTONIC) for a renewal begun at `renewal_started`
    (time.monotonic() taken *before* the UPDATE that set the lease's expiry, so the expiry in the
    database is at least a lease after it): a margin before that expiry."""
    from django.conf import settings

    return renewal_started + settings.COMMAND_LEASE_SECONDS - lease_margin()


def lease_deadline_subscribe(run_id: int, fd: int, deadline: float) -> None:
    """Send each later renewal of `run_id`'s lease, as a deadline line, to the pipe `fd` (whose
    watchdog starts with `deadline`)."""
    os.set_blocking(fd, False)  # a renewal never waits on a watchdog
    with _DEADLINE_LOCK:
        _DEADLINE_PIPES.setdefault(run_id, {})[fd] = deadline


def lease_deadline_unsubscribe(run_id: int, fd: int) -> float:
    """Stop sending renewals to `fd`; returns the last deadline sent on it."""
    with _DEADLINE_LOCK:
        pipes = _DEADLINE_PIPES.get(run_id, {})
        last = pipes.pop(fd, 0.0)
        if not pipes:
            _DEADLINE_PIPES.pop(run_id, None)
    return last


def lease_renewed(run_id: int, renewal_started: float) -> None:
    """The run's lease was renewed (its UPDATE succeeded): extend its commands' deadlines."""
    with _DEADLINE_LOCK:
        pipes = _DEADLINE_PIPES.get(run_id)
        if not pipes:
            return
        deadline = lease_deadline(renewal_started)
        line = f"{deadline:.6f}\n".encode()
        for fd in list(pipes):
            try:
                os.write(fd, line)
            except OSError:  # the command has ended (or its pipe is full): no extension
                continue
            pipes[fd] = max(pipes[fd], deadline)


# --- a worker that cannot renew its lease --------------------------------------------------------

LeaseLostHook = Callable[..., None]
_LEASE_LOST_HOOKS: list[LeaseLostHook] = []


def on_lease_lost(fn: LeaseLostHook) -> LeaseLostHook:
    """Register `fn(*, run_id, lease)`, called in the worker once it knows (or can no longer
    show) that it holds the run: stop side effects it started outside this thread (commands)."""
    _LEASE_LOST_HOOKS.append(fn)
    return fn


def lease_lost_notify(*, run_id: int, lease) -> None:
    for hook in list(_LEASE_LOST_HOOKS):
        try:
            hook(run_id=run_id, lease=lease)
        except Exception:  # noqa: BLE001 - one broken hook must not keep the others from running
            logger.exception("a lease-lost hook failed for RUN-%03d", run_id)


# --- the superseded worker process -----------------------------------------------------------------


def worker_host() -> str:
    return os.environ.get(WORKER_HOST_ENV) or socket.gethostname()


def process_start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), "" when
    there is no such process (or no /proc). With the pid it names one process exactly."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        return stat.rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def process_gone(pid: int, started: str) -> bool:
    """Whether the process that had `pid` and start time `started` can do nothing more: it has
    exited (or the pid now names another process), or it is dead and not yet reaped."""
    return process_start_time(pid) != started or _zombie(pid)


def worker_identity() -> str:
    """Unique per claim: host, process, the process's start time and a random suffix."""
    import uuid

    pid = os.getpid()
    return f"{worker_host()}:{pid}:{process_start_time(pid) or '0'}:{uuid.uuid4().hex[:8]}"


def superseded_worker_stop(*, worker_id: str, wait: float = 10.0) -> tuple[bool, str]:
    """Make sure the worker process that held a lease is gone before its run resumes.

    Returns (gone, what was done, in words). On this host, the process named by the worker id's
    pid *and* start time is killed (SIGKILL; a frozen process dies too) and waited for; a pid
    that now belongs to another process is never touched. A worker of another host, or a worker
    id without a start time, cannot be checked from here: (False, why) — its late writes are
    still refused by the write fence. This process itself is never killed (it is not running
    the superseded attempt: a job runs one run at a time).
    """
    parts = worker_id.split(":")
    if len(parts) < 4 or not parts[1].isdigit() or parts[2] in ("", "0"):
        return False, "Its worker cannot be identified exactly, so it was not stopped."
    host, pid, started = parts[0], int(parts[1]), parts[2]
    if host != worker_host():
        return False, f"Its worker ran on {host}, so it could not be stopped from here."
    if pid == os.getpid():
        return True, "Its worker process is the one recovering it, so that attempt no longer runs."
    if process_start_time(pid) != started:
        return True, "Its worker process had already exited."
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process_gone(pid, started):
            return True, f"Its worker process ({pid}) was stopped."
        time.sleep(0.05)
    return False, f"Its worker process ({pid}) did not exit after SIGKILL."


def _zombie(pid: int) -> bool:
    """Dead but not yet reaped by its parent: it can do nothing more."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


# --- the heartbeat's view -------------------------------------------------------------------------


class LeaseWatch:
    """What the heartbeat knows: when the lease was last renewed (monotonic), and whether it is
    lost. `renewal_failed()` decides, after a failed renewal, whether to give the lease up: once
    a whole lease has passed since the last renewal the worker cannot show it still holds it."""

    def __init__(self, lease_seconds: float, lost: threading.Event) -> None:
        self.lease_seconds, self.lost = lease_seconds, lost
        self.renewed_at = time.monotonic()

    def renewed(self) -> None:
        self.renewed_at = time.monotonic()

    def renewal_failed(self) -> bool:
        if time.monotonic() - self.renewed_at >= self.lease_seconds:
            self.lost.set()
            return True
        return False
