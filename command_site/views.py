"""Project-level pages: the landing prompt surface, the roadmap and the health endpoint."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from command_site.health import run_checks
from command_site.roadmap import PHASES
from outputs.selectors import asset_get
from outputs.services import asset_attach_to_task
from tasks.forms import TaskRequestForm
from tasks.planning import task_understand
from tasks.selectors import task_list_recent
from tasks.services import task_start_if_ready, task_submit

logger = logging.getLogger(__name__)


def landing(request):
    """GET shows the prompt surface; POST (signed in) stores the request and opens its task."""
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect("/accounts/login/?next=/")
        return render(request, "command_site/landing.html", {"form": None})

    # "Use in a new request" from the asset library: ?import=<asset id>, kept as a hidden field.
    import_id = request.POST.get("import_asset") or request.GET.get("import") or ""
    imported = asset_get(owner=request.user, asset_id=import_id) if import_id else None
    import_error = (
        "That asset is not in your library, so it was not attached. Remove it or pick another from Assets."
        if import_id and imported is None
        else ""
    )
    if request.method == "POST":
        form = TaskRequestForm(request.POST, request.FILES, owner=request.user)
        if form.is_valid() and not import_error:
            data = form.cleaned_data
            with transaction.atomic():
                task = task_submit(
                    owner=request.user,
                    prompt=data["prompt"],
                    mode=data["mode"],
                    expertise=data["expertise"],
                    tone=data["tone"],
                    workspace=data["workspace"],
                    uploads=data["uploads"],
                )
                if imported is not None:
                    asset_attach_to_task(owner=request.user, asset=imported, task=task)
            # Understanding runs after the request is safely stored: if it fails, nothing is lost.
            try:
                task_understand(task=task)
            except Exception:
                logger.exception("understanding failed for task %s", task.pk)
                messages.error(
                    request,
                    "Command stored your request but could not read it. Use “Understand and plan it now” to try again.",
                )
            else:
                try:
                    task_start_if_ready(task=task)
                except Exception:
                    # Understood and planned, but the run could not be queued: say exactly that.
                    logger.exception("starting a run failed for task %s", task.pk)
                    messages.error(
                        request,
                        "Command planned your request but could not start it. Use “Start the run” to try again.",
                    )
            # The thread is where a request lives: understanding, plan and the live run, side by side.
            return redirect("tasks:command_task", task_id=task.pk)
        status = 400
    else:
        form = TaskRequestForm(owner=request.user)
        status = 404 if import_error else 200
    context = {
        "form": form,
        "recent_tasks": task_list_recent(owner=request.user),
        "imported_asset": imported,
        "import_error": import_error,
    }
    return render(request, "command_site/landing.html", context, status=status)


def roadmap(request):
    return render(request, "command_site/roadmap.html", {"phases": PHASES})


@never_cache
@require_GET
def health(request):
    report = run_checks()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
