"""File operations inside a workspace. Every mutation is atomic and records a FileChange."""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass

from command_site.write_fence import write_fence_current
from workspaces import diffs, paths
from workspaces.models import Actor, FileChange, RollbackPoint, Workspace
from workspaces.services.folders import workspace_root
from workspaces.snapshots import SnapshotStore

MAX_READ_BYTES = 50 * 1024 * 1024


class EditRefused(Exception):
    """A text edit could not be applied as asked; `str(exc)` says why."""


class EditConflict(Exception):
    """The file changed on disk since the editor opened it. Carries both versions."""

    def __init__(self, *, path: str, current: bytes | None, current_sha: str, attempted: bytes) -> None:
        super().__init__(f"'{path}' changed on disk since you opened it; nothing was saved.")
        self.path = path
        self.current = current
        self.current_sha = current_sha
        self.attempted = attempted


@dataclass(frozen=True)
class FileState:
    """What is at a path: `exists` False means nothing (or a folder, which file operations never touch)."""

    exists: bool
    sha: str = ""
    size: int | None = None
    mode: int | None = None
    data: bytes | None = None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_state(*, root: str, path: str) -> FileState:
    """The current content of a file (refusing paths outside the root)."""
    info = paths.lstat(root, path)
    if info is None or not stat.S_ISREG(info.st_mode):
        return FileState(False)
    data = paths.read_bytes(root, path)
    return FileState(True, sha256(data), len(data), stat.S_IMODE(info.st_mode), data)


def _summary(change_type: str, path: str, *, old_path: str = "", result: diffs.DiffResult, before, after) -> str:
    if change_type == FileChange.Type.RENAMED:
        return f"Renamed {old_path} to {path}"
    if result.is_binary:
        return f"{change_type.capitalize()} {path} (binary, {diffs.human_size(before)} → {diffs.human_size(after)})"
    sizes = f"{diffs.human_size(before)} → {diffs.human_size(after)}"
    if result.truncated and not result.text:
        return f"{change_type.capitalize()} {path} (too large to diff, {sizes})"
    if change_type == FileChange.Type.CREATED:
        return f"Created {path} ({result.added} line{'s' if result.added != 1 else ''})"
    if change_type == FileChange.Type.DELETED:
        return f"Deleted {path} ({result.removed} line{'s' if result.removed != 1 else ''})"
    if result.whitespace_only:
        return f"Changed whitespace only in {path}"
    if not result.added and not result.removed:
        return f"Changed permissions of {path}"
    return f"Edited {path}: +{result.added} −{result.removed} lines"


def record_change(
    *,
    workspace: Workspace,
    path: str,
    before: FileState,
    after: FileState,
    actor: str,
    actor_label: str = "",
    old_path: str = "",
    user=None,
    run=None,
    step=None,
    rollback_point: RollbackPoint | None = None,
    store: SnapshotStore | None = None,
) -> FileChange | None:
    """Record one change (both versions go into the snapshot store). None when nothing changed.

    Not fenced: the change is already on disk, so it is recorded whoever made it; inside a run's
    write fence the change carries the fence's attempt, for the audit.
    """
    if not old_path and before.exists == after.exists and before.sha == after.sha and before.mode == after.mode:
        return None
    store = store or SnapshotStore()
    for state in (before, after):
        if state.exists and state.data is not None and not store.has(state.sha):
            store.put_bytes(state.data)
    store.sync()
    if old_path:
        change_type = FileChange.Type.RENAMED
    elif not before.exists:
        change_type = FileChange.Type.CREATED
    elif not after.exists:
        change_type = FileChange.Type.DELETED
    else:
        change_type = FileChange.Type.MODIFIED
    result = diffs.compute(
        path, before.data if before.exists else None, after.data if after.exists else None, old_path=old_path or None
    )
    # One INSERT, its own transaction outside a caller's (BEGIN and COMMIT would add two round trips).
    return FileChange.objects.create(
        workspace=workspace,
        path=path,
        old_path=old_path,
        change_type=change_type,
        before_sha=before.sha,
        after_sha=after.sha,
        before_size=before.size,
        after_size=after.size,
        before_mode=before.mode,
        after_mode=after.mode,
        is_binary=result.is_binary,
        diff=result.text,
        diff_truncated=result.truncated,
        added_lines=result.added,
        removed_lines=result.removed,
        whitespace_only=result.whitespace_only,
        summary=_summary(change_type, path, old_path=old_path, result=result, before=before.size, after=after.size)[
            :300
        ],
        actor=actor,
        actor_label=actor_label[:300],
        by_user=user,
        run_id=getattr(run, "pk", run),
        step_id=getattr(step, "pk", step),
        rollback_point=rollback_point,
        run_attempt=_fence_attempt(run),
    )


def _fence_attempt(run) -> int | None:
    """The attempt of the run whose write fence is open here, when the change is that run's."""
    fence = write_fence_current()
    run_id = getattr(run, "pk", run)
    if fence is None or run_id is None or fence.run_id != run_id:
        return None
    return fence.attempt


def file_read(*, workspace: Workspace, path: str, limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of a file inside the workspace.

    Refuses paths outside the folder (PathRefused) and unavailable folders (WorkspaceUnavailable);
    raises FileNotFoundError / IsADirectoryError like open() would.
    """
    return paths.read_bytes(workspace_root(workspace=workspace), path, limit=limit)


def file_write(
    *,
    workspace: Workspace,
    path: str,
    content: bytes,
    actor: str = Actor.STEP,
    actor_label: str = "",
    user=None,
    run=None,
    step=None,
    mode: int | None = None,
) -> FileChange | None:
    """Create or replace a file atomically and record the FileChange (None when the bytes were identical).

    Refuses paths outside the folder, writing over a folder, and unavailable folders.
    """
    root = workspace_root(workspace=workspace)
    clean = paths.normalise(path)
    before = file_state(root=root, path=clean)
    paths.write_atomic(root, clean, content, mode=mode)
    after = file_state(root=root, path=clean)
    return record_change(
        workspace=workspace,
        path=clean,
        before=before,
        after=after,
        actor=actor,
        actor_label=actor_label,
        user=user,
        run=run,
        step=step,
    )


def file_edit(
    *,
    workspace: Workspace,
    path: str,
    find: str,
    replace: str,
    replace_all: bool = False,
    actor: str = Actor.STEP,
    actor_label: str = "",
    user=None,
    run=None,
    step=None,
) -> FileChange | None:
    """Replace the text `find` with `replace` in a UTF-8 file and record the change.

    Refuses (EditRefused) binary files, a missing file, `find` not present, and `find` present more
    than once unless `replace_all` — so an edit never lands somewhere the plan did not mean.
    """
    root = workspace_root(workspace=workspace)
    clean = paths.normalise(path)
    before = file_state(root=root, path=clean)
    if not before.exists:
        raise EditRefused(f"'{clean}' does not exist, so it cannot be edited.")
    if diffs.is_binary(before.data):
        raise EditRefused(f"'{clean}' is a binary file; Command only edits text files.")
    text = before.data.decode("utf-8")
    count = text.count(find) if find else 0
    if count == 0:
        raise EditRefused(f"The text to replace was not found in '{clean}'.")
    if count > 1 and not replace_all:
        raise EditRefused(f"The text to replace occurs {count} times in '{clean}'; the edit is ambiguous.")
    new = text.replace(find, replace) if replace_all else text.replace(find, replace, 1)
    paths.write_atomic(root, clean, new.encode("utf-8"))
    after = file_state(root=root, path=clean)
    return record_change(
        workspace=workspace,
        path=clean,
        before=before,
        after=after,
        actor=actor,
        actor_label=actor_label,
        user=user,
        run=run,
        step=step,
    )


def file_save_from_editor(*, workspace: Workspace, path: str, content: str, base_sha: str, user) -> FileChange | None:
    """Save the operator's editor text, unless the file changed on disk since it was opened.

    `base_sha` is the sha256 of the file when the editor loaded it ("" for a new file). A
    mismatch raises EditConflict with the disk version, and nothing is written. Like a step's
    edit, a save that changes the file first takes a pre-edit rollback point of it, which the
    recorded change names.
    """
    root = workspace_root(workspace=workspace)
    clean = paths.normalise(path)
    current = file_state(root=root, path=clean)
    # Browsers send textarea lines with CRLF: keep the file's own line endings instead.
    text = content.replace("\r\n", "\n")
    if current.data is not None and b"\r\n" in current.data:
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    if current.sha != base_sha:
        raise EditConflict(path=clean, current=current.data, current_sha=current.sha, attempted=data)
    if current.exists and current.data == data:
        return None  # nothing to save, so nothing to roll back to
    from workspaces.services.rollback import rollback_point_create  # rollback builds on this module

    point = rollback_point_create(
        workspace=workspace,
        kind=RollbackPoint.Kind.PRE_EDIT,
        paths_in_scope=[clean],
        note="Before your save in the editor",
        actor=Actor.EDITOR,
        user=user,
    )
    paths.write_atomic(root, clean, data)
    after = file_state(root=root, path=clean)
    label = getattr(user, "email", "") or getattr(user, "username", "")
    return record_change(
        workspace=workspace,
        path=clean,
        before=current,
        after=after,
        actor=Actor.EDITOR,
        actor_label=label,
        user=user,
        rollback_point=point,
    )


def file_delete(
    *, workspace: Workspace, path: str, actor: str = Actor.STEP, actor_label: str = "", user=None, run=None, step=None
) -> FileChange | None:
    """Delete one file (a symlink is removed itself, never its target) and record it.

    Folders are refused here: deleting a tree is a command-sized action with a pre-command point.
    Returns None when there was nothing to delete.
    """
    root = workspace_root(workspace=workspace)
    clean = paths.normalise(path)
    info = paths.lstat(root, clean, follow_last=False)
    if info is None:
        return None
    if stat.S_ISDIR(info.st_mode):
        raise EditRefused(f"'{clean}' is a folder; delete its files one by one or run a command.")
    before = file_state(root=root, path=clean) if stat.S_ISREG(info.st_mode) else FileState(False)
    paths.remove(root, clean)
    if not before.exists:
        return None
    return record_change(
        workspace=workspace,
        path=clean,
        before=before,
        after=FileState(False),
        actor=actor,
        actor_label=actor_label,
        user=user,
        run=run,
        step=step,
    )


def file_rename(
    *,
    workspace: Workspace,
    path: str,
    new_path: str,
    actor: str = Actor.STEP,
    actor_label: str = "",
    user=None,
    run=None,
    step=None,
) -> FileChange:
    """Rename a file inside the workspace; refuses to replace an existing target."""
    root = workspace_root(workspace=workspace)
    source, target = paths.normalise(path), paths.normalise(new_path)
    before = file_state(root=root, path=source)
    if not before.exists:
        raise EditRefused(f"'{source}' is not a file, so it cannot be renamed.")
    paths.rename(root, source, target)
    after = file_state(root=root, path=target)
    return record_change(
        workspace=workspace,
        path=target,
        old_path=source,
        before=before,
        after=after,
        actor=actor,
        actor_label=actor_label,
        user=user,
        run=run,
        step=step,
    )
