"""Iteration in the thread: the follow-up box under the results, and Regenerate on a result card.
Both answer with the thread, where the new run (or the sentence saying why none started) shows."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from tasks.selectors import task_get_for_owner


def _back(task, run=None):
    response = redirect("tasks:command_task", task_id=task.pk)
    if run is not None:
        response["Location"] += f"?run={run.pk}#run-{run.pk}"
    return response


@login_required
@require_POST
def task_follow_up(request, task_id):
    from tasks.followups import task_follow_up as follow_up
    from tasks.planning import PlanningRefused

    task = task_get_for_owner(owner=request.user, task_id=task_id)
    try:
        outcome = follow_up(task=task, text=request.POST.get("follow_up", "")[:2000])
    except PlanningRefused as exc:
        messages.error(request, str(exc))
        return _back(task)
    if outcome.run is not None:
        messages.success(request, f"{outcome.note} {outcome.run.reference} has started.")
    elif outcome.revision is None and "could not act" in outcome.note:
        messages.warning(request, outcome.note)
    else:
        messages.info(request, outcome.note)
    return _back(task, outcome.run)


@login_required
@require_POST
def asset_regenerate(request, task_id, asset_id):
    from outputs.selectors import asset_get
    from tasks.followups import asset_regenerate as regenerate
    from tasks.planning import PlanningRefused

    task = task_get_for_owner(owner=request.user, task_id=task_id)
    asset = asset_get(owner=request.user, asset_id=asset_id)
    if asset is None or asset.task_id != task.pk:
        raise Http404("No such result in this task.")
    try:
        outcome = regenerate(task=task, asset=asset)
    except PlanningRefused as exc:
        messages.error(request, str(exc))
        return _back(task)
    messages.success(request, f"{outcome.note} {outcome.run.reference} has started.")
    return _back(task, outcome.run)
