"""Workspace folders: zip import (zip-slip, limits, links), honest status, relink and forget."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import pytest

from workspaces.services import (
    FolderState,
    WorkspaceError,
    WorkspaceUnavailable,
    file_write,
    workspace_create,
    workspace_import_zip,
    workspace_register,
    workspace_relink,
    workspace_status,
)
from workspaces.services import folders as folder_services


def _zip(entries: list[tuple[str, bytes]], links: list[tuple[str, str]] = ()) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data)
        for name, target in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    buffer.seek(0)
    return buffer


def _everything_under(folder) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs}


def test_zip_import_unpacks_files_and_never_extracts_links(owner, roots):
    archive = _zip([("index.html", b"<h1>hi</h1>"), ("css/site.css", b"body{}")], links=[("escape", "/etc/passwd")])
    result = workspace_import_zip(owner=owner, name="Zipped site", archive=archive)
    folder = result.workspace.path
    assert result.files == 2 and result.workspace.origin == "imported"
    assert _everything_under(folder) == {"index.html", os.path.join("css", "site.css")}
    assert result.skipped == ["escape (symbolic link, not extracted)"]
    assert not os.path.lexists(os.path.join(folder, "escape"))


@pytest.mark.parametrize(
    "evil",
    [
        "../evil.txt",
        "../../outside/evil.txt",
        "/tmp/evil.txt",
        "a/../../evil.txt",
        "C:\\evil.txt",
        "..\\evil.txt",
        "\uff0e\uff0e/evil.txt",
        "ok/%2e%2e/evil.txt",
    ],
)
def test_zip_slip_archive_is_refused_and_leaves_nothing(owner, roots, evil):
    before = _everything_under(roots["tmp"])
    archive = _zip([("index.html", b"fine"), (evil, b"pwned")])
    with pytest.raises(WorkspaceError, match="would land outside the folder"):
        workspace_import_zip(owner=owner, name="Evil", archive=archive)
    assert _everything_under(roots["tmp"]) == before
    assert os.listdir(roots["main"]) == []


def test_zip_limits_are_enforced_while_unpacking(owner, roots, monkeypatch):
    monkeypatch.setattr(folder_services, "ZIP_MAX_FILES", 3)
    with pytest.raises(WorkspaceError, match="limit is 3"):
        workspace_import_zip(owner=owner, name="Many", archive=_zip([(f"f{i}", b"x") for i in range(4)]))
    monkeypatch.setattr(folder_services, "ZIP_MAX_TOTAL_BYTES", 1000)
    bomb = _zip([("zeros.bin", bytes(5000))])
    with pytest.raises(WorkspaceError, match="limit"):
        workspace_import_zip(owner=owner, name="Bomb", archive=bomb)
    with pytest.raises(WorkspaceError, match="not a readable zip"):
        workspace_import_zip(owner=owner, name="Junk", archive=io.BytesIO(b"not a zip at all"))
    assert os.listdir(roots["main"]) == []


def test_status_is_checked_live(workspace, roots):
    assert workspace_status(workspace=workspace).state == FolderState.AVAILABLE
    original = workspace.path
    os.rename(original, original + "-away")
    status = workspace_status(workspace=workspace)
    assert status.state == FolderState.MISSING and "missing" in status.message
    with pytest.raises(WorkspaceUnavailable):
        file_write(workspace=workspace, path="a.txt", content=b"x")
    assert not os.path.exists(original)  # nothing was recreated behind the operator's back

    os.mkdir(original)  # a different folder now at the same path
    assert workspace_status(workspace=workspace).state == FolderState.REPLACED
    workspace_relink(workspace=workspace)
    assert workspace_status(workspace=workspace).state == FolderState.AVAILABLE

    os.chmod(original, 0o000)
    try:
        if os.access(original, os.R_OK):
            pytest.skip("running as a user that ignores permissions")
        assert workspace_status(workspace=workspace).state == FolderState.UNREADABLE
    finally:
        os.chmod(original, 0o755)


def test_register_rules(owner, roots):
    inside = roots["main"] / "project"
    inside.mkdir()
    workspace = workspace_register(owner=owner, path=str(inside))
    assert workspace.name == "project" and workspace.inode == os.stat(inside).st_ino
    with pytest.raises(WorkspaceError, match="already have a workspace"):
        workspace_register(owner=owner, path=str(inside) + "/")
    (roots["main"] / "file.txt").write_text("x")
    for bad, message in (
        (str(roots["main"] / "file.txt"), "no folder"),  # the same answer as a missing path
        (str(roots["main"] / "nope"), "no folder"),
        (str(roots["main"]), "configured workspace roots"),
        (str(roots["sibling"]), "configured workspace roots"),
        ("relative/folder", "absolute path"),
    ):
        with pytest.raises(WorkspaceError, match=message):
            workspace_register(owner=owner, path=bad)
    os.symlink(roots["outside"], roots["main"] / "sneaky")
    with pytest.raises(WorkspaceError, match="configured workspace roots"):
        workspace_register(owner=owner, path=str(roots["main"] / "sneaky"))


def test_create_never_reuses_an_existing_folder(owner, roots):
    (roots["main"] / "site").mkdir()
    (roots["main"] / "site" / "keep.txt").write_text("mine")
    workspace = workspace_create(owner=owner, name="Site")
    assert workspace.path == str(roots["main"] / "site-2")
    with pytest.raises(WorkspaceError):
        workspace_create(owner=owner, name="   ")


def test_commands_own_data_never_becomes_a_workspace(owner, roots, settings):
    settings.COMMAND_SNAPSHOT_DIR = roots["main"] / "projects" / ".command-snapshots"
    settings.COMMAND_SNAPSHOT_DIR.mkdir(parents=True)
    for folder in (roots["main"] / "projects", settings.COMMAND_SNAPSHOT_DIR):
        with pytest.raises(WorkspaceError, match="overlaps Command's own data"):
            workspace_register(owner=owner, path=str(folder))
    (roots["main"] / "elsewhere").mkdir()
    assert workspace_register(owner=owner, path=str(roots["main"] / "elsewhere"))
