"""Reads for a task's thread and record: the task itself, each run with its rows, approvals,
changes and results, and the operator workspace's left panel."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from tasks.models import Task
from tasks.selectors.runs import run_status, run_steps


def task_list_recent(*, owner, limit: int = 8) -> QuerySet[Task]:
    return Task.objects.filter(owner=owner).select_related("workspace")[:limit]


def task_get_for_owner(*, owner, task_id) -> Task:
    """The task, or 404 when it does not exist or belongs to someone else."""
    return get_object_or_404(Task.objects.select_related("workspace"), pk=task_id, owner=owner)


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
