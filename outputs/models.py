"""Outputs: every delivered result is an OutputAsset — verified bytes in storage, a preview,
and the lineage that answers "what made this, from which prompt, and which version is it?"."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.urls import reverse


class OutputAsset(models.Model):
    class Category(models.TextChoices):
        WEBSITE = "website", "Website"
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"
        PDF = "pdf", "PDF"
        DOCUMENT = "document", "Document"
        PRESENTATION = "presentation", "Presentation"
        SPREADSHEET = "spreadsheet", "Spreadsheet"

    MEDIA_CATEGORIES = frozenset({"website", "image", "video"})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assets")
    category = models.CharField(max_length=20, choices=Category.choices, db_index=True)
    title = models.CharField(max_length=200)
    deliverable_key = models.CharField(
        max_length=40, help_text="The plan's deliverable id; regenerating it in the same task adds a version."
    )
    mime_type = models.CharField(max_length=120)
    size = models.BigIntegerField(help_text="Bytes of the primary file.")
    sha256 = models.CharField(max_length=64, help_text="Hash of the primary file's stored bytes.")
    file = models.FileField(max_length=500, help_text="The primary file (for a website: a zip of the site).")
    preview = models.FileField(max_length=500, blank=True, help_text="Preview image, when the category has one.")
    files = models.JSONField(default=list, blank=True, help_text="Every stored file: path, mime_type, size, sha256.")
    metadata = models.JSONField(default=dict, blank=True)
    verification = models.JSONField(default=dict, help_text="The verification report that allowed delivery.")
    content_source = models.CharField(
        max_length=120, help_text="Who wrote the content: built-in templates or a provider."
    )

    source_prompt = models.TextField(blank=True)
    task = models.ForeignKey("tasks.Task", on_delete=models.CASCADE, related_name="assets")
    run = models.ForeignKey("tasks.TaskRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="assets")
    step = models.ForeignKey(
        "tasks.StepExecution", on_delete=models.SET_NULL, null=True, blank=True, related_name="assets"
    )
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.SET_NULL, null=True, blank=True, related_name="assets"
    )
    version = models.PositiveIntegerField(default=1)
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children")
    is_latest = models.BooleanField(default=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["task", "deliverable_key", "version"], name="asset_version_unique"),
            models.UniqueConstraint(
                fields=["task", "deliverable_key"], condition=models.Q(is_latest=True), name="asset_one_latest"
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="asset_version_positive"),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["owner", "category", "is_latest"]),
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    def get_absolute_url(self) -> str:
        return reverse("outputs:detail", args=[self.id])

    @property
    def is_media(self) -> bool:
        return self.category in self.MEDIA_CATEGORIES

    @property
    def verified(self) -> bool:
        return bool(self.verification.get("passed"))

    @property
    def verification_report(self) -> dict:
        """The stored report with every check's status spelt out (older reports had none)."""
        from outputs.verification.report import VerificationReport

        return VerificationReport.from_dict(self.verification or {}).to_dict() | {
            "verified_at": self.verification.get("verified_at", ""),
            "passed": bool(self.verification.get("passed")),
        }

    @property
    def criteria(self) -> list[dict]:
        """The brief's criteria as verification left them: each passed, failed or not_checked."""
        return [c for c in self.verification.get("checks", []) if c.get("criterion")]

    @property
    def not_checked(self) -> list[dict]:
        return [c for c in self.verification.get("checks", []) if c.get("status") == "not_checked"]

    @property
    def fully_verified(self) -> bool:
        """Verified, with nothing left unchecked: the only state the card calls “Verified”."""
        return self.verified and not self.not_checked

    @property
    def verified_at(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.verification.get("verified_at", ""))
        except (TypeError, ValueError):
            return None

    @property
    def show_extension(self) -> bool:
        """False where the extension would only repeat the category (“PDF · PDF”)."""
        return self.extension.lower() != self.category

    @property
    def file_name(self) -> str:
        return self.file.name.rsplit("/", 1)[-1]

    @property
    def extension(self) -> str:
        return self.file_name.rsplit(".", 1)[-1].upper() if "." in self.file_name else ""

    def storage_name(self, rel: str) -> str:
        """Where a file of this asset lives in storage."""
        return f"assets/{self.id}/files/{rel}"

    def file_entry(self, rel: str) -> dict | None:
        """The recorded entry for one of this asset's files; only these may be served."""
        return next((f for f in self.files if f.get("path") == rel), None)
