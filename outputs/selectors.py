"""Reads for outputs. Every selector takes the requesting user and returns only their objects."""

from __future__ import annotations

import uuid

from django.db.models import Count, Q, QuerySet

from outputs.models import OutputAsset

SORTS = {
    "newest": ("-created_at", "Newest first"),
    "oldest": ("created_at", "Oldest first"),
    "title": ("title", "Title A–Z"),
    "largest": ("-size", "Largest first"),
}


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def asset_get(*, owner, asset_id) -> OutputAsset | None:
    """The owner's asset, or None (unknown id, malformed id, or someone else's)."""
    pk = _uuid(asset_id)
    if pk is None or not getattr(owner, "is_authenticated", False):
        return None
    return OutputAsset.objects.select_related("task", "run", "workspace", "parent").filter(owner=owner, pk=pk).first()


def asset_library(*, owner, category: str = "", query: str = "", sort: str = "newest") -> QuerySet[OutputAsset]:
    """The latest version of each of the owner's deliverables, filtered and sorted."""
    qs = OutputAsset.objects.filter(owner=owner, is_latest=True).select_related("task")
    if category:
        qs = qs.filter(category=category)
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(title__icontains=query) | Q(source_prompt__icontains=query))
    order = SORTS.get(sort, SORTS["newest"])[0]
    return qs.order_by(order, "-created_at")


def asset_category_counts(*, owner, query: str = "") -> dict[str, int]:
    """How many latest assets per category (for the filter chips), honouring the search."""
    qs = OutputAsset.objects.filter(owner=owner, is_latest=True)
    if (query or "").strip():
        qs = qs.filter(Q(title__icontains=query.strip()) | Q(source_prompt__icontains=query.strip()))
    counts = {row["category"]: row["n"] for row in qs.values("category").annotate(n=Count("id"))}
    return {value: counts.get(value, 0) for value, _label in OutputAsset.Category.choices}


def asset_versions(*, asset: OutputAsset) -> QuerySet[OutputAsset]:
    """Every version of the asset's deliverable in its task, newest first (same owner only)."""
    return OutputAsset.objects.filter(
        owner_id=asset.owner_id, task_id=asset.task_id, deliverable_key=asset.deliverable_key
    ).order_by("-version")


def asset_list_for_task(*, owner, task) -> QuerySet[OutputAsset]:
    """The latest assets of one task, for its thread's result cards."""
    return OutputAsset.objects.filter(owner=owner, task=task, is_latest=True).order_by("created_at")


def asset_list_for_run(*, owner, run) -> QuerySet[OutputAsset]:
    return OutputAsset.objects.filter(owner=owner, run=run).order_by("created_at")
