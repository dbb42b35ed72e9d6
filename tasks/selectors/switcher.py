"""Reads for the task switcher: every run in flight and the recently finished ones, the one
notice it shows, and a cheap fingerprint that says when to render it again."""

from __future__ import annotations

from tasks.selectors.runs import run_statuses

SWITCHER_RECENT_HOURS = 24


SWITCHER_LIMIT = 20
# A notice about a run is worth showing for this long after the run last changed.


NOTICE_MINUTES = 10


def switcher_entries(*, owner, limit: int = SWITCHER_LIMIT) -> list[dict]:
    """Every queued, running, waiting or paused run of the owner, then the recently finished ones
    (the newest finished run of each task, finished in the last SWITCHER_RECENT_HOURS).

    Each entry carries what the switcher shows: state, queue position, why it waits, progress
    (steps done / total), the latest real event, and a deep link to the run and its current step.
    """
    from datetime import timedelta

    from django.db.models import OuterRef, Q, Subquery
    from django.utils import timezone

    from tasks.models import Task, TaskRun, WorkstreamEvent

    since = timezone.now() - timedelta(hours=SWITCHER_RECENT_HOURS)
    active = list(
        TaskRun.objects.filter(owner=owner)
        .exclude(state__in=TaskRun.TERMINAL_STATES)
        .select_related("task", "workspace")
        .order_by("-priority", "created_at", "id")[:limit]
    )
    # Recently finished: the newest finished run of each task (a task run again a thousand times
    # is one line, as a task run once is), read in two queries however many runs there are.
    newest_finished = TaskRun.objects.filter(
        task=OuterRef("pk"), state__in=TaskRun.TERMINAL_STATES, finished_at__gte=since
    ).order_by("-finished_at", "-pk")
    recent_ids = list(
        Task.objects.filter(owner=owner)
        .annotate(
            newest_run=Subquery(newest_finished.values("pk")[:1]),
            newest_at=Subquery(newest_finished.values("finished_at")[:1]),
        )
        .filter(newest_run__isnull=False)
        .order_by("-newest_at")
        .values_list("newest_run", flat=True)[: max(limit - len(active), 0)]
    )
    recent = (
        list(
            TaskRun.objects.filter(pk__in=recent_ids)
            .select_related("task", "workspace")
            .order_by("-finished_at", "-pk")
        )
        if recent_ids
        else []
    )
    runs = active + recent
    # The newest event of each run, in one query: seqs are gapless, so it is the run's event_seq.
    wanted = Q(pk__in=[])
    for run in runs:
        if run.event_seq:
            wanted |= Q(run_id=run.pk, seq=run.event_seq)
    latest = {event.run_id: event for event in WorkstreamEvent.objects.filter(wanted)} if runs else {}
    entries = []
    for run, status in zip(runs, run_statuses(runs), strict=True):
        link = f"{reverse_command(run.task_id)}?run={run.pk}#run-{run.pk}"
        if run.current_step_id and run.state not in TaskRun.TERMINAL_STATES:
            link = f"{reverse_command(run.task_id)}?run={run.pk}#run-step-{run.pk}-{run.current_step_id}"
        entries.append(
            {**status, "latest": latest.get(run.pk), "link": link, "active": run.state not in TaskRun.TERMINAL_STATES}
        )
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
    """A cheap fingerprint of the switcher: when it changes, the switcher is re-rendered. One
    query (each socket showing the switcher looks at it at least once a second)."""
    from django.db.models import Count, Max, Q

    from tasks.models import TaskRun

    agg = TaskRun.objects.filter(owner=owner).aggregate(
        n=Count("id"),
        last=Max("updated_at"),
        seq=Max("event_seq"),
        active_seq=Max("event_seq", filter=~Q(state__in=TaskRun.TERMINAL_STATES)),
    )
    return (agg["n"], agg["last"], agg["seq"], agg["active_seq"])
