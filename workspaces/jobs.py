"""django-q2 entry points for workspaces: thin wrappers that take ids and call a service."""

from __future__ import annotations

from workspaces import services


def collect_snapshot_garbage() -> str:
    """Periodic: delete snapshot blobs no rollback point or recorded change refers to."""
    deleted, freed = services.snapshot_garbage_collect()
    return f"deleted {deleted} blobs, freed {freed} bytes"
