"""Reads for tasks. Every selector takes the requesting user and returns only their objects."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from tasks.models import Task


def task_list_recent(*, owner, limit: int = 8) -> QuerySet[Task]:
    return Task.objects.filter(owner=owner).select_related("workspace")[:limit]


def task_get_for_owner(*, owner, task_id) -> Task:
    """The task, or 404 when it does not exist or belongs to someone else."""
    return get_object_or_404(Task.objects.select_related("workspace"), pk=task_id, owner=owner)
