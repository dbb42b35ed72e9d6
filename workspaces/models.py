"""Workspaces: real local folders that Command reads and changes on the operator's behalf."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Workspace(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspaces")
    name = models.CharField(max_length=120)
    path = models.CharField(max_length=1024, help_text="Absolute path of the folder on this machine.")
    # The folder's identity when registered: a different device/inode means it was moved or replaced.
    device = models.BigIntegerField(null=True, blank=True)
    inode = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "path"], name="workspace_unique_path_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name
