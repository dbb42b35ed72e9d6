"""django-q2 entry points for tasks: thin wrappers that take ids and call a service."""

from __future__ import annotations

import logging
import time

logger = logging.getLogger(__name__)


def dispatch_next() -> str:
    """Reap expired leases, then claim and execute eligible runs one after another until none is
    claimable or the job's turn is over (tasks.engine.executor.queue_drain)."""
    from tasks.engine.executor import queue_drain
    from tasks.engine.recovery import recover_expired_runs

    started = time.monotonic()
    recover_expired_runs()
    drained = queue_drain(job_started=started)
    if not drained.runs:
        return "the worker is stopping: no run taken" if drained.stopping else "nothing to run"
    shown = "; ".join(f"{reference}: {outcome}" for reference, outcome in drained.runs[:20])
    more = len(drained.runs) - 20
    if more > 0:
        shown += f"; and {more} more"
    return shown + ("; the rest handed back to the queue" if drained.handed_back else "")


def run_execute(run_id: int) -> str:
    """Execute exactly this run if it is claimable; a duplicate delivery is a logged no-op."""
    from tasks.engine.dispatch import dispatch_claim
    from tasks.engine.executor import run_execute as execute

    claim = dispatch_claim(run_id=run_id)
    if claim is None:
        return f"RUN-{run_id:03d}: not claimable (no-op)"
    return f"{claim.run.reference}: {execute(claim=claim)}"


def recover_runs(follow_up: bool = True) -> str:
    """The reaper (every 30 s): recover expired leases and refresh queue explanations."""
    from tasks.engine.dispatch import (
        dispatch_pending,
        enqueue_dispatch,
        queue_refresh_reasons,
        schedule_half_minute_reaper,
    )
    from tasks.engine.recovery import recover_expired_runs

    results = recover_expired_runs()
    queue_refresh_reasons()
    if dispatch_pending():
        enqueue_dispatch()
    if follow_up:
        schedule_half_minute_reaper()
    return f"recovered {len(results)} run(s)"


def understand_with_provider(task_id: str, connection_id: str, after_revision: int) -> None:
    """Ask the owner's default model provider to plan a task (see tasks.planning)."""
    from tasks.models import Task
    from tasks.planning import task_understand_with_provider
    from tasks.services import task_start_if_ready

    if task_understand_with_provider(task_id=task_id, connection_id=connection_id, after_revision=after_revision):
        task_start_if_ready(task=Task.objects.get(pk=task_id))
