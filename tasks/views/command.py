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
    """The workspace without a thread open: the request box, the switcher and the threads, one page
    at a time (`?page=`, newest first). A bad page number answers 400 / 404 with the first page
    and a sentence saying so."""
    from tasks.forms import TaskRequestForm

    status, threads_error = 200, ""
    try:
        threads = selectors.task_page_for_owner(owner=request.user, page=request.GET.get("page"))
    except selectors.PageOutOfRange as exc:
        status, threads_error = (400 if exc.malformed else 404), str(exc)
        threads = selectors.task_page_for_owner(owner=request.user, page=None)
    context = {
        "task": None,
        "form": TaskRequestForm(owner=request.user),
        "recent_tasks": threads.object_list,
        "threads_page": threads,
        "threads_error": threads_error,
    }
    if request.htmx and request.htmx.target == "threads":
        return render(request, "tasks/partials/thread_list.html", context, status=status)
    context.update(_switcher_context(request), **selectors.workspace_sidebar(owner=request.user))
    return render(request, "tasks/command.html", context, status=status)


@login_required
@require_GET
def command_task(request, task_id):
    """One task's thread in the centre panel: its newest runs (`?runs=` pages back through earlier
    ones), the newest and those under way in full and the others one line each; `?run=` marks
    the run a deep link points at and shows it in full.
    `?rows_of=<run>&rows_from=<seq>` gives that run its rows from that seq on: its settled card
    replacing the live one must not drop rows the page shows."""
    from tasks.views.task import _detail_context

    task = selectors.task_get_for_owner(owner=request.user, task_id=task_id)
    keep_from = None
    if "rows_from" in request.GET:
        # A run's settled card (workstream_oob.html) keeps the rows the page already shows.
        try:
            keep_from = {int(request.GET.get("rows_of", "")): int(request.GET["rows_from"])}
        except ValueError:
            message = "“rows_of” and “rows_from” must be a run id and the seq of a row (whole numbers)."
            return HttpResponse(message, status=400, content_type="text/plain")
    # The newest runs; `?runs=2` … pages back through earlier ones.
    runs_page = selectors.task_runs_page(task=task, page=request.GET.get("runs"))
    context = _detail_context(
        request,
        task,
        thread=selectors.thread_runs(
            owner=request.user,
            task=task,
            limit_rows=selectors.THREAD_ROWS,
            keep_from=keep_from,
            runs_page=runs_page,
            focus=request.GET.get("run"),
        ),
        thread_runs_page=runs_page,
        focus_run=request.GET.get("run", ""),
        can_start=selectors.task_can_start(task=task),
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
    """A run's workstream rows, two ways:

    * `?after=<seq>` (the polling path while no socket is open; the page sends the last seq it
      has): the rows after it as the same out-of-band partial the socket sends, empty when none.
    * `?before=<seq>` ("Show earlier rows" on the thread; the page sends the first seq it has):
      the `EARLIER_ROWS` rows just before it, oldest first, to prepend, and the control again with
      what is still earlier. A `before` that is not a whole number answers 400.
    """
    from tasks import realtime

    run = selectors.run_get_for_owner(owner=request.user, run_id=run_id)
    if "before" in request.GET:
        return _run_rows_earlier(request, run)
    try:
        after = max(int(request.GET.get("after", "0")), 0)
    except ValueError:
        after = 0
    events = realtime.events_after(run_id=run.pk, after=after)
    if not events:
        return HttpResponse("")
    return HttpResponse(realtime.render_rows_oob(run_id=run.pk, events=events).html)


def _run_rows_earlier(request, run):
    try:
        before = int(request.GET["before"])
    except ValueError:
        message = "“before” must be the seq of a row (a whole number)."
        return HttpResponse(message, status=400, content_type="text/plain")
    events, earlier = selectors.run_rows_before(run=run, before=before, limit=selectors.EARLIER_ROWS)
    context = {"run": run, "task": run.task, "events": events, "earlier_rows": earlier, "tone": run.task.tone}
    return render(request, "tasks/partials/workstream_earlier_rows.html", context)
