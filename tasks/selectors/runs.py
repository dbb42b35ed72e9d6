"""Reads about runs: one run of the owner's, its status card, the runs of a task, its steps."""

from __future__ import annotations

from django.shortcuts import get_object_or_404


def run_get_for_owner(*, owner, run_id):
    """The run, or 404 when it does not exist or belongs to someone else."""
    from tasks.models import TaskRun

    return get_object_or_404(TaskRun.objects.select_related("task", "workspace"), pk=run_id, owner=owner)


def run_status(*, run) -> dict:
    """What the run status partial shows: position, why it waits, where it is, what can be done."""
    from tasks.engine.dispatch import blocking_reason_for, queue_position
    from tasks.models import StepExecution, TaskRun

    S = TaskRun.State
    steps = list(StepExecution.objects.filter(run=run).order_by("position").values_list("step_id", "title", "status"))
    done = sum(1 for s in steps if s[2] in (StepExecution.Status.SUCCEEDED, StepExecution.Status.SKIPPED))
    current = next((s[1] for s in steps if s[0] == run.current_step_id), "")
    return {
        "run": run,
        "queue_position": queue_position(run),
        "blocking_reason": blocking_reason_for(run) if run.state in (S.QUEUED, S.PAUSED, S.WAITING_APPROVAL) else "",
        "steps_done": done,
        "steps_total": len(steps),
        "current_step_title": current if run.state in TaskRun.LEASED_STATES else "",
        "can_pause": run.state in (S.QUEUED, S.RUNNING, S.VERIFYING) and run.control_request != "pause",
        "can_resume": run.state == S.PAUSED or (run.state in TaskRun.LEASED_STATES and run.control_request == "pause"),
        "can_stop": run.state not in TaskRun.TERMINAL_STATES and run.control_request != "stop",
        "can_retry": run.state in (S.FAILED, S.RECOVERABLE, S.CANCELLED),
        "can_prioritise": run.state in (S.QUEUED, S.PAUSED),
    }


def run_list_for_task(*, task, limit: int = 10) -> dict:
    """The runs section of a task page: newest runs first with their status, and whether a new
    run may start (the task has a plan and nothing is under way)."""
    from tasks.models import TaskRun

    runs = list(task.runs.select_related("workspace").order_by("-created_at")[:limit])
    active = any(r.state not in TaskRun.TERMINAL_STATES for r in runs)
    return {
        "task": task,
        "runs": [run_status(run=r) for r in runs],
        "can_start": not active and task.plan_revisions.exists() and task.status == task.Status.PLANNED,
    }


def run_steps(*, run) -> list:
    """The run's step executions in order (the plan card's live status)."""
    from tasks.models import StepExecution

    return list(StepExecution.objects.filter(run=run).order_by("position"))
