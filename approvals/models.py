"""Approvals and operator memory.

ApprovalRequest: one question to the operator about one exact action, bound to its hash.
ApprovalPreference, FormatDefault, StylePreference, RememberedClarification: what the operator
explicitly asked Command to remember, each with where it was learned and when it was last used.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from approvals.policy import CATEGORY_LABELS, CATEGORY_NOUNS, REMEMBERABLE, Category
from providers.contracts import OutputCategory, RiskLevel

CATEGORY_CHOICES = [(c.value, CATEGORY_LABELS[c]) for c in Category]
RISK_CHOICES = [(r.value, r.value.capitalize()) for r in RiskLevel]


class ApprovalRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for you"
        ALLOWED = "allowed", "Allowed"
        DENIED = "denied", "Denied"
        REFINED = "refined", "Sent back with your instructions"
        EXPIRED = "expired", "Expired"
        SUPERSEDED = "superseded", "Replaced by a newer request"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="approval_requests")
    run = models.ForeignKey("tasks.TaskRun", on_delete=models.CASCADE, related_name="approval_requests")
    step_execution = models.ForeignKey(
        "tasks.StepExecution", on_delete=models.SET_NULL, null=True, blank=True, related_name="approval_requests"
    )
    step_id = models.CharField(max_length=40, blank=True, help_text="The plan step this request is about.")
    plan_revision = models.ForeignKey(
        "tasks.PlanRevision", on_delete=models.SET_NULL, null=True, blank=True, related_name="approval_requests"
    )
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.SET_NULL, null=True, blank=True, related_name="approval_requests"
    )
    category = models.CharField(max_length=32, choices=CATEGORY_CHOICES, db_index=True)
    risk_level = models.CharField(max_length=10, choices=RISK_CHOICES)
    risk_reason = models.CharField(max_length=500)
    ambiguous = models.BooleanField(default=False, help_text="Asked because the request itself is unclear.")
    action = models.JSONField(default=dict, help_text="The exact action: command, folder, files, diffs, removals.")
    action_hash = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=200)
    understood = models.TextField(help_text="What Command understood.")
    next_action = models.TextField(help_text="What it wants to do next.")
    why_it_matters = models.TextField(help_text="Why it matters.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, help_text="The operator's note; for refine, the new instructions.")
    expires_at = models.DateTimeField(null=True, blank=True)
    auto_decided_by = models.ForeignKey(
        "ApprovalPreference",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="auto_decisions",
        help_text="The remembered preference that decided this without asking.",
    )
    remembered_as = models.ForeignKey(
        "ApprovalPreference",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="learned_from_requests",
        help_text="The preference the operator asked to remember when deciding this.",
    )
    superseded_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step_id"],
                condition=Q(status="pending"),
                name="approval_one_pending_per_step",
            ),
        ]
        indexes = [models.Index(fields=["owner", "status", "-created_at"], name="approval_owner_status")]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("approvals:detail", args=[self.id])

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def is_overdue(self) -> bool:
        return self.is_pending and self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def rememberable(self) -> bool:
        # An unsandboxed command is never answered by memory, so offering to remember it would mislead.
        unsandboxed = (self.action or {}).get("sandboxed") is False
        return self.category in REMEMBERABLE and not self.ambiguous and not unsandboxed

    @property
    def category_noun(self) -> str:
        return CATEGORY_NOUNS[self.category]

    @property
    def diff_files(self) -> list[dict]:
        """Each diff as rows the template can colour: kind is add / remove / hunk / meta / context."""
        files = []
        for path, text in (self.action.get("diffs") or {}).items():
            rows = []
            for line in str(text).splitlines():
                if line.startswith(("+++", "---")):
                    kind = "meta"
                elif line.startswith("@@"):
                    kind = "hunk"
                elif line.startswith("+"):
                    kind = "add"
                elif line.startswith("-"):
                    kind = "remove"
                else:
                    kind = "context"
                rows.append({"kind": kind, "text": line})
            files.append({"path": path, "rows": rows})
        return files


class ApprovalPreference(models.Model):
    """A remembered approval decision for one category, in one workspace or everywhere."""

    class Scope(models.TextChoices):
        WORKSPACE = "workspace", "In this workspace"
        EVERYWHERE = "everywhere", "Everywhere"

    class Decision(models.TextChoices):
        ALLOW = "allow", "Always allow"
        DENY = "deny", "Never allow"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="approval_preferences")
    category = models.CharField(max_length=32, choices=[(c, CATEGORY_LABELS[c]) for c in Category if c in REMEMBERABLE])
    scope = models.CharField(max_length=16, choices=Scope.choices)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, null=True, blank=True, related_name="approval_preferences"
    )
    decision = models.CharField(max_length=8, choices=Decision.choices)
    command_allowlist = models.JSONField(
        default=list, blank=True, help_text="Typed command prefixes this allow covers (commands only)."
    )
    confirmed_high_risk = models.BooleanField(
        default=False, help_text="The operator explicitly confirmed allowing a high-risk category everywhere."
    )
    learned_from_task = models.ForeignKey(
        "tasks.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["category", "scope", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="workspace", workspace__isnull=False) | Q(scope="everywhere", workspace__isnull=True)
                ),
                name="approval_preference_scope_matches_workspace",
            ),
            models.UniqueConstraint(
                fields=["owner", "category", "workspace"],
                condition=Q(scope="workspace"),
                name="approval_preference_one_per_workspace",
            ),
            models.UniqueConstraint(
                fields=["owner", "category"],
                condition=Q(scope="everywhere"),
                name="approval_preference_one_everywhere",
            ),
        ]

    def __str__(self) -> str:
        return self.sentence

    @property
    def anchor(self) -> str:
        return f"approval-pref-{self.pk}"

    @property
    def where(self) -> str:
        if self.scope == self.Scope.EVERYWHERE:
            return "everywhere"
        return f"in {self.workspace.name}" if self.workspace else "in a removed workspace"

    @property
    def sentence(self) -> str:
        """'you allow file edits in Acme site' — the words every auto-decision quotes."""
        verb = "allow" if self.decision == self.Decision.ALLOW else "never allow"
        noun = CATEGORY_NOUNS[self.category]
        if self.category == Category.RUN_COMMAND and self.command_allowlist:
            noun = "the commands " + ", ".join(f"“{c}”" for c in self.command_allowlist)
        return f"you {verb} {noun} {self.where}"


class MemoryItem(models.Model):
    """Shared bookkeeping: where an item was learned, when it was last used."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    learned_from_task = models.ForeignKey(
        "tasks.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def anchor(self) -> str:
        return f"{self._meta.model_name}-{self.pk}"


class FormatDefault(MemoryItem):
    """'Documents as PDF': the format Command picks when a request names none."""

    category = models.CharField(max_length=20, choices=[(c.value, c.value.replace("_", " ")) for c in OutputCategory])
    format = models.CharField(max_length=20)

    class Meta:
        ordering = ["category"]
        constraints = [models.UniqueConstraint(fields=["owner", "category"], name="format_default_one_per_category")]

    def __str__(self) -> str:
        return f"{self.get_category_display()} as {self.format}"


class StylePreference(MemoryItem):
    """The tone and expertise level Command uses when a request does not say."""

    class Kind(models.TextChoices):
        TONE = "tone", "Tone"
        EXPERTISE = "expertise", "Expertise"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=20)

    class Meta:
        ordering = ["kind"]
        constraints = [models.UniqueConstraint(fields=["owner", "kind"], name="style_preference_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class RememberedClarification(MemoryItem):
    """An answer to a clarifying question that the operator chose to keep."""

    question_key = models.CharField(max_length=100, help_text="The planner's stable key for the question.")
    question = models.TextField()
    answer = models.TextField()

    class Meta:
        ordering = ["question_key"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "question_key"], name="remembered_clarification_one_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.question} → {self.answer}"
