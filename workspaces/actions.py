"""Plan-step file actions for the execution engine, in workspace terms.

The engine (tasks) wraps each of these in its handler for the action type; workspaces never
imports tasks. Each action takes the step's `inputs` dict as planned, takes the rollback point
the step needs before it mutates anything, performs the change through the path-safe services,
and returns an `ActionOutcome` whose summary names only files that really changed.

Re-running an interrupted step is safe: a write whose bytes are already on disk records nothing
new, and an edit or delete that this same step already applied is reported as already done
instead of failing or applying twice.

Errors: `PathRefused` and `EditRefused` (the plan asked for something unsafe or impossible: not
retryable), `WorkspaceUnavailable` (the folder is missing or unreadable: the run should wait with
that reason), `ActionInputError` (the step's inputs are malformed: not retryable).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from workspaces import paths
from workspaces.models import Actor, FileChange, RollbackPoint, Workspace
from workspaces.services import (
    EditRefused,
    FileState,
    changes_since_snapshot,
    file_delete,
    file_edit,
    file_read,
    file_state,
    file_write,
    rollback_point_create,
    rollback_point_revert,
    workspace_root,
)
from workspaces.services.files import sha256
from workspaces.snapshots import SnapshotStore


class ActionInputError(Exception):
    """The step's inputs cannot be used as given; `str(exc)` says which and why."""


@dataclass
class ActionOutcome:
    summary: str
    data: dict = field(default_factory=dict)
    changes: list[FileChange] = field(default_factory=list)
    rollback_point: RollbackPoint | None = None


def _path(inputs: dict) -> str:
    raw = inputs.get("path")
    if not isinstance(raw, str) or not raw.strip():
        raise ActionInputError("This step names no file path.")
    return paths.normalise(raw.strip())


def _content(inputs: dict) -> bytes:
    if "content_base64" in inputs:
        try:
            return base64.b64decode(inputs["content_base64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ActionInputError("The step's content_base64 is not valid base64.") from None
    content = inputs.get("content")
    if not isinstance(content, str):
        raise ActionInputError("This step has no text content to write.")
    return content.encode("utf-8")


def _ids(run, step) -> dict:
    return {"run": run, "step": step}


def _already_applied(workspace: Workspace, step, path: str) -> FileChange | None:
    """The change this step already made to `path`, if the file still shows it."""
    if step is None:
        return None
    step_id = getattr(step, "pk", step)
    change = FileChange.objects.filter(workspace=workspace, step_id=step_id, path=path).order_by("-id").first()
    if change is None:
        return None
    current = file_state(root=workspace_root(workspace=workspace), path=path)
    return change if current.sha == change.after_sha else None


def action_read_file(*, workspace: Workspace, inputs: dict, limit: int = 1024 * 1024) -> ActionOutcome:
    """Read a file (up to `limit` bytes). Data: path, size, text (UTF-8) or binary=True."""
    path = _path(inputs)
    data = file_read(workspace=workspace, path=path, limit=limit + 1)
    truncated = len(data) > limit
    data = data[:limit]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ActionOutcome(f"Read {path} (binary, {len(data)} bytes).", {"path": path, "binary": True})
    note = " (first part only)" if truncated else ""
    return ActionOutcome(f"Read {path}{note}.", {"path": path, "text": text, "truncated": truncated})


def action_write_file(*, workspace: Workspace, inputs: dict, run=None, step=None) -> ActionOutcome:
    """Create or replace a file (inputs: path, content or content_base64, optional mode as octal text).

    Takes a pre-edit rollback point of the file first.
    """
    path = _path(inputs)
    content = _content(inputs)
    mode = inputs.get("mode")
    try:
        mode_bits = int(str(mode), 8) & 0o777 if mode not in (None, "") else None
    except ValueError:
        raise ActionInputError(f"The mode {mode!r} is not an octal permission like 644.") from None
    point = rollback_point_create(
        workspace=workspace, kind=RollbackPoint.Kind.PRE_EDIT, paths_in_scope=[path], **_ids(run, step)
    )
    change = file_write(workspace=workspace, path=path, content=content, mode=mode_bits, **_ids(run, step))
    if change is None:
        return ActionOutcome(f"{path} already had exactly this content; nothing changed.", {"path": path}, [], point)
    return ActionOutcome(change.summary, {"path": path, "file_change_id": change.pk}, [change], point)


def action_edit_file(*, workspace: Workspace, inputs: dict, run=None, step=None) -> ActionOutcome:
    """Replace text in a file (inputs: path, find, replace, optional replace_all)."""
    path = _path(inputs)
    find, replace = inputs.get("find"), inputs.get("replace")
    if not isinstance(find, str) or not find or not isinstance(replace, str):
        raise ActionInputError("An edit needs the text to find and the text to replace it with.")
    done = _already_applied(workspace, step, path)
    if done is not None:
        return ActionOutcome(f"Already applied: {done.summary}", {"path": path, "file_change_id": done.pk}, [done])
    point = rollback_point_create(
        workspace=workspace, kind=RollbackPoint.Kind.PRE_EDIT, paths_in_scope=[path], **_ids(run, step)
    )
    change = file_edit(
        workspace=workspace,
        path=path,
        find=find,
        replace=replace,
        replace_all=bool(inputs.get("replace_all")),
        **_ids(run, step),
    )
    if change is None:
        return ActionOutcome(f"The edit left {path} unchanged.", {"path": path}, [], point)
    return ActionOutcome(change.summary, {"path": path, "file_change_id": change.pk}, [change], point)


def action_delete_file(*, workspace: Workspace, inputs: dict, run=None, step=None) -> ActionOutcome:
    """Delete one file (inputs: path). Deleting something already gone is reported, not faked."""
    path = _path(inputs)
    if step is not None:
        earlier = FileChange.objects.filter(
            workspace=workspace, step_id=getattr(step, "pk", step), path=path, change_type=FileChange.Type.DELETED
        ).first()
        if earlier is not None and not file_state(root=workspace_root(workspace=workspace), path=path).exists:
            return ActionOutcome(f"Already applied: {earlier.summary}", {"path": path}, [earlier])
    point = rollback_point_create(
        workspace=workspace, kind=RollbackPoint.Kind.PRE_EDIT, paths_in_scope=[path], **_ids(run, step)
    )
    change = file_delete(workspace=workspace, path=path, **_ids(run, step))
    if change is None:
        return ActionOutcome(f"{path} did not exist; nothing was deleted.", {"path": path}, [], point)
    return ActionOutcome(change.summary, {"path": path, "file_change_id": change.pk}, [change], point)


def _after_sha(action: str, inputs: dict, before: FileState) -> str | None:
    """The sha256 the file step would leave at its path, starting from `before`; None when it
    would not apply (an edit whose text is not there once, a file that is not UTF-8)."""
    if action == "delete_file":
        return ""
    if action == "write_file":
        return sha256(_content(inputs))
    if action != "edit_file" or not before.exists or before.data is None:
        return None
    find, replace = inputs.get("find"), inputs.get("replace")
    try:
        text = before.data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not isinstance(find, str) or not find or not isinstance(replace, str) or find not in text:
        return None
    if inputs.get("replace_all"):
        return sha256(text.replace(find, replace).encode("utf-8"))
    return sha256(text.replace(find, replace, 1).encode("utf-8")) if text.count(find) == 1 else None


def action_interrupted_restore(*, workspace: Workspace, action: str, inputs: dict, step) -> tuple[bool, str]:
    """Put the file of a file step whose worker died mid-step where repeating the step is exact.

    Returns (restored, what was found or done, in words). Restored when: the step's change is
    on disk and recorded (repeating it finds it done); the file is as the step's pre-edit
    rollback point holds it, or no point was taken yet (nothing was applied); or the file holds
    exactly what the step writes but no change was recorded (the worker died between the two):
    then it is put back from the pre-edit point, so the repeated step records its change. Not
    restored — a person has to look — when the file is neither before nor after the step's
    change (something else changed it) or the point cannot be read or reverted.
    """
    path = _path(inputs)
    step_id = getattr(step, "pk", step)
    current = file_state(root=workspace_root(workspace=workspace), path=path)
    done = FileChange.objects.filter(workspace=workspace, step_id=step_id, path=path).order_by("-id").first()
    if done is not None and current.sha == done.after_sha:
        return True, f"Its change to {path} had been applied and recorded; repeating the step finds it done."
    point = (
        RollbackPoint.objects.filter(step_id=step_id, kind=RollbackPoint.Kind.PRE_EDIT)
        .order_by("-created_at", "-id")
        .first()
    )
    if point is None:
        return True, f"It had not changed {path} yet (it stopped before taking its pre-edit point)."
    store = SnapshotStore()
    if not store.has(point.manifest_sha):
        return False, f"The stored list of files of its pre-edit point of {path} is missing."
    entry = store.get_manifest(point.manifest_sha).files.get(path)
    before_sha = entry[0] if entry else ""
    if current.sha == before_sha:
        return True, f"{path} is as its pre-edit point holds it: nothing had been applied."
    before = FileState(True, before_sha, data=store.get(before_sha)) if before_sha else FileState(False)
    if current.sha != _after_sha(action, inputs, before):
        return False, (
            f"{path} is neither as it was before the step nor as the step leaves it, so something else "
            "changed it and Command cannot tell what to keep."
        )
    outcome = rollback_point_revert(point=point, user=None, confirm_overwrite=True)
    if not outcome.done:
        return False, f"Putting {path} back from its pre-edit point did not complete: {outcome.message}"
    return True, (
        f"It had changed {path} without recording the change, so {path} was put back from its pre-edit point."
    )


def command_checkpoint(*, workspace: Workspace, command: str, run=None, step=None) -> RollbackPoint:
    """The pre-command rollback point of the whole tree; call right before running `command`."""
    return rollback_point_create(
        workspace=workspace, kind=RollbackPoint.Kind.PRE_COMMAND, note=f"Before `{command[:250]}`", **_ids(run, step)
    )


def command_changes(*, point: RollbackPoint, command: str, run=None, step=None) -> ActionOutcome:
    """What `command` changed in the folder since `point`, recorded as FileChanges (actor: command)."""
    changes = changes_since_snapshot(point=point, actor=Actor.COMMAND, actor_label=command[:300], **_ids(run, step))
    if not changes:
        summary = "The command changed no files in the workspace (ignored folders are not compared)."
    else:
        shown = ", ".join(c.path for c in changes[:5]) + (f" and {len(changes) - 5} more" if len(changes) > 5 else "")
        summary = f"The command changed {len(changes)} file{'s' if len(changes) != 1 else ''}: {shown}."
    data = {"file_change_ids": [c.pk for c in changes], "rollback_point_id": point.pk}
    return ActionOutcome(summary, data, changes, point)


def delivery_checkpoint(*, workspace: Workspace, run=None, step=None) -> RollbackPoint:
    """The delivery-safe point: call after verification passed, before delivering."""
    return rollback_point_create(workspace=workspace, kind=RollbackPoint.Kind.DELIVERY_SAFE, **_ids(run, step))


__all__ = [
    "ActionInputError",
    "ActionOutcome",
    "EditRefused",
    "action_delete_file",
    "action_edit_file",
    "action_interrupted_restore",
    "action_read_file",
    "action_write_file",
    "command_changes",
    "command_checkpoint",
    "delivery_checkpoint",
]
