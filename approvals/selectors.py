"""Reads for approvals and memory. Every selector takes the requesting user and returns only their objects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.shortcuts import get_object_or_404
from django.urls import reverse

from approvals.models import (
    ApprovalPreference,
    ApprovalRequest,
    FormatDefault,
    RememberedClarification,
    StylePreference,
)


def approval_get_for_owner(*, owner, approval_id) -> ApprovalRequest:
    """One request of the owner's, or 404 (another user's request does not exist for them)."""
    return get_object_or_404(
        ApprovalRequest.objects.select_related("run", "run__task", "workspace", "auto_decided_by", "superseded_by"),
        owner=owner,
        pk=approval_id,
    )


def approvals_pending_for_owner(*, owner):
    """The owner's requests still waiting for a decision, oldest first (the order they were asked)."""
    return (
        ApprovalRequest.objects.filter(owner=owner, status=ApprovalRequest.Status.PENDING)
        .select_related("run", "run__task", "workspace")
        .order_by("created_at")
    )


def approvals_for_run(*, owner, run_id: int):
    """Every request of one run (for the thread), newest first; empty for another user's run."""
    return ApprovalRequest.objects.filter(owner=owner, run_id=run_id).select_related("auto_decided_by")


def approvals_pending_count(*, owner) -> int:
    """How many decisions wait for the owner (for the nav or the task switcher)."""
    return ApprovalRequest.objects.filter(owner=owner, status=ApprovalRequest.Status.PENDING).count()


def approval_pending_for_run(*, owner, run_id: int) -> ApprovalRequest | None:
    """The request a run is waiting on (for the thread and the task switcher), or None."""
    return (
        ApprovalRequest.objects.filter(owner=owner, run_id=run_id, status=ApprovalRequest.Status.PENDING)
        .select_related("run", "run__task", "workspace")
        .first()
    )


def approvals_recent_for_owner(*, owner, limit: int = 20):
    return (
        ApprovalRequest.objects.filter(owner=owner)
        .exclude(status=ApprovalRequest.Status.PENDING)
        .select_related("run", "run__task", "workspace", "auto_decided_by")[:limit]
    )


def remembered_answers_for(*, owner) -> dict[str, str]:
    """Clarifying answers the operator chose to keep, by question key — what the planner accepts."""
    return dict(RememberedClarification.objects.filter(owner=owner).values_list("question_key", "answer"))


def format_defaults_for(*, owner) -> dict[str, str]:
    """Remembered format per output category, e.g. {"document": "pdf", "spreadsheet": "xlsx"}."""
    return dict(FormatDefault.objects.filter(owner=owner).values_list("category", "format"))


def style_preferences_for(*, owner) -> dict[str, str]:
    """Remembered tone and expertise, e.g. {"tone": "professional", "expertise": "expert"}."""
    return dict(StylePreference.objects.filter(owner=owner).values_list("kind", "value"))


@dataclass(frozen=True)
class MemoryOverview:
    approvals: list[ApprovalPreference]
    formats: list[FormatDefault]
    styles: list[StylePreference]
    clarifications: list[RememberedClarification]

    @property
    def is_empty(self) -> bool:
        return not (self.approvals or self.formats or self.styles or self.clarifications)


def memory_for_owner(*, owner) -> MemoryOverview:
    """Everything remembered for the owner, grouped as the memory page shows it."""
    return MemoryOverview(
        approvals=list(ApprovalPreference.objects.filter(owner=owner).select_related("workspace", "learned_from_task")),
        formats=list(FormatDefault.objects.filter(owner=owner).select_related("learned_from_task")),
        styles=list(StylePreference.objects.filter(owner=owner).select_related("learned_from_task")),
        clarifications=list(RememberedClarification.objects.filter(owner=owner).select_related("learned_from_task")),
    )


def memory_counts_for(*, owner) -> dict[str, int]:
    """How many items of each kind are remembered, and how many decisions wait: one query (the
    left panel of every thread page shows these counts)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    def count(queryset):
        counted = queryset.filter(owner=OuterRef("pk")).order_by().values("owner").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))

    row = (
        get_user_model()
        .objects.filter(pk=owner.pk)
        .annotate(
            approvals=count(ApprovalPreference.objects.all()),
            formats=count(FormatDefault.objects.all()),
            styles=count(StylePreference.objects.all()),
            clarifications=count(RememberedClarification.objects.all()),
            pending=count(ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING)),
        )
        .values("approvals", "formats", "styles", "clarifications", "pending")
        .get()
    )
    row["empty"] = not (row["approvals"] or row["formats"] or row["styles"] or row["clarifications"])
    return row


@dataclass(frozen=True)
class MemoryNote:
    """One line saying memory changed what Command does, with the link to change it."""

    text: str
    change_url: str


def memory_notes_for(
    *,
    owner,
    clarification_keys: Iterable[str] = (),
    format_categories: Iterable[str] = (),
    style_kinds: Iterable[str] = (),
) -> list[MemoryNote]:
    """The workstream lines for remembered items that were just used — only items that exist.

    "Used your remembered answer to “Who is it for?”: CFOs — change this", and so on.
    """
    memory_url = reverse("approvals:memory")
    notes = []
    for c in RememberedClarification.objects.filter(owner=owner, question_key__in=list(clarification_keys)):
        notes.append(
            MemoryNote(
                f"Used your remembered answer to “{c.question}”: {c.answer} — change this", f"{memory_url}#{c.anchor}"
            )
        )
    for f in FormatDefault.objects.filter(owner=owner, category__in=list(format_categories)):
        notes.append(
            MemoryNote(
                f"Used your default format for {f.get_category_display()} outputs: {f.format} — change this",
                f"{memory_url}#{f.anchor}",
            )
        )
    for s in StylePreference.objects.filter(owner=owner, kind__in=list(style_kinds)):
        notes.append(
            MemoryNote(
                f"Used your default {s.get_kind_display().lower()}: {s.value} — change this", f"{memory_url}#{s.anchor}"
            )
        )
    return notes


def approval_network_granted(*, run_id: int, step_id: str, command: str) -> bool:
    """True only when this exact command, in this run's step, was allowed as an action that uses the
    network — by the person, or by the workspace's remembered network preference. Everything else
    runs with the network off."""
    return ApprovalRequest.objects.filter(
        run_id=run_id,
        step_id=step_id,
        status=ApprovalRequest.Status.ALLOWED,
        action__network=True,
        action__command=command,
    ).exists()
