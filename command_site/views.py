"""Project-level pages: the landing prompt surface, the roadmap and the health endpoint."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from command_site.health import run_checks
from command_site.roadmap import PHASES
from tasks.forms import TaskRequestForm
from tasks.selectors import task_list_recent
from tasks.services import task_submit


def landing(request):
    """GET shows the prompt surface; POST (signed in) stores the request and opens its task."""
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect("/accounts/login/?next=/")
        return render(request, "command_site/landing.html", {"form": None})

    if request.method == "POST":
        form = TaskRequestForm(request.POST, request.FILES, owner=request.user)
        if form.is_valid():
            data = form.cleaned_data
            task = task_submit(
                owner=request.user,
                prompt=data["prompt"],
                mode=data["mode"],
                expertise=data["expertise"],
                tone=data["tone"],
                workspace=data["workspace"],
                uploads=data["uploads"],
            )
            return redirect(task)
        status = 400
    else:
        form = TaskRequestForm(owner=request.user)
        status = 200
    context = {"form": form, "recent_tasks": task_list_recent(owner=request.user)}
    return render(request, "command_site/landing.html", context, status=status)


def roadmap(request):
    return render(request, "command_site/roadmap.html", {"phases": PHASES})


@never_cache
@require_GET
def health(request):
    report = run_checks()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
