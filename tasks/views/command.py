"""The operator workspace: `/command/` and `/command/<task>/` (three panels), the task switcher
partial, and the polled workstream rows used when no websocket is open."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tasks import selectors


def _switcher_context(request) -> dict:
    return {
        "switcher": selectors.switcher_entries(owner=request.user),
        "notice": selectors.switcher_notice(owner=request.user),
    }


@login_required
@require_GET
def command_home(request):
    """The workspace without a thread open: the request box, the switcher and recent tasks."""
    from tasks.forms import TaskRequestForm

    context = {
        "task": None,
        "form": TaskRequestForm(owner=request.user),
        "recent_tasks": selectors.task_list_recent(owner=request.user, limit=12),
        **_switcher_context(request),
        **selectors.workspace_sidebar(owner=request.user),
    }
    return render(request, "tasks/command.html", context)


@login_required
@require_GET
def command_task(request, task_id):
    """One task's thread in the centre panel; `?run=` marks the run a deep link points at."""
    from tasks.views.task import _detail_context

    task = selectors.task_get_for_owner(owner=request.user, task_id=task_id)
    context = _detail_context(
        request,
        task,
        thread=selectors.thread_runs(owner=request.user, task=task, limit_rows=selectors.THREAD_ROWS),
        focus_run=request.GET.get("run", ""),
        can_start=selectors.run_list_for_task(task=task)["can_start"],
        **_switcher_context(request),
        **selectors.workspace_sidebar(owner=request.user, task=task),
    )
    if request.htmx and request.htmx.target == "thread-runs":
        return render(request, "tasks/partials/thread_runs.html", context)
    return render(request, "tasks/command.html", context)


@login_required
@require_GET
def command_switcher(request):
    """The task switcher partial (polled when the socket is closed)."""
    return render(request, "tasks/partials/switcher.html", _switcher_context(request))


@login_required
@require_GET
def run_events(request, run_id):
    """Rows after `?after=` as the same out-of-band partial the socket sends (the polling path)."""
    from tasks import realtime

    run = selectors.run_get_for_owner(owner=request.user, run_id=run_id)
    try:
        after = max(int(request.GET.get("after", "0")), 0)
    except ValueError:
        after = 0
    events = realtime.events_after(run_id=run.pk, after=after)
    if not events:
        return HttpResponse("")
    return HttpResponse(realtime.render_rows_oob(run_id=run.pk, events=events).html)
