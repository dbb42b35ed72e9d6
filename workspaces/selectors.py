"""Reads for workspaces. Every selector takes the requesting user and returns only their objects."""

from __future__ import annotations

import hashlib
import mimetypes
import stat
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from workspaces import diffs, paths
from workspaces.models import FileChange, RollbackPoint, Workspace
from workspaces.snapshots import IGNORED_DIRS

TREE_PAGE_SIZE = 200
VIEW_TEXT_LIMIT = 512 * 1024  # larger files open as metadata, not text


def workspace_list(*, user) -> QuerySet[Workspace]:
    return Workspace.objects.filter(owner=user).annotate(change_count=Count("file_changes")).order_by("name")


def workspace_get(*, user, workspace_id) -> Workspace:
    """The user's workspace, or 404 (also for other users' workspaces)."""
    return get_object_or_404(Workspace, pk=workspace_id, owner=user)


@dataclass
class TreeEntry:
    name: str
    path: str
    kind: str  # dir | file | link | other
    size: int | None
    collapsed: bool  # a folder like .git or node_modules: listed, not opened by default


@dataclass
class TreeListing:
    path: str
    page: Page
    entries: list[TreeEntry]


def tree_list(*, root: str, path: str, page_number: int | str = 1) -> TreeListing:
    """One folder of the tree, folders first, paginated. Refuses paths outside the root (PathRefused)."""
    clean = paths.normalise(path, allow_root=True)
    raw = paths.list_dir(root, clean)
    paginator = Paginator(raw, TREE_PAGE_SIZE)
    page = paginator.get_page(page_number)
    entries = []
    for name, info in page.object_list:
        rel = f"{clean}/{name}" if clean else name
        if stat.S_ISDIR(info.st_mode):
            entries.append(TreeEntry(name, rel, "dir", None, name in IGNORED_DIRS))
        elif stat.S_ISREG(info.st_mode):
            entries.append(TreeEntry(name, rel, "file", info.st_size, False))
        elif stat.S_ISLNK(info.st_mode):
            entries.append(TreeEntry(name, rel, "link", None, False))
        else:
            entries.append(TreeEntry(name, rel, "other", None, False))
    return TreeListing(clean, page, entries)


@dataclass
class FileView:
    path: str
    size: int
    mode: int
    sha: str
    mime: str
    is_binary: bool
    too_large: bool
    text: str | None

    @property
    def lines(self) -> list[str]:
        if self.text is None:
            return []
        text = self.text[:-1] if self.text.endswith("\n") else self.text  # no phantom last line
        return text.split("\n")

    @property
    def size_label(self) -> str:
        return diffs.human_size(self.size)


def file_view(*, root: str, path: str) -> FileView:
    """A file's metadata, and its text when it is UTF-8 and small enough to view and edit."""
    clean = paths.normalise(path)
    info = paths.lstat(root, clean)
    if info is None:
        raise FileNotFoundError(clean)
    if not stat.S_ISREG(info.st_mode):
        raise IsADirectoryError(clean)
    mime = mimetypes.guess_type(clean)[0] or "application/octet-stream"
    too_large = info.st_size > VIEW_TEXT_LIMIT
    data = paths.read_bytes(root, clean)
    sha = hashlib.sha256(data).hexdigest()
    binary = diffs.is_binary(data)
    text = None if (binary or too_large) else data.decode("utf-8")
    return FileView(clean, len(data), stat.S_IMODE(info.st_mode), sha, mime, binary, too_large, text)


def change_list(*, workspace: Workspace, page_number: int | str = 1, per_page: int = 25) -> Page:
    query = FileChange.objects.filter(workspace=workspace).select_related("run", "by_user")
    return Paginator(query, per_page).get_page(page_number)


def change_get(*, workspace: Workspace, change_id: int) -> FileChange:
    return get_object_or_404(FileChange, pk=change_id, workspace=workspace)


def rollback_point_list(*, workspace: Workspace, page_number: int | str = 1, per_page: int = 20) -> Page:
    query = RollbackPoint.objects.filter(workspace=workspace).select_related("run", "created_by")
    return Paginator(query, per_page).get_page(page_number)


def rollback_point_get(*, workspace: Workspace, point_id: int) -> RollbackPoint:
    return get_object_or_404(RollbackPoint, pk=point_id, workspace=workspace)


def runs_with_changes(*, workspace: Workspace) -> list[dict]:
    """Runs that changed files here, newest first, with how many changes each made."""
    rows = (
        FileChange.objects.filter(workspace=workspace, run__isnull=False)
        .values("run_id")
        .annotate(count=Count("id"))
        .order_by("-run_id")
    )
    return list(rows[:20])
