"""Run controls: start, status, pause / resume / stop / retry, priority, and the polled rows."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tasks.selectors import task_get_for_owner

# --- Runs: start, status, operator controls (services in tasks.engine) ----------------------

RUN_CONTROLS = {"pause", "resume", "stop", "retry"}


def _back(request, task):
    """Back to where the operator pressed the button (the thread or the task record)."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(task)


def _run_status_response(request, run, message: str = "", status: int = 200):
    from tasks.selectors import run_status as run_status_context

    run.refresh_from_db()
    if request.htmx:
        context = {**run_status_context(run=run), "message": message}
        return render(request, "tasks/partials/run_status.html", context, status=status)
    if message:
        (messages.success if status == 200 else messages.error)(request, message)
    return redirect(run.task)


@login_required
@require_POST
def run_start(request, task_id):
    """Queue a run of the task's latest plan (refused while another run of it is under way)."""
    from tasks.engine.dispatch import run_create
    from tasks.models import TaskRun

    task = task_get_for_owner(owner=request.user, task_id=task_id)
    active = task.runs.exclude(state__in=TaskRun.TERMINAL_STATES).first()
    if active is not None:
        messages.info(request, f"{active.reference} is already under way for this task.")
        return redirect(task)
    try:
        run = run_create(task=task)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect(task)
    messages.success(request, f"{run.reference} is queued.")
    return _back(request, task)


@login_required
def task_runs(request, task_id):
    """The runs section of a task (include `tasks/partials/run_list.html` on the task page)."""
    from tasks.selectors import run_list_for_task

    task = task_get_for_owner(owner=request.user, task_id=task_id)
    return render(request, "tasks/partials/run_list.html", run_list_for_task(task=task))


@login_required
def run_status(request, run_id):
    from tasks.selectors import run_get_for_owner
    from tasks.selectors import run_status as run_status_context

    run = run_get_for_owner(owner=request.user, run_id=run_id)
    return render(request, "tasks/partials/run_status.html", run_status_context(run=run))


@login_required
@require_POST
def run_control(request, run_id, action):
    """Pause, resume, stop or retry; each is safe to click twice and says what it did."""
    from django.http import Http404

    from tasks.engine import controls
    from tasks.selectors import run_get_for_owner

    run = run_get_for_owner(owner=request.user, run_id=run_id)
    if action not in RUN_CONTROLS:
        raise Http404("No such run control.")
    outcome = getattr(controls, f"run_{action}")(run=run)
    if action == "retry" and outcome.changed:
        if request.htmx:
            return _run_status_response(request, outcome.run, outcome.message)
        messages.success(request, outcome.message)
        return redirect(outcome.run.task)
    return _run_status_response(request, run, outcome.message)


@login_required
@require_POST
def run_priority(request, run_id):
    from tasks.engine.controls import run_set_priority
    from tasks.selectors import run_get_for_owner

    run = run_get_for_owner(owner=request.user, run_id=run_id)
    try:
        priority = int(request.POST.get("priority", ""))
    except ValueError:
        return _run_status_response(request, run, "Priority must be a whole number, e.g. 0, 5 or -1.", status=400)
    if not -100 <= priority <= 100:
        return _run_status_response(request, run, "Priority must be between -100 and 100.", status=400)
    return _run_status_response(request, run, run_set_priority(run=run, priority=priority).message)


@login_required
def command_output(request, run_id, execution_id):
    """A command's whole stored log as a plain-text download (the owner's runs only; 404 otherwise)."""
    from django.http import HttpResponse
    from django.shortcuts import get_object_or_404

    from tasks.models import CommandExecution
    from tasks.selectors import run_get_for_owner

    run = run_get_for_owner(owner=request.user, run_id=run_id)
    execution = get_object_or_404(CommandExecution, pk=execution_id, run=run)
    response = HttpResponse(execution.output, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{run.reference}-command-{execution.pk}.log"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def run_answer(request, run_id):
    """The person's answer to the question a model asked in this run (ask_operator): the run resumes."""
    from tasks.engine.loop.questions import AnswerRefused, run_answer_model_question
    from tasks.selectors import run_get_for_owner

    run = run_get_for_owner(owner=request.user, run_id=run_id)
    try:
        outcome = run_answer_model_question(run=run, answer=request.POST.get("answer", "")[:4000])
    except AnswerRefused as exc:
        return _run_status_response(request, run, str(exc), status=400)
    return _run_status_response(request, run, f"Answer sent to the model. {outcome.message}")
