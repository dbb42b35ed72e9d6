"""Workspaces: real local folders that Command reads and changes on the operator's behalf."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Workspace(models.Model):
    class Origin(models.TextChoices):
        CREATED = "created", "Created by Command"
        REGISTERED = "registered", "Registered existing folder"
        IMPORTED = "imported", "Imported from a zip"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspaces")
    name = models.CharField(max_length=120)
    path = models.CharField(max_length=1024, help_text="Absolute path of the folder on this machine.")
    # The folder's identity when registered: a different device/inode means it was moved or replaced.
    device = models.BigIntegerField(null=True, blank=True)
    inode = models.BigIntegerField(null=True, blank=True)
    origin = models.CharField(max_length=12, choices=Origin.choices, default=Origin.REGISTERED)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "path"], name="workspace_unique_path_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name


class Actor(models.TextChoices):
    STEP = "step", "A run step"
    EDITOR = "editor", "The operator in the editor"
    COMMAND = "command", "A command"
    REVERT = "revert", "A revert"
    OPERATOR = "operator", "The operator"


class RollbackPoint(models.Model):
    """The stored state of (part of) a workspace at one moment, backed by the snapshot store.

    `manifest_sha` names a manifest blob listing every captured file's content hash and mode;
    eligibility to revert is computed from the store at the time of asking, never stored.
    """

    class Kind(models.TextChoices):
        PRE_EDIT = "pre_edit", "Before an edit"
        PRE_COMMAND = "pre_command", "Before a command"
        DELIVERY_SAFE = "delivery_safe", "After a passed verification"
        MANUAL = "manual", "Checkpoint"
        PRE_REVERT = "pre_revert", "Before a revert"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="rollback_points")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Plain words: "3 files a step will touch: index.html, styles.css, app.js" / "the whole folder …".
    scope_label = models.CharField(max_length=500)
    # None: the whole tree (minus ignored folders); a list: exactly these relative paths.
    scope_paths = models.JSONField(null=True, blank=True)
    ignore_rules = models.JSONField(default=list, blank=True)
    # Ignored folders that existed at the point: their contents are not covered by a revert.
    skipped = models.JSONField(default=list, blank=True)
    manifest_sha = models.CharField(max_length=64)
    file_count = models.PositiveIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    note = models.CharField(max_length=300, blank=True)
    actor = models.CharField(max_length=10, choices=Actor.choices, default=Actor.STEP)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    run = models.ForeignKey(
        "tasks.TaskRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="rollback_points"
    )
    step = models.ForeignKey(
        "tasks.StepExecution", on_delete=models.SET_NULL, null=True, blank=True, related_name="rollback_points"
    )
    # For a pre-revert point: the point (or None for a run revert) whose revert it protects.
    protects_revert_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="revert_guards"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reverted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="rollback_ws_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_whole_tree(self) -> bool:
        return self.scope_paths is None


class FileChange(models.Model):
    """One change to one file, by a step, the editor, a command or a revert, with its diff."""

    class Type(models.TextChoices):
        CREATED = "created", "Created"
        MODIFIED = "modified", "Modified"
        DELETED = "deleted", "Deleted"
        RENAMED = "renamed", "Renamed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="file_changes")
    path = models.CharField(max_length=1024)
    old_path = models.CharField(max_length=1024, blank=True, help_text="For a rename: where the file was.")
    change_type = models.CharField(max_length=10, choices=Type.choices)
    before_sha = models.CharField(max_length=64, blank=True)
    after_sha = models.CharField(max_length=64, blank=True)
    before_size = models.BigIntegerField(null=True, blank=True)
    after_size = models.BigIntegerField(null=True, blank=True)
    before_mode = models.PositiveIntegerField(null=True, blank=True)
    after_mode = models.PositiveIntegerField(null=True, blank=True)
    is_binary = models.BooleanField(default=False)
    diff = models.TextField(blank=True)
    diff_truncated = models.BooleanField(default=False)
    added_lines = models.PositiveIntegerField(default=0)
    removed_lines = models.PositiveIntegerField(default=0)
    whitespace_only = models.BooleanField(default=False)
    summary = models.CharField(max_length=300)
    actor = models.CharField(max_length=10, choices=Actor.choices)
    actor_label = models.CharField(max_length=300, blank=True, help_text="The command line, step title or user.")
    by_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    run = models.ForeignKey(
        "tasks.TaskRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="file_changes"
    )
    step = models.ForeignKey(
        "tasks.StepExecution", on_delete=models.SET_NULL, null=True, blank=True, related_name="file_changes"
    )
    rollback_point = models.ForeignKey(
        RollbackPoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes"
    )
    # The run's attempt (its lease's fencing token) whose worker made the change: the audit checks
    # that attempt still held the run when the change was recorded.
    run_attempt = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="filechange_ws_time"),
            models.Index(fields=["workspace", "path"], name="filechange_ws_path"),
        ]

    def __str__(self) -> str:
        return self.summary
