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
    expertise: str | None = None,
    tone: str | None = None,
    workspace: Workspace | None = None,
    uploads: list[CheckedUpload] | None = None,
) -> Task:
    """Store a request exactly as typed, with its hints and checked uploads.

    A tone or expertise not given is the owner's default from the memory page (else mixed / new).
    Refuses a workspace that belongs to someone else. Nothing is interpreted here: the raw
    prompt is kept byte for byte so that later steps can always be compared with it.
    """
    if workspace is not None and workspace.owner_id != owner.pk:
        raise PermissionError("That workspace belongs to another user.")
    if tone is None or expertise is None:
        from approvals.selectors import style_preferences_for

        remembered = style_preferences_for(owner=owner)
        tone = tone or remembered.get("tone", Task.Tone.MIXED)
        expertise = expertise or remembered.get("expertise", Task.Expertise.NEW)
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


@transaction.atomic
def task_start_if_ready(*, task: Task):
    """Start a run of the task's latest plan when it is planned and nothing is running yet.

    Command does the work once it has shown what it understood: a planned task starts at once,
    and every risky step still waits for the operator's approval inside the run. Returns the new
    TaskRun, or None when the task is not ready (questions open, a provider needed or being
    asked) or already has a run that has not finished.
    """
    from tasks.engine.dispatch import run_create
    from tasks.models import TaskRun

    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.status != Task.Status.PLANNED:
        return None
    unfinished = {
        TaskRun.State.QUEUED,
        TaskRun.State.RUNNING,
        TaskRun.State.WAITING_APPROVAL,
        TaskRun.State.PAUSED,
        TaskRun.State.VERIFYING,
    }
    if task.runs.filter(state__in=unfinished).exists():
        return None
    try:
        return run_create(task=task)
    except ValueError:
        return None  # e.g. a plan with no steps: the task page says why it cannot run
