"""Workspace folders: create, register, import from a zip, check, relink, forget."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from workspaces import paths
from workspaces.models import Workspace

ZIP_MAX_FILES = 5000
ZIP_MAX_TOTAL_BYTES = 500 * 1024 * 1024
ZIP_MAX_FILE_BYTES = 100 * 1024 * 1024


class WorkspaceError(Exception):
    """A workspace request was refused; `str(exc)` says why in plain words."""


class FolderState(StrEnum):
    AVAILABLE = "available"
    MISSING = "missing"
    UNREADABLE = "unreadable"
    REPLACED = "replaced"
    OUTSIDE_ROOTS = "outside_roots"


@dataclass(frozen=True)
class WorkspaceStatus:
    state: FolderState
    message: str

    @property
    def available(self) -> bool:
        return self.state == FolderState.AVAILABLE


class WorkspaceUnavailable(WorkspaceError):
    def __init__(self, status: WorkspaceStatus) -> None:
        super().__init__(status.message)
        self.status = status


def _default_root() -> Path:
    roots = settings.COMMAND_WORKSPACE_ROOTS
    if not roots:
        raise WorkspaceError("No workspace root is configured (COMMAND_WORKSPACE_ROOTS is empty).")
    root = Path(roots[0])
    root.mkdir(parents=True, exist_ok=True)
    return root


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
    return slug or "workspace"


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise WorkspaceError("Give the workspace a name.")
    if len(name) > 120:
        raise WorkspaceError("Keep the name under 120 characters.")
    return name


def _fresh_folder(name: str) -> Path:
    root = _default_root()
    base = _slug(name)
    for attempt in range(50):
        candidate = root / (base if attempt == 0 else f"{base}-{attempt + 1}")
        if not candidate.exists():
            return candidate
    return root / f"{base}-{secrets.token_hex(3)}"


def _refuse_command_folders(real: str) -> None:
    """The snapshot store must stay outside every workspace, and no workspace may hold Command's data."""
    store = os.path.realpath(os.fspath(settings.COMMAND_SNAPSHOT_DIR))
    data = os.path.realpath(os.fspath(settings.COMMAND_DATA_DIR))
    overlaps_store = os.path.commonpath([real, store]) in (real, store)
    holds_data = os.path.commonpath([real, data]) == real
    if overlaps_store or holds_data:
        raise WorkspaceError(f"{real} overlaps Command's own data ({store}); choose a folder outside it.")


def _unusable(path: str) -> WorkspaceError:
    """One refusal for a missing, foreign, non-folder or unreadable path: it tells nothing about
    whether the path exists or whose it is."""
    return WorkspaceError(f"There is no folder at {path} that you can use. Check the path, or choose another folder.")


def _ancestors(real: str) -> list[str]:
    out, current = [], real
    while True:
        out.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            return out
        current = parent


def _folders_of_others(real: str, *, owner, exclude=()) -> list[Workspace]:
    """Other accounts' workspaces at `real`, above it or inside it."""
    inside = real.rstrip(os.sep) + os.sep
    query = Workspace.objects.exclude(owner=owner).exclude(pk__in=[w.pk for w in exclude])
    return list(query.filter(path__in=_ancestors(real)) | query.filter(path__startswith=inside))


def _lock_folder_claims() -> None:
    """Serialise folder claims so that two accounts cannot take overlapping folders at once.

    SQLite transactions here are IMMEDIATE (one writer at a time); PostgreSQL needs a lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_FOLDER_CLAIM_LOCK])


# An arbitrary constant naming the advisory lock that guards folder claims.
_FOLDER_CLAIM_LOCK = 0x636F6D6D616E64


def _save(*, owner, name: str, folder: str, origin: str, requested: str | None = None) -> Workspace:
    info = os.stat(folder)
    try:
        with transaction.atomic():
            _lock_folder_claims()
            if _folders_of_others(folder, owner=owner):
                raise _unusable(requested or folder)
            return Workspace.objects.create(
                owner=owner,
                name=name,
                path=folder,
                device=info.st_dev,
                inode=info.st_ino,
                origin=origin,
                last_seen_at=timezone.now(),
            )
    except IntegrityError:
        raise WorkspaceError("You already have a workspace for that folder.") from None


def workspace_create(*, owner, name: str) -> Workspace:
    """Create a new empty folder under the default workspace root and register it.

    Refuses an empty or overlong name. The folder name is derived from the name and never
    replaces an existing folder.
    """
    name = _clean_name(name)
    folder = _fresh_folder(name)
    folder.mkdir(mode=0o755)
    try:
        return _save(owner=owner, name=name, folder=str(folder.resolve()), origin=Workspace.Origin.CREATED)
    except WorkspaceError:
        folder.rmdir()
        raise


def workspace_register(*, owner, path: str, name: str = "") -> Workspace:
    """Register an existing folder, which must lie inside one of COMMAND_WORKSPACE_ROOTS.

    Symlinks are resolved before the check; the root itself is refused, and so is a folder that
    is, holds or lies inside another account's workspace. Missing, foreign, non-folder and
    unreadable paths all get the same answer, so the refusal never tells whether a path exists.
    The folder's device and inode are kept to notice a later replacement.
    """
    path = (path or "").strip()
    try:
        real = paths.ensure_root_allowed(path, settings.COMMAND_WORKSPACE_ROOTS)
    except paths.PathRefused as exc:
        raise WorkspaceError(str(exc)) from None
    _refuse_command_folders(real)
    if _folders_of_others(real, owner=owner) or not _usable_folder(real):
        raise _unusable(path)
    return _save(
        owner=owner,
        name=_clean_name(name or os.path.basename(real)),
        folder=real,
        origin=Workspace.Origin.REGISTERED,
        requested=path,
    )


def _usable_folder(real: str) -> bool:
    return os.path.isdir(real) and os.access(real, os.R_OK | os.X_OK)


@dataclass
class ZipImport:
    workspace: Workspace
    files: int
    total_bytes: int
    skipped: list[str] = field(default_factory=list)


def workspace_import_zip(*, owner, name: str, archive: IO[bytes]) -> ZipImport:
    """Unpack an uploaded zip into a new folder under the default root and register it.

    Refuses (WorkspaceError, nothing left on disk) archives that are not zips, that hold an entry
    escaping the folder (zip-slip: absolute, `..`, drive letters, backslashes, look-alike
    characters), more than ZIP_MAX_FILES entries, or more than ZIP_MAX_TOTAL_BYTES unpacked
    (counted while unpacking, so a lying header cannot bomb the disk). Symlink entries are never
    extracted; they are listed in `skipped`.
    """
    name = _clean_name(name)
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise WorkspaceError("That file is not a readable zip archive.") from None
    with bundle:
        members = bundle.infolist()
        if len(members) > ZIP_MAX_FILES:
            raise WorkspaceError(f"The archive holds {len(members)} entries; the limit is {ZIP_MAX_FILES}.")
        plan: list[tuple[zipfile.ZipInfo, str]] = []
        skipped: list[str] = []
        declared = 0
        for member in members:
            unix_mode = member.external_attr >> 16
            if stat.S_ISLNK(unix_mode):
                skipped.append(f"{member.filename} (symbolic link, not extracted)")
                continue
            try:
                rel = paths.normalise(member.filename.rstrip("/"), allow_root=True)
            except paths.PathRefused as exc:
                raise WorkspaceError(
                    f"The archive entry '{member.filename[:200]}' would land outside the folder ({exc}); "
                    "nothing was imported."
                ) from None
            if not rel:
                continue
            declared += member.file_size
            plan.append((member, rel))
        if declared > ZIP_MAX_TOTAL_BYTES:
            raise WorkspaceError(
                f"The archive unpacks to {declared // (1024 * 1024)} MB; the limit is "
                f"{ZIP_MAX_TOTAL_BYTES // (1024 * 1024)} MB."
            )
        folder = _fresh_folder(name)
        staging = folder.parent / f".{folder.name}.import-{secrets.token_hex(4)}"
        staging.mkdir(mode=0o755)
        total = files = 0
        try:
            for member, rel in plan:
                if member.is_dir():
                    paths.make_dir(staging, rel)
                    continue
                if member.file_size > ZIP_MAX_FILE_BYTES:
                    raise WorkspaceError(
                        f"'{rel}' unpacks to more than {ZIP_MAX_FILE_BYTES // (1024 * 1024)} MB; nothing was imported."
                    )
                with bundle.open(member) as source:
                    data = source.read(ZIP_MAX_FILE_BYTES + 1)
                if len(data) > ZIP_MAX_FILE_BYTES or len(data) != member.file_size:
                    raise WorkspaceError(f"'{rel}' is not the size its header claims; nothing was imported.")
                total += len(data)
                if total > ZIP_MAX_TOTAL_BYTES:
                    raise WorkspaceError("The archive unpacks to more than the size limit; nothing was imported.")
                mode = (member.external_attr >> 16) & 0o777
                paths.write_atomic(staging, rel, data, mode=(mode if mode & 0o400 else 0o644))
                files += 1
            os.rename(staging, folder)
        except (WorkspaceError, paths.PathRefused, zipfile.BadZipFile, OSError, EOFError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, WorkspaceError):
                raise
            raise WorkspaceError(f"The archive could not be unpacked ({exc}); nothing was imported.") from None
    try:
        workspace = _save(owner=owner, name=name, folder=str(folder.resolve()), origin=Workspace.Origin.IMPORTED)
    except WorkspaceError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return ZipImport(workspace=workspace, files=files, total_bytes=total, skipped=skipped)


def workspace_status(*, workspace: Workspace) -> WorkspaceStatus:
    """The folder's state right now: available, missing, unreadable, replaced, or outside the roots."""
    folder = workspace.path
    try:
        paths.ensure_root_allowed(folder, settings.COMMAND_WORKSPACE_ROOTS)
    except paths.PathRefused:
        return WorkspaceStatus(
            FolderState.OUTSIDE_ROOTS,
            f"The folder {folder} is no longer inside a configured workspace root, so Command will not touch it.",
        )
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return WorkspaceStatus(FolderState.MISSING, f"The folder {folder} is missing. Relink it or forget it.")
    except OSError as exc:
        return WorkspaceStatus(FolderState.UNREADABLE, f"The folder {folder} cannot be read ({exc.strerror}).")
    if not stat.S_ISDIR(info.st_mode):
        return WorkspaceStatus(
            FolderState.MISSING, f"{folder} is no longer a folder. Relink the workspace or forget it."
        )
    if not os.access(folder, os.R_OK | os.X_OK | os.W_OK):
        return WorkspaceStatus(FolderState.UNREADABLE, f"Command has no permission to read and write {folder}.")
    if workspace.inode is not None and (info.st_ino != workspace.inode or info.st_dev != workspace.device):
        return WorkspaceStatus(
            FolderState.REPLACED,
            f"The folder at {folder} is not the one you registered (it was moved or replaced). "
            "Relink to accept this folder, or forget the workspace.",
        )
    return WorkspaceStatus(FolderState.AVAILABLE, "The folder is available.")


def workspace_root(*, workspace: Workspace) -> str:
    """The folder's real path for a file operation; raises WorkspaceUnavailable when not available."""
    status = workspace_status(workspace=workspace)
    if not status.available:
        raise WorkspaceUnavailable(status)
    return os.path.realpath(workspace.path)


def workspace_relink(*, workspace: Workspace, path: str = "") -> Workspace:
    """Point the workspace at `path` (or accept the folder now at its old path) and record its identity.

    The same rules as registering apply: inside the configured roots, an existing readable folder.
    """
    target = (path or workspace.path).strip()
    try:
        real = paths.ensure_root_allowed(target, settings.COMMAND_WORKSPACE_ROOTS)
    except paths.PathRefused as exc:
        raise WorkspaceError(str(exc)) from None
    _refuse_command_folders(real)
    if _folders_of_others(real, owner=workspace.owner_id) or not _usable_folder(real):
        raise _unusable(target)
    info = os.stat(real)
    if Workspace.objects.filter(owner=workspace.owner, path=real).exclude(pk=workspace.pk).exists():
        raise WorkspaceError("Another of your workspaces already uses that folder.")
    with transaction.atomic():
        _lock_folder_claims()
        if _folders_of_others(real, owner=workspace.owner_id):
            raise _unusable(target)
        workspace.path = real
        workspace.device = info.st_dev
        workspace.inode = info.st_ino
        workspace.last_seen_at = timezone.now()
        workspace.save(update_fields=["path", "device", "inode", "last_seen_at"])
    return workspace


def workspace_overlaps(*, workspace: Workspace) -> list[Workspace]:
    """Other accounts' workspaces at, above or inside this one's folder (none, since folders
    belong to one account; older installations may hold some: transfer settles them)."""
    return _folders_of_others(workspace.path, owner=workspace.owner_id)


def workspace_transfer(*, workspaces: list[Workspace], to_owner) -> list[Workspace]:
    """Hand `workspaces` (with their change history and rollback points) to another account.

    Refuses, changing nothing, while any run in them is unfinished or recoverable (it would go on
    working in a folder its owner no longer has), when the new account already has a workspace
    for one of the folders, or when a folder would still overlap another account's workspace
    (transfer nested workspaces together). The previous owners' requests keep their history but
    no longer point at the folder, and their remembered approvals for it are dropped: nothing of
    theirs may start work there again.
    """
    workspaces = list(workspaces)
    with transaction.atomic():
        _lock_folder_claims()
        for workspace in workspaces:
            # Through the reverse relation: workspaces does not import the tasks app.
            busy = workspace.runs.exclude(state__in=("completed", "failed", "cancelled"))
            if busy.exists():
                raise WorkspaceError(
                    f"“{workspace.name}” has unfinished or recoverable runs; finish or cancel them first."
                )
            if Workspace.objects.filter(owner=to_owner, path=workspace.path).exclude(pk=workspace.pk).exists():
                raise WorkspaceError(f"{to_owner} already has a workspace for {workspace.path}.")
            for other in _folders_of_others(workspace.path, owner=to_owner, exclude=workspaces):
                raise WorkspaceError(
                    f"“{workspace.name}” overlaps “{other.name}” ({other.path}) of {other.owner}; "
                    "transfer them together."
                )
        for workspace in workspaces:
            workspace.tasks.exclude(owner=to_owner).update(workspace=None)
            workspace.approval_preferences.exclude(owner=to_owner).delete()
            workspace.owner = to_owner
            workspace.save(update_fields=["owner"])
    return workspaces


def workspace_forget(*, workspace: Workspace) -> None:
    """Remove the workspace record, its change history and rollback points. The folder is not touched."""
    with transaction.atomic():
        workspace.delete()
