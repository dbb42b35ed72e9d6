"""Reads about runs: one run of the owner's, its status card, the runs of a task, its steps."""

from __future__ import annotations

from django.shortcuts import get_object_or_404


def run_get_for_owner(*, owner, run_id):
    """The run, or 404 when it does not exist or belongs to someone else."""
    from tasks.models import TaskRun

    return get_object_or_404(TaskRun.objects.select_related("task", "workspace"), pk=run_id, owner=owner)


def run_status(*, run, steps: list | None = None) -> dict:
    """What the run status partial shows: position, why it waits, where it is, what can be done.
    `steps`: the run's step executions when the caller has just read them (`run_steps`)."""
    return run_statuses([run], steps=None if steps is None else {run.pk: steps})[0]


def run_statuses(runs: list, *, steps: dict[int, list] | None = None) -> list[dict]:
    """`run_status` for a list of runs with a fixed number of queries, however long the list
    (the task switcher and the thread show many runs at once): steps, queue positions, workspace
    holders and the owners' runs under way are each read once for all of them. `steps` (run id →
    its step executions in order) saves reading the steps again."""
    from django.db.models import Count
    from django.utils import timezone

    from tasks.engine.queue_reasons import blocking_reason_from
    from tasks.models import StepExecution, TaskRun

    S = TaskRun.State
    if not runs:
        return []
    if steps is not None:
        steps = {run.pk: [(s.step_id, s.title, s.status, s.action_type) for s in steps[run.pk]] for run in runs}
    else:
        steps = {run.pk: [] for run in runs}
        for run_id, step_id, title, status, action_type in (
            StepExecution.objects.filter(run_id__in=list(steps))
            .order_by("run_id", "position")
            .values_list("run_id", "step_id", "title", "status", "action_type")
        ):
            steps[run_id].append((step_id, title, status, action_type))

    queued = [run for run in runs if run.state == S.QUEUED]
    positions: dict[int, int] = {}
    if queued:
        positions = _queue_positions(queued)
    holders: dict[int, list[TaskRun]] = {}
    workspaces = {run.workspace_id for run in queued if run.mutates and run.workspace_id}
    if workspaces:
        for holder in (
            TaskRun.objects.filter(
                workspace_id__in=workspaces, mutates=True, state__in=TaskRun.WORKSPACE_HOLDING_STATES
            )
            .order_by("pk")
            .only("id", "state", "workspace_id")
        ):
            holders.setdefault(holder.workspace_id, []).append(holder)
    active: dict = {}
    if queued:
        active = dict(
            TaskRun.objects.filter(owner_id__in={run.owner_id for run in queued}, state__in=TaskRun.LEASED_STATES)
            .values("owner_id")
            .annotate(n=Count("id"))
            .values_list("owner_id", "n")
        )

    from tasks.engine.loop.limits import usage_for_runs
    from tasks.engine.loop.questions import WAITING_FOR_ANSWER

    # Only runs a model may have spent on (a model turn, or an output whose content a model may
    # have written) are asked about: other lists cost no query.
    model_usage = usage_for_runs(
        [run for run in runs if any(s[3] in ("model_turn", "generate_output") for s in steps[run.pk])]
    )
    now = timezone.now()
    out = []
    for run in runs:
        run_steps_ = steps[run.pk]
        # A skipped step is not done: it is counted on its own, so "2 of 2 done" never hides a denial.
        done = sum(1 for s in run_steps_ if s[2] == StepExecution.Status.SUCCEEDED)
        skipped = sum(1 for s in run_steps_ if s[2] == StepExecution.Status.SKIPPED)
        current = next((s[1] for s in run_steps_ if s[0] == run.current_step_id), "")
        reason = ""
        if run.state in (S.QUEUED, S.PAUSED, S.WAITING_APPROVAL):
            holder = None
            if run.mutates and run.workspace_id:
                holder = next((h for h in holders.get(run.workspace_id, []) if h.pk != run.pk), None)
            reason = blocking_reason_from(
                run,
                now=now,
                holder=lambda holder=holder: holder,
                active=lambda run=run: active.get(run.owner_id, 0),
                position=lambda run=run: positions.get(run.pk, 0),
            )
        out.append(
            {
                "run": run,
                "queue_position": positions.get(run.pk, 0),
                "blocking_reason": reason,
                "steps_done": done,
                "steps_skipped": skipped,
                "steps_total": len(run_steps_),
                "current_step_title": current if run.state in TaskRun.LEASED_STATES else "",
                "can_pause": run.state in (S.QUEUED, S.RUNNING, S.VERIFYING) and run.control_request != "pause",
                "can_resume": run.state == S.PAUSED
                or (run.state in TaskRun.LEASED_STATES and run.control_request == "pause"),
                "can_stop": run.state not in TaskRun.TERMINAL_STATES and run.control_request != "stop",
                "can_retry": run.state in (S.FAILED, S.RECOVERABLE, S.CANCELLED),
                "can_prioritise": run.state in (S.QUEUED, S.PAUSED),
                # Paused on a model's question (ask_operator): the card offers the answer form.
                "can_answer": run.state == S.PAUSED and run.blocking_reason == WAITING_FOR_ANSWER,
                # A model-driven run's turns, tool calls and tokens against its budget (None otherwise).
                "model_usage": model_usage.get(run.pk),
            }
        )
    return out


def _queue_positions(queued: list) -> dict[int, int]:
    """1-based queue places of the given queued runs in two queries: how many runs are ahead of
    the first of them, then the queue order from the first to the last of them."""
    from django.db.models import Q

    from tasks.models import TaskRun

    def key(run):
        return (-run.priority, run.created_at, run.pk)

    ordered = sorted(queued, key=key)
    first, last = ordered[0], ordered[-1]

    def ahead_of(run):
        return (
            Q(priority__gt=run.priority)
            | Q(priority=run.priority, created_at__lt=run.created_at)
            | Q(priority=run.priority, created_at=run.created_at, id__lt=run.pk)
        )

    queue = TaskRun.objects.filter(state=TaskRun.State.QUEUED)
    base = queue.filter(ahead_of(first)).count() + 1
    if len(ordered) == 1:
        return {first.pk: base}
    between = queue.filter(~ahead_of(first), ahead_of(last) | Q(pk=last.pk)).order_by("-priority", "created_at", "id")
    places = {pk: base + i for i, pk in enumerate(between.values_list("pk", flat=True))}
    # A listed run that left the queue since it was read has no place (0), as queue_position says.
    return {run.pk: places.get(run.pk, 0) for run in queued}


def run_list_for_task(*, task, limit: int = 10) -> dict:
    """The runs section of a task page: newest runs first with their status, and whether a new
    run may start (the task has a plan and nothing is under way)."""
    runs = list(task.runs.select_related("workspace").order_by("-created_at")[:limit])
    return {"task": task, "runs": run_statuses(runs), "can_start": task_can_start(task=task)}


def task_can_start(*, task) -> bool:
    """A new run may start: the task is planned and none of its runs is under way."""
    from tasks.models import TaskRun

    return (
        task.status == task.Status.PLANNED
        and task.plan_revisions.exists()
        and not task.runs.exclude(state__in=TaskRun.TERMINAL_STATES).exists()
    )


def run_steps(*, run) -> list:
    """The run's step executions in order (the plan card's live status)."""
    from tasks.models import StepExecution

    return list(StepExecution.objects.filter(run=run).order_by("position"))
