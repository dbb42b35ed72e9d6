"""Asset bytes in the configured default storage (local files or S3-compatible via django-storages)."""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from pathlib import Path

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage

from command_site.write_fence import write_fence_check

logger = logging.getLogger(__name__)


def store_path(name: str, path: Path) -> str:
    """Upload one local file; returns the name the storage actually used. Fenced: a superseded
    run's worker uploads nothing (command_site.write_fence), checked right before each upload."""
    write_fence_check(what=f"store {name}")
    with open(path, "rb") as fh:
        return default_storage.save(name, File(fh, name=path.name))


def store_bytes(name: str, data: bytes) -> str:
    """Upload bytes; fenced like store_path."""
    write_fence_check(what=f"store {name}")
    return default_storage.save(name, ContentFile(data))


def zip_folder(root: Path, rels: list[str]) -> bytes:
    """A deterministic zip of the listed files (fixed timestamps, sorted order)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in sorted(rels):
            info = zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (root / rel).read_bytes())
    return buf.getvalue()


def hash_stored(name: str) -> tuple[int, str]:
    """Size and sha256 of stored bytes, read back from storage (not from any cached record)."""
    digest, size = hashlib.sha256(), 0
    with default_storage.open(name, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def delete_quietly(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # noqa: BLE001 — cleanup after a failed delivery must not mask the failure
            logger.warning("Could not remove %s after a failed delivery", name, exc_info=True)
