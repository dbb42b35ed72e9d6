"""Writes for tasks: each function promises one state change, inside one transaction."""

from __future__ import annotations

from django.db import transaction

from tasks.models import Task, TaskUpload
from tasks.uploads import CheckedUpload
from workspaces.models import Workspace


def task_title_from_prompt(prompt: str) -> str:
    first_line = " ".join(prompt.split())
    return first_line if len(first_line) <= 80 else first_line[:79].rstrip() + "…"


@transaction.atomic
def task_submit(
    *,
    owner,
    prompt: str,
    mode: str = Task.Mode.CREATE,
    expertise: str = Task.Expertise.NEW,
    tone: str = Task.Tone.MIXED,
    workspace: Workspace | None = None,
    uploads: list[CheckedUpload] | None = None,
) -> Task:
    """Store a request exactly as typed, with its hints and checked uploads.

    Refuses a workspace that belongs to someone else. Nothing is interpreted here: the raw
    prompt is kept byte for byte so that later steps can always be compared with it.
    """
    if workspace is not None and workspace.owner_id != owner.pk:
        raise PermissionError("That workspace belongs to another user.")
    task = Task.objects.create(
        owner=owner,
        title=task_title_from_prompt(prompt),
        raw_prompt=prompt,
        mode=mode,
        expertise=expertise,
        tone=tone,
        workspace=workspace,
    )
    for upload in uploads or []:
        stored = TaskUpload(
            task=task,
            original_name=upload.original_name,
            content_type=upload.content_type,
            size=upload.size,
            sha256=upload.sha256,
        )
        stored.file.save(upload.original_name, upload.file, save=False)
        stored.save()
    return task
