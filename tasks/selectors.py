"""Reads for tasks. Every selector takes the requesting user and returns only their objects."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from tasks.models import Task


def task_list_recent(*, owner, limit: int = 8) -> QuerySet[Task]:
    return Task.objects.filter(owner=owner).select_related("workspace")[:limit]


def task_get_for_owner(*, owner, task_id) -> Task:
    """The task, or 404 when it does not exist or belongs to someone else."""
    return get_object_or_404(Task.objects.select_related("workspace"), pk=task_id, owner=owner)


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


# --- The operator workspace: thread, task switcher, task record -------------------------------

SWITCHER_RECENT_HOURS = 24
SWITCHER_LIMIT = 20
# A notice about a run is worth showing for this long after the run last changed.
NOTICE_MINUTES = 10


def _step_progress(run) -> tuple[int, int]:
    from tasks.models import StepExecution

    statuses = list(StepExecution.objects.filter(run=run).values_list("status", flat=True))
    done = sum(1 for s in statuses if s in (StepExecution.Status.SUCCEEDED, StepExecution.Status.SKIPPED))
    return done, len(statuses)


def switcher_entries(*, owner, limit: int = SWITCHER_LIMIT) -> list[dict]:
    """Every queued, running, waiting or paused run of the owner, then the recently finished ones.

    Each entry carries what the switcher shows: state, queue position, why it waits, progress
    (steps done / total), the latest real event, and a deep link to the run and its current step.
    """
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import TaskRun, WorkstreamEvent

    since = timezone.now() - timedelta(hours=SWITCHER_RECENT_HOURS)
    active = list(
        TaskRun.objects.filter(owner=owner)
        .exclude(state__in=TaskRun.TERMINAL_STATES)
        .select_related("task", "workspace")
        .order_by("-priority", "created_at", "id")[:limit]
    )
    recent = list(
        TaskRun.objects.filter(owner=owner, state__in=TaskRun.TERMINAL_STATES, finished_at__gte=since)
        .select_related("task", "workspace")
        .order_by("-finished_at")[: max(limit - len(active), 0)]
    )
    entries = []
    for run in active + recent:
        status = run_status(run=run)
        latest = WorkstreamEvent.objects.filter(run=run).order_by("-seq").first()
        link = f"{reverse_command(run.task_id)}?run={run.pk}#run-{run.pk}"
        if run.current_step_id and run.state not in TaskRun.TERMINAL_STATES:
            link = f"{reverse_command(run.task_id)}?run={run.pk}#run-step-{run.pk}-{run.current_step_id}"
        entries.append({**status, "latest": latest, "link": link, "active": run.state not in TaskRun.TERMINAL_STATES})
    return entries


def reverse_command(task_id) -> str:
    from django.urls import reverse

    return reverse("tasks:command_task", args=[task_id])


def switcher_notice(*, owner) -> dict | None:
    """The one notice the switcher shows: the latest run that finished or needs the operator.

    Notices replace each other (there is only ever one), and only real states are named.
    """
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from tasks.models import TaskRun

    cutoff = timezone.now() - timedelta(minutes=NOTICE_MINUTES)
    run = (
        TaskRun.objects.filter(owner=owner)
        .filter(
            Q(state=TaskRun.State.WAITING_APPROVAL, updated_at__gte=cutoff)
            | Q(state__in=TaskRun.TERMINAL_STATES, finished_at__gte=cutoff)
        )
        .select_related("task")
        .order_by("-updated_at")
        .first()
    )
    if run is None:
        return None
    return {"run": run, "link": f"{reverse_command(run.task_id)}?run={run.pk}#run-{run.pk}"}


def switcher_signature(*, owner) -> tuple:
    """A cheap fingerprint of the switcher: when it changes, the switcher is re-rendered."""
    from django.db.models import Count, Max

    from tasks.models import TaskRun

    agg = TaskRun.objects.filter(owner=owner).aggregate(n=Count("id"), last=Max("updated_at"), seq=Max("event_seq"))
    total_seq = (
        TaskRun.objects.filter(owner=owner).exclude(state__in=TaskRun.TERMINAL_STATES).aggregate(s=Max("event_seq"))
    )
    return (agg["n"], agg["last"], agg["seq"], total_seq["s"])


def run_steps(*, run) -> list:
    """The run's step executions in order (the plan card's live status)."""
    from tasks.models import StepExecution

    return list(StepExecution.objects.filter(run=run).order_by("position"))


THREAD_ROWS = 200


def thread_runs(*, owner, task, limit_rows: int | None = None) -> list[dict]:
    """Each run of the task, oldest first, with what the thread shows under it: its status, steps,
    workstream rows (the newest `limit_rows` when given), approvals, file changes and results."""
    from approvals.selectors import approvals_for_run
    from outputs.selectors import asset_list_for_run
    from tasks.models import WorkstreamEvent
    from workspaces.models import FileChange

    runs = []
    for run in task.runs.select_related("workspace", "task").order_by("created_at"):
        events = WorkstreamEvent.objects.filter(run=run).order_by("seq")
        total = events.count()
        if limit_rows is not None and total > limit_rows:
            # The thread keeps its newest rows; the task record has every one of them.
            events = events[total - limit_rows :]
        events = list(events)
        runs.append(
            {
                "earlier_rows": total - len(events),
                "status": run_status(run=run),
                "run": run,
                "steps": run_steps(run=run),
                "events": events,
                "approvals": list(approvals_for_run(owner=owner, run_id=run.pk).order_by("created_at")),
                "changes": list(FileChange.objects.filter(run=run).order_by("created_at", "id")),
                "assets": list(asset_list_for_run(owner=owner, run=run)),
            }
        )
    return runs


def task_record(*, owner, task) -> dict:
    """The full record of a task for its detail page: runs with their whole event timeline,
    approvals, changes, rollback points and outputs."""
    from outputs.selectors import asset_list_for_task
    from workspaces.models import RollbackPoint

    runs = thread_runs(owner=owner, task=task)
    run_ids = [r["run"].pk for r in runs]
    return {
        "record_runs": runs,
        "timeline": [e for r in runs for e in r["events"]],
        "record_approvals": [(r["run"], a) for r in runs for a in r["approvals"]],
        "record_changes": [(r["run"], c) for r in runs for c in r["changes"]],
        "rollback_points": list(
            RollbackPoint.objects.filter(run_id__in=run_ids, workspace__owner=owner)
            .select_related("workspace")
            .order_by("created_at")
        ),
        "assets": list(asset_list_for_task(owner=owner, task=task)),
    }


def workspace_sidebar(*, owner, task=None) -> dict:
    """The left panel: memory summary, the thread's assets, the owner's workspaces."""
    from approvals.selectors import approvals_pending_count, memory_for_owner
    from outputs.selectors import asset_list_for_task
    from workspaces.models import Workspace

    memory = memory_for_owner(owner=owner)
    return {
        "memory": {
            "approvals": len(memory.approvals),
            "formats": len(memory.formats),
            "styles": len(memory.styles),
            "clarifications": len(memory.clarifications),
            "empty": memory.is_empty,
        },
        "pending_approvals": approvals_pending_count(owner=owner),
        "thread_assets": list(asset_list_for_task(owner=owner, task=task)[:8]) if task is not None else [],
        "sidebar_workspaces": list(Workspace.objects.filter(owner=owner).order_by("name")[:8]),
    }
