from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from tasks.selectors import task_get_for_owner


@login_required
def task_detail(request, task_id):
    task = task_get_for_owner(owner=request.user, task_id=task_id)
    return render(
        request,
        "tasks/task_detail.html",
        {"task": task, "uploads": task.uploads.all(), "revisions": task.plan_revisions.all()},
    )
