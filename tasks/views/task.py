"""The task record: its page, answers to clarifying questions, planning again."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tasks.selectors import task_get_for_owner


def _detail_context(request, task, **extra) -> dict:
    from providers.selectors import provider_connection_default
    from tasks.planning import PRE_RUN_STATUSES
    from workspaces.models import Workspace

    revisions = list(task.plan_revisions.order_by("-number"))
    pending = task.context.get("provider_pending")
    return {
        "task": task,
        "uploads": task.uploads.all(),
        "revisions": revisions,
        "latest_revision": revisions[0] if revisions else None,
        "older_revisions": revisions[1:],
        "pending": pending,
        "pending_since": datetime.fromisoformat(pending["since"]) if pending and pending.get("since") else None,
        # Answering while a provider is asked supersedes that job (its answer would be stale).
        "answerable": task.status in PRE_RUN_STATUSES,
        "replannable": task.status in (task.Status.NEEDS_PROVIDER, task.Status.PLANNED, task.Status.RECEIVED),
        "has_provider": provider_connection_default(owner=request.user) is not None,
        "workspaces": Workspace.objects.filter(owner=request.user).order_by("name"),
        **extra,
    }


@login_required
def task_detail(request, task_id):
    """The full record: prompt, understanding, revisions, the newest runs (`?runs=` pages back),
    the event timeline (one page at a time, `?page=` counted from the newest, `?size=` events a
    page; replayable), approvals, changes and rollback points (`?changes=` pages back) and
    outputs. A bad timeline page number or size answers 400 (not a number or size offered) or
    404 (no such page) with the newest page and a sentence saying so. An htmx request aimed at
    #timeline gets only that card."""
    from tasks.selectors import PageOutOfRange, task_record

    task = task_get_for_owner(owner=request.user, task_id=task_id)
    status, timeline_error = 200, ""
    lists = {"runs_page": request.GET.get("runs"), "changes_page": request.GET.get("changes")}
    try:
        record = task_record(
            owner=request.user, task=task, page=request.GET.get("page"), size=request.GET.get("size"), **lists
        )
    except PageOutOfRange as exc:
        # Say what is wrong and show the newest page instead of failing the whole record.
        status, timeline_error = (400 if exc.malformed else 404), str(exc)
        record = task_record(owner=request.user, task=task, **lists)
    if request.htmx and request.htmx.target == "timeline":
        context = {"task": task, "timeline_error": timeline_error, **record}
        return render(request, "tasks/partials/task_timeline.html", context, status=status)
    context = _detail_context(request, task, timeline_error=timeline_error, **record)
    return render(request, "tasks/task_detail.html", context, status=status)


@login_required
@require_POST
def task_answer(request, task_id):
    """Answers to clarifying questions: `answer-<id>` (a suggestion) or `other-<id>` (own words)."""
    from tasks.planning import PlanningRefused, task_answer_clarifications

    task = task_get_for_owner(owner=request.user, task_id=task_id)
    answers = {}
    for key, value in request.POST.items():
        if key.startswith("answer-") and value.strip():
            answers[key.removeprefix("answer-")] = value
    for key, value in request.POST.items():
        if key.startswith("other-") and value.strip():
            answers[key.removeprefix("other-")] = value
    try:
        task_answer_clarifications(task=task, answers=answers, remember=set(request.POST.getlist("remember")))
    except PlanningRefused as exc:
        from tasks.selectors import task_record

        task.refresh_from_db()
        # The whole record again (runs, timeline, outputs), with the answers' problem on top.
        context = _detail_context(request, task, answer_error=str(exc), **task_record(owner=request.user, task=task))
        return render(request, "tasks/task_detail.html", context, status=400)
    from tasks.services import task_start_if_ready

    run = task_start_if_ready(task=task)
    started = f" {run.reference} has started." if run else ""
    messages.success(request, f"Thanks — Command planned again with your answers.{started}")
    return redirect(task)


@login_required
@require_POST
def task_plan_again(request, task_id):
    from tasks.planning import PlanningRefused, task_understand

    task = task_get_for_owner(owner=request.user, task_id=task_id)
    try:
        task_understand(task=task)
    except PlanningRefused as exc:
        messages.error(request, str(exc))
    # Back to the page the button was on (the thread or the full record), never off-site.
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect(task)
