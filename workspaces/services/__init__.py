"""Writes for workspaces, by concept: folders, files, rollback. Import from here.

The execution engine calls these (see each docstring for what it promises and refuses):

    workspace_create / workspace_register / workspace_import_zip / workspace_status /
    workspace_root / workspace_relink / workspace_overlaps / workspace_transfer /
    workspace_forget
    file_read / file_write / file_edit / file_delete / file_rename / file_save_from_editor
    file_list / file_search (bounded, for a model: see services/search.py)
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
    workspace_overlaps,
    workspace_register,
    workspace_relink,
    workspace_root,
    workspace_status,
    workspace_transfer,
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
from workspaces.services.search import (
    FileListing,
    SearchRefused,
    SearchResult,
    file_list,
    file_search,
)

__all__ = [
    "EditConflict",
    "EditRefused",
    "Eligibility",
    "FileListing",
    "FileState",
    "FolderState",
    "PathRefused",
    "Restore",
    "RevertOutcome",
    "RevertRefused",
    "SearchRefused",
    "SearchResult",
    "Verdict",
    "WorkspaceError",
    "WorkspaceStatus",
    "WorkspaceUnavailable",
    "ZipImport",
    "changes_since_snapshot",
    "file_delete",
    "file_edit",
    "file_read",
    "file_list",
    "file_rename",
    "file_save_from_editor",
    "file_search",
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
    "workspace_overlaps",
    "workspace_register",
    "workspace_relink",
    "workspace_root",
    "workspace_status",
    "workspace_transfer",
]
