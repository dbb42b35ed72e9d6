"""Rollback points, what a command changed, eligibility to revert, and revert itself.

A revert is planned as a list of `Restore`s (path → the state to put back), checked for
conflicts (the file changed after the point in a way Command did not make itself), guarded by a
pre-revert rollback point, and then applied file by file with a FileChange each.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from enum import StrEnum

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from command_site.write_fence import write_fence_check
from workspaces import paths, snapshots
from workspaces.models import Actor, FileChange, RollbackPoint, Workspace
from workspaces.services.files import FileState, file_state, record_change
from workspaces.services.folders import WorkspaceUnavailable, workspace_root, workspace_status
from workspaces.snapshots import IGNORE_RULES, Manifest, SnapshotStore

# Actors whose changes are Command's own: a revert may undo them without asking.
OWN_ACTORS = (Actor.STEP, Actor.COMMAND, Actor.REVERT)


class RevertRefused(Exception):
    """Revert is not possible; `str(exc)` says why."""


def _names(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _scope_label(kind: str, scope: list[str] | None, manifest: Manifest) -> str:
    if scope is None:
        count = len(manifest.files)
        label = f"the whole folder ({count} file{'s' if count != 1 else ''}"
        if manifest.skipped:
            label += f"; not covered: {_names(manifest.skipped)}"
        return label + ")"
    noun = {
        RollbackPoint.Kind.PRE_EDIT: "the step will touch",
        RollbackPoint.Kind.PRE_REVERT: "the revert will change",
    }.get(kind, "chosen")
    return f"{len(scope)} file{'s' if len(scope) != 1 else ''} {noun}: {_names(scope)}"


def rollback_point_create(
    *,
    workspace: Workspace,
    kind: str,
    paths_in_scope: list[str] | None = None,
    note: str = "",
    actor: str = Actor.STEP,
    user=None,
    run=None,
    step=None,
    protects_revert_of: RollbackPoint | None = None,
) -> RollbackPoint:
    """Capture the files a step will touch (`paths_in_scope`) or the whole tree (None) and record a point.

    pre_edit needs `paths_in_scope`; pre_command, delivery_safe and manual capture the whole tree
    with IGNORE_RULES (stated on the point). Every blob is durable before the row is written.
    Refuses unavailable folders (WorkspaceUnavailable) and paths outside the folder (PathRefused).
    """
    if kind == RollbackPoint.Kind.PRE_EDIT and not paths_in_scope:
        raise ValueError("A pre-edit rollback point needs the paths the step will touch.")
    root = workspace_root(workspace=workspace)
    scope = None if paths_in_scope is None else sorted({paths.normalise(p) for p in paths_in_scope})
    # A superseded run's worker adds nothing to the snapshot store (see command_site.write_fence).
    write_fence_check(what=f"take a rollback point ({kind.replace('_', '-')})")
    manifest, sha = snapshots.capture(root=root, cache_key=str(workspace.pk), scope=scope)
    # One INSERT, its own transaction outside a caller's (BEGIN and COMMIT would add two round trips).
    return RollbackPoint.objects.create(
        workspace=workspace,
        kind=kind,
        scope_label=_scope_label(kind, scope, manifest)[:500],
        scope_paths=scope,
        ignore_rules=IGNORE_RULES if scope is None else [IGNORE_RULES[1]],
        skipped=manifest.skipped,
        manifest_sha=sha,
        file_count=len(manifest.files),
        total_bytes=manifest.total_bytes,
        note=note[:300],
        actor=actor,
        created_by=user,
        run_id=getattr(run, "pk", run),
        step_id=getattr(step, "pk", step),
        protects_revert_of=protects_revert_of,
    )


# --- what a command changed ---------------------------------------------------------------------


def changes_since_snapshot(
    *,
    point: RollbackPoint,
    actor: str = Actor.COMMAND,
    actor_label: str = "",
    user=None,
    run=None,
    step=None,
) -> list[FileChange]:
    """Compare the folder now with `point` and record a FileChange per file that differs.

    Covers exactly the point's scope with its ignore rules (for a whole-tree point: everything but
    the ignored folders, whose contents are never compared). A file gone from one path and present
    with the same bytes at a new path is recorded as a rename. Symlinks are not compared.
    """
    workspace = point.workspace
    root = workspace_root(workspace=workspace)
    store = SnapshotStore()
    before = store.get_manifest(point.manifest_sha)
    after, _ = snapshots.capture(root=root, cache_key=str(workspace.pk), scope=before.scope, store=store)
    created = sorted(set(after.files) - set(before.files))
    deleted = sorted(set(before.files) - set(after.files))
    modified = sorted(
        p
        for p in set(before.files) & set(after.files)
        if before.files[p][0] != after.files[p][0] or before.files[p][2] != after.files[p][2]
    )
    by_sha_deleted: dict[str, list[str]] = {}
    for p in deleted:
        by_sha_deleted.setdefault(before.files[p][0], []).append(p)
    common = {
        "workspace": workspace,
        "actor": actor,
        "actor_label": actor_label,
        "user": user,
        "run": run,
        "step": step,
        "rollback_point": point,
        "store": store,
    }

    def state(manifest: Manifest, p: str) -> FileState:
        sha, size, mode = manifest.files[p]
        return FileState(True, sha, size, mode, store.get(sha))

    out: list[FileChange] = []
    for p in created:
        sha = after.files[p][0]
        if by_sha_deleted.get(sha):
            old = by_sha_deleted[sha].pop(0)
            deleted.remove(old)
            change = record_change(path=p, old_path=old, before=state(before, old), after=state(after, p), **common)
        else:
            change = record_change(path=p, before=FileState(False), after=state(after, p), **common)
        if change:
            out.append(change)
    for p in modified:
        change = record_change(path=p, before=state(before, p), after=state(after, p), **common)
        if change:
            out.append(change)
    for p in deleted:
        change = record_change(path=p, before=state(before, p), after=FileState(False), **common)
        if change:
            out.append(change)
    return out


# --- eligibility -------------------------------------------------------------------------------


class Verdict(StrEnum):
    REVERTIBLE = "revertible"
    PARTLY = "partly"
    NOT_REVERTIBLE = "not_revertible"


@dataclass
class Restore:
    """One file to put back: `target_sha` "" means the file must not exist after the revert."""

    path: str
    target_sha: str
    target_mode: int | None
    current_sha: str
    expected_sha: str  # what Command's own recorded changes left there
    link_target: str | None = None

    @property
    def conflict(self) -> bool:
        return self.current_sha != self.expected_sha

    @property
    def action(self) -> str:
        if self.link_target is not None:
            return "recreate link"
        if not self.target_sha:
            return "delete"
        return "recreate" if not self.current_sha else "restore"


@dataclass
class Eligibility:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)  # why not, or what is not covered
    restores: list[Restore] = field(default_factory=list)
    missing_blobs: list[str] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Restore]:
        return [r for r in self.restores if r.conflict]

    @property
    def label(self) -> str:
        return {"revertible": "Revertible", "partly": "Partly revertible", "not_revertible": "Not revertible"}[
            self.verdict
        ]


def _changes_after(workspace: Workspace, when, paths_: list[str]) -> dict[str, list[FileChange]]:
    out: dict[str, list[FileChange]] = {}
    if not paths_:
        return out
    query = FileChange.objects.filter(workspace=workspace, created_at__gte=when).filter(
        Q(path__in=paths_) | Q(old_path__in=paths_)
    )
    for change in query.order_by("created_at", "id"):
        for p in (change.path, change.old_path):
            if p:
                out.setdefault(p, []).append(change)
    return out


def _after_state(change: FileChange, p: str) -> str:
    return "" if change.change_type == FileChange.Type.RENAMED and change.old_path == p else change.after_sha


def _expected(point_sha: str, later: list[FileChange], p: str) -> str:
    """The content Command itself last left at `p`: a change by someone else is a conflict."""
    expected = point_sha
    for change in later:
        expected = _after_state(change, p) if change.actor in OWN_ACTORS else "\x00changed by " + change.actor
    return expected


def _current_manifest(root: str, workspace: Workspace, scope, store: SnapshotStore) -> Manifest:
    manifest, _ = snapshots.capture(root=root, cache_key=str(workspace.pk), scope=scope, store=store)
    return manifest


def _path_refused(exc: paths.PathRefused) -> Eligibility:
    """A path the revert would write through leads outside the folder (a folder swapped for a link):
    nothing can be put back safely until the folder is as it was."""
    return Eligibility(
        Verdict.NOT_REVERTIBLE,
        [f"{exc} Nothing was reverted; put the folder back as it was, then try again."],
    )


def rollback_point_eligibility(*, point: RollbackPoint) -> Eligibility:
    """Whether reverting to `point` is possible now, what it would restore and what it would not cover.

    A path that now leads outside the folder makes the point not revertible, with the reason."""
    try:
        return _point_eligibility(point)
    except paths.PathRefused as exc:
        return _path_refused(exc)


def _point_eligibility(point: RollbackPoint) -> Eligibility:
    status = workspace_status(workspace=point.workspace)
    if not status.available:
        return Eligibility(Verdict.NOT_REVERTIBLE, [status.message])
    store = SnapshotStore()
    if not store.has(point.manifest_sha):
        return Eligibility(Verdict.NOT_REVERTIBLE, ["The stored list of files for this point is missing."])
    saved = store.get_manifest(point.manifest_sha)
    root = workspace_root(workspace=point.workspace)
    now = _current_manifest(root, point.workspace, saved.scope, store)
    candidates = sorted(set(saved.files) | set(now.files) | set(saved.links) | set(now.links))
    later = _changes_after(point.workspace, point.created_at, candidates)
    restores: list[Restore] = []
    for p in candidates:
        if not saved.covers(p):
            continue
        want = saved.files.get(p)
        have = now.files.get(p)
        want_sha = want[0] if want else ""
        have_sha = have[0] if have else ""
        if p in saved.links:
            if now.links.get(p) != saved.links[p]:
                restores.append(Restore(p, "", None, have_sha, have_sha, link_target=saved.links[p]))
            continue
        if p in now.links and not want:
            restores.append(Restore(p, "", None, "link", "link"))
            continue
        if want_sha == have_sha and (not want or want[2] == have[2]):
            continue
        restores.append(
            Restore(p, want_sha, want[2] if want else None, have_sha, _expected(want_sha, later.get(p, []), p))
        )
    missing = sorted(r.path for r in restores if r.target_sha and not store.has(r.target_sha))
    reasons: list[str] = []
    if missing:
        reasons.append(f"The stored content of {_names(missing)} is missing from the snapshot store.")
    if saved.skipped:
        reasons.append(f"Ignored folders: {_names(saved.skipped, 5)} (their contents are not captured).")
    if point.kind == RollbackPoint.Kind.PRE_COMMAND:
        reasons.append(
            "Effects of the command outside this folder (installed packages, network calls, other folders) "
            "cannot be reverted."
        )
    if saved.links:
        reasons.append("Symbolic links are restored as links; what they point at was not captured.")
    if missing and len(missing) == len([r for r in restores if r.target_sha]) and missing:
        verdict = Verdict.NOT_REVERTIBLE
    elif reasons:
        verdict = Verdict.PARTLY
    else:
        verdict = Verdict.REVERTIBLE
    return Eligibility(verdict, reasons, restores, missing)


def run_revert_eligibility(*, workspace: Workspace, run_id: int) -> Eligibility:
    """Everything one run changed in this workspace, put back to how it was before the run's first change.

    A path that now leads outside the folder makes the run not revertible, with the reason."""
    try:
        return _run_eligibility(workspace, run_id)
    except paths.PathRefused as exc:
        return _path_refused(exc)


def _run_eligibility(workspace: Workspace, run_id: int) -> Eligibility:
    status = workspace_status(workspace=workspace)
    if not status.available:
        return Eligibility(Verdict.NOT_REVERTIBLE, [status.message])
    changes = list(FileChange.objects.filter(workspace=workspace, run_id=run_id).order_by("created_at", "id"))
    if not changes:
        return Eligibility(Verdict.NOT_REVERTIBLE, ["This run changed no files in this workspace."])
    first: dict[str, tuple[str, int | None]] = {}
    last_own: dict[str, str] = {}
    for change in changes:
        if change.change_type == FileChange.Type.RENAMED:
            first.setdefault(change.old_path, (change.before_sha, change.before_mode))
            first.setdefault(change.path, ("", None))
            last_own[change.old_path] = ""
            last_own[change.path] = change.after_sha
        else:
            first.setdefault(change.path, (change.before_sha, change.before_mode))
            last_own[change.path] = change.after_sha
    root = workspace_root(workspace=workspace)
    store = SnapshotStore()
    later = _changes_after(workspace, changes[-1].created_at, list(first))
    restores = []
    for p in sorted(first):
        current = file_state(root=root, path=p)
        target_sha, target_mode = first[p]
        if current.sha == target_sha and (not target_sha or current.mode == target_mode):
            continue
        own_later = [c for c in later.get(p, []) if c.run_id != run_id]
        restores.append(Restore(p, target_sha, target_mode, current.sha, _expected(last_own[p], own_later, p)))
    missing = sorted(r.path for r in restores if r.target_sha and not store.has(r.target_sha))
    reasons = []
    if missing:
        reasons.append(f"The stored content of {_names(missing)} is missing from the snapshot store.")
    points = RollbackPoint.objects.filter(workspace=workspace, run_id=run_id, kind=RollbackPoint.Kind.PRE_COMMAND)
    if points.exists():
        reasons.append(
            "The run ran commands: their effects outside this folder and inside ignored folders cannot be reverted."
        )
    verdict = (
        Verdict.NOT_REVERTIBLE
        if missing and len(missing) == len(restores)
        else (Verdict.PARTLY if reasons else Verdict.REVERTIBLE)
    )
    return Eligibility(verdict, reasons, restores, missing)


# --- revert ------------------------------------------------------------------------------------


@dataclass
class RevertOutcome:
    done: bool
    eligibility: Eligibility
    changes: list[FileChange] = field(default_factory=list)
    guard: RollbackPoint | None = None
    message: str = ""


def _apply(
    *,
    workspace: Workspace,
    eligibility: Eligibility,
    user,
    label: str,
    guard_for: RollbackPoint | None,
    confirm_overwrite: bool,
    manifest: Manifest | None = None,
) -> RevertOutcome:
    if eligibility.verdict == Verdict.NOT_REVERTIBLE:
        return RevertOutcome(False, eligibility, message=" ".join(eligibility.reasons) or "Not revertible.")
    if eligibility.conflicts and not confirm_overwrite:
        return RevertOutcome(
            False,
            eligibility,
            message=f"{_names([r.path for r in eligibility.conflicts])} changed after this point. "
            "Confirm to overwrite those changes.",
        )
    todo = [r for r in eligibility.restores if r.path not in eligibility.missing_blobs]
    if not todo:
        if manifest is not None:
            _restore_folders(workspace_root(workspace=workspace), manifest)
        return RevertOutcome(True, eligibility, message="Nothing to restore: the files already match.")
    root = workspace_root(workspace=workspace)
    store = SnapshotStore()
    guard = None
    if todo:
        guard = rollback_point_create(
            workspace=workspace,
            kind=RollbackPoint.Kind.PRE_REVERT,
            paths_in_scope=[r.path for r in todo],
            note=f"Taken before {label}",
            actor=Actor.REVERT,
            user=user,
            protects_revert_of=guard_for,
        )
    recorded: list[FileChange] = []
    # Deletions first, so a folder that becomes a file (or the reverse) has room.
    for restore in sorted(todo, key=lambda r: (bool(r.target_sha or r.link_target is not None), r.path)):
        before = (
            file_state(root=root, path=restore.path) if restore.current_sha not in ("", "link") else FileState(False)
        )
        if restore.link_target is not None:
            paths.remove(root, restore.path)
            resolved = paths.resolve(root, restore.path, follow_last=False)
            with paths.open_parent(resolved, create=True) as parent:
                os.symlink(restore.link_target, resolved.parts[-1], dir_fd=parent)
            continue
        if not restore.target_sha:
            info = paths.lstat(root, restore.path, follow_last=False)
            if info is not None and stat.S_ISDIR(info.st_mode):
                continue
            paths.remove(root, restore.path)
            after = FileState(False)
        else:
            data = store.get(restore.target_sha)
            info = paths.lstat(root, restore.path, follow_last=False)
            if info is not None and not stat.S_ISREG(info.st_mode):
                paths.remove(root, restore.path)
            paths.write_atomic(root, restore.path, data, mode=restore.target_mode)
            after = file_state(root=root, path=restore.path)
        change = record_change(
            workspace=workspace,
            path=restore.path,
            before=before,
            after=after,
            actor=Actor.REVERT,
            actor_label=label,
            user=user,
            store=store,
            rollback_point=guard,
        )
        if change:
            recorded.append(change)
    if manifest is not None:
        _restore_folders(root, manifest)
    return RevertOutcome(
        True,
        eligibility,
        recorded,
        guard,
        f"Restored {len(recorded)} file{'s' if len(recorded) != 1 else ''}; the state before the revert is kept "
        f"as rollback point #{guard.pk}.",
    )


def _restore_folders(root: str, manifest: Manifest) -> None:
    """Recreate the point's folders and remove empty folders it did not have (inside its scope)."""
    for rel in sorted(manifest.dirs):
        paths.make_dir(root, rel)
    wanted = set(manifest.dirs)
    for rel in sorted(_walk_dirs(root), key=lambda d: d.count("/"), reverse=True):
        if rel in wanted or not manifest.covers_dir(rel):
            continue
        resolved = paths.resolve(root, rel, follow_last=False)
        try:
            with paths.open_parent(resolved) as parent:
                os.rmdir(resolved.parts[-1], dir_fd=parent)
        except OSError:
            continue  # not empty (holds something not covered): left in place


def _walk_dirs(root: str) -> list[str]:
    out = []
    for current, dirnames, _ in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in snapshots.IGNORED_DIRS]
        for d in dirnames:
            out.append(os.path.relpath(os.path.join(current, d), root).replace(os.sep, "/"))
    return out


def rollback_point_revert(*, point: RollbackPoint, user=None, confirm_overwrite: bool = False) -> RevertOutcome:
    """Put the point's scope back as it was. Asks (done=False, conflicts listed) instead of overwriting.

    A file that changed after the point other than by Command's own steps, commands or reverts
    is a conflict: nothing is changed unless `confirm_overwrite`. Before changing anything, a
    pre-revert rollback point of the files it will touch is recorded, so the revert can be undone.
    Refuses nothing silently: an ineligible point returns done=False with the reasons.
    """
    try:
        eligibility = rollback_point_eligibility(point=point)
    except WorkspaceUnavailable as exc:
        raise RevertRefused(str(exc)) from None
    store = SnapshotStore()
    manifest = store.get_manifest(point.manifest_sha) if store.has(point.manifest_sha) else None
    outcome = _apply(
        workspace=point.workspace,
        eligibility=eligibility,
        user=user,
        label=f"revert to {point.get_kind_display().lower()} #{point.pk}",
        guard_for=point,
        confirm_overwrite=confirm_overwrite,
        manifest=manifest,
    )
    if outcome.done:
        with transaction.atomic():
            point.reverted_at = timezone.now()
            point.save(update_fields=["reverted_at"])
    return outcome


def run_revert(*, workspace: Workspace, run_id: int, user=None, confirm_overwrite: bool = False) -> RevertOutcome:
    """Undo every file change one run made in this workspace, with the same rules as a point revert."""
    eligibility = run_revert_eligibility(workspace=workspace, run_id=run_id)
    return _apply(
        workspace=workspace,
        eligibility=eligibility,
        user=user,
        label=f"revert of run {run_id}",
        guard_for=None,
        confirm_overwrite=confirm_overwrite,
    )


def snapshot_garbage_collect(*, grace_seconds: int = 3600) -> tuple[int, int]:
    """Delete blobs no rollback point or recorded change refers to. Returns (blobs, bytes) freed."""
    referenced: set[str] = set(RollbackPoint.objects.values_list("manifest_sha", flat=True))
    for before, after in FileChange.objects.values_list("before_sha", "after_sha").iterator():
        referenced.add(before)
        referenced.add(after)
    return SnapshotStore().collect_garbage(referenced, grace_seconds=grace_seconds)


GC_SCHEDULE_NAME = "workspaces: collect snapshot garbage"


def snapshot_gc_schedule_ensure() -> None:
    """Create the daily snapshot GC schedule once (idempotent)."""
    from django_q.models import Schedule

    if not Schedule.objects.filter(name=GC_SCHEDULE_NAME).exists():
        Schedule.objects.create(
            name=GC_SCHEDULE_NAME,
            func="workspaces.jobs.collect_snapshot_garbage",
            schedule_type=Schedule.DAILY,
            repeats=-1,
        )
