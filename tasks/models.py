"""Tasks: a request exactly as typed, its uploads, and the plan revisions made from it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse


class Task(models.Model):
    class Mode(models.TextChoices):
        CREATE = "create", "Create something new"
        EDIT = "edit", "Edit a project"
        EXPLAIN = "explain", "Explain"

    class Expertise(models.TextChoices):
        NEW = "new", "New to this"
        EXPERT = "expert", "Expert"

    class Tone(models.TextChoices):
        FRIENDLY = "friendly", "Friendly"
        PROFESSIONAL = "professional", "Professional"
        MIXED = "mixed", "Mixed"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        UNDERSTANDING = "understanding", "Understanding"
        NEEDS_CLARIFICATION = "needs_clarification", "Needs your answer"
        NEEDS_PROVIDER = "needs_provider", "Needs a model provider"
        PLANNED = "planned", "Planned"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING_APPROVAL = "waiting_approval", "Waiting for your approval"
        PAUSED = "paused", "Paused"
        VERIFYING = "verifying", "Verifying"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        RECOVERABLE = "recoverable", "Recoverable"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200, blank=True)
    raw_prompt = models.TextField(help_text="The request exactly as typed.")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.CREATE)
    expertise = models.CharField(max_length=16, choices=Expertise.choices, default=Expertise.NEW)
    tone = models.CharField(max_length=16, choices=Tone.choices, default=Tone.MIXED)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    context = models.JSONField(default=dict, blank=True, help_text="Structured context (imports, answers …).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.title or self.raw_prompt[:60]

    def get_absolute_url(self) -> str:
        return reverse("tasks:detail", args=[self.id])

    @property
    def reference(self) -> str:
        return f"TASK-{self.id.hex[:6].upper()}"


def upload_path(instance: TaskUpload, filename: str) -> str:
    # The stored name is ours; the operator's file name is kept in `original_name`.
    return f"uploads/{instance.task_id}/{uuid.uuid4().hex}"


class TaskUpload(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="uploads")
    file = models.FileField(upload_to=upload_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.original_name


class PlanRevision(models.Model):
    """One version of what Command understood and planned; earlier revisions stay readable."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="plan_revisions")
    number = models.PositiveIntegerField()
    schema_version = models.PositiveSmallIntegerField(default=1)
    planner = models.CharField(max_length=100, help_text="Which planner produced this revision.")
    understanding = models.JSONField(default=dict)
    brief = models.JSONField(default=dict)
    plan = models.JSONField(default=dict)
    change_note = models.TextField(blank=True, help_text="What changed since the previous revision, and why.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "number"]
        constraints = [models.UniqueConstraint(fields=["task", "number"], name="plan_revision_unique_number")]

    def __str__(self) -> str:
        return f"{self.task.reference} plan r{self.number}"
