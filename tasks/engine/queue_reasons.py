"""Why a queued run is not running yet, in plain words, from facts already read.

Kept apart from the reads so that one run (tasks.engine.dispatch.blocking_reason_for) and a whole
list of runs (tasks.selectors.runs.run_statuses, one query per kind of fact) say exactly the same.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from tasks.models import TaskRun

S = TaskRun.State


def blocking_reason_from(
    run: TaskRun, *, now, holder: Callable[[], TaskRun | None], active: Callable[[], int], position: Callable[[], int]
) -> str:
    """The facts are asked for only when the answer depends on them, in this order: `holder`,
    another run holding the run's workspace (or None); `active`, how many of the owner's runs are
    under way; `position`, the run's 1-based place in the queue."""
    if run.state == S.WAITING_APPROVAL:
        return "waiting for your approval"
    if run.state == S.PAUSED:
        # A run the engine paused (a model run's budget, a model's question) says why itself.
        return run.blocking_reason or "paused by you"
    if run.state != S.QUEUED:
        return ""
    if run.ready_at and run.ready_at > now:
        return run.blocking_reason or f"waiting until {timezone.localtime(run.ready_at):%H:%M:%S}"
    held_by = holder()
    if held_by is not None:
        return f"behind {held_by.reference} on the same workspace"
    cap = settings.COMMAND_MAX_RUNS_PER_USER
    if active() >= cap:
        return f"you already have {cap} runs under way (the limit is {cap})"
    ahead = position() - 1
    if ahead:
        return f"{ahead} run{'s' if ahead != 1 else ''} ahead in the queue"
    return "waiting for a free worker"
