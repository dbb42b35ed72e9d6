"""Writes for workspaces, by concept: folders, files, rollback. Import from here.

The execution engine calls these (see each docstring for what it promises and refuses):

    workspace_create / workspace_register / workspace_import_zip / workspace_status /
    workspace_root / workspace_relink / workspace_forget
    file_read / file_write / file_edit / file_delete / file_rename / file_save_from_editor
    rollback_point_create / rollback_point_eligibility / rollback_point_revert /
    changes_since_snapshot / run_revert_eligibility / run_revert / snapshot_garbage_collect
"""

from workspaces.paths import PathRefused
from workspaces.services.files import (
    EditConflict,
    EditRefused,
    FileState,
    file_delete,
    file_edit,
    file_read,
    file_rename,
    file_save_from_editor,
    file_state,
    file_write,
    record_change,
)
from workspaces.services.folders import (
    FolderState,
    WorkspaceError,
    WorkspaceStatus,
    WorkspaceUnavailable,
    ZipImport,
    workspace_create,
    workspace_forget,
    workspace_import_zip,
    workspace_register,
    workspace_relink,
    workspace_root,
    workspace_status,
    workspaces_off,
)
from workspaces.services.rollback import (
    Eligibility,
    Restore,
    RevertOutcome,
    RevertRefused,
    Verdict,
    changes_since_snapshot,
    rollback_point_create,
    rollback_point_eligibility,
    rollback_point_revert,
    run_revert,
    run_revert_eligibility,
    snapshot_garbage_collect,
    snapshot_gc_schedule_ensure,
)

__all__ = [
    "workspaces_off",
    "EditConflict",
    "EditRefused",
    "Eligibility",
    "FileState",
    "FolderState",
    "PathRefused",
    "Restore",
    "RevertOutcome",
    "RevertRefused",
    "Verdict",
    "WorkspaceError",
    "WorkspaceStatus",
    "WorkspaceUnavailable",
    "ZipImport",
    "changes_since_snapshot",
    "file_delete",
    "file_edit",
    "file_read",
    "file_rename",
    "file_save_from_editor",
    "file_state",
    "file_write",
    "record_change",
    "rollback_point_create",
    "rollback_point_eligibility",
    "rollback_point_revert",
    "run_revert",
    "run_revert_eligibility",
    "snapshot_garbage_collect",
    "snapshot_gc_schedule_ensure",
    "workspace_create",
    "workspace_forget",
    "workspace_import_zip",
    "workspace_register",
    "workspace_relink",
    "workspace_root",
    "workspace_status",
]
