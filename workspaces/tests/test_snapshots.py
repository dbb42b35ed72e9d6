"""Snapshot store: watcher-based incremental captures equal full scans; blobs are written once."""

from __future__ import annotations

import os

import pytest

from workspaces import snapshots, watch
from workspaces.snapshots import SnapshotStore


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    (root / "src" / "deep").mkdir(parents=True)
    (root / "src" / "a.txt").write_text("a\n")
    (root / "src" / "deep" / "b.txt").write_text("b\n")
    (root / "top.txt").write_text("top\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("x")
    return root


def _full(root, store):
    return snapshots.capture(root=root, cache_key="full", store=store, use_watcher=False)[0]


MUTATIONS = {
    "edit": lambda r: (r / "src" / "a.txt").write_text("a changed\n"),
    "create": lambda r: (r / "src" / "new.txt").write_text("new\n"),
    "delete": lambda r: (r / "top.txt").unlink(),
    "chmod": lambda r: os.chmod(r / "top.txt", 0o600),
    "rename file": lambda r: os.rename(r / "top.txt", r / "src" / "moved.txt"),
    "new folder with files": lambda r: (
        (r / "dist" / "js").mkdir(parents=True),
        (r / "dist" / "js" / "app.js").write_text("1"),
    ),
    "new ignored folder": lambda r: ((r / "node_modules").mkdir(), (r / "node_modules" / "x.js").write_text("1")),
    "symlink": lambda r: os.symlink("top.txt", r / "alias"),
    "delete folder (falls back to a full scan)": lambda r: (
        (r / "src" / "deep" / "b.txt").unlink(),
        (r / "src" / "deep").rmdir(),
    ),
    "rename folder (falls back to a full scan)": lambda r: os.rename(r / "src", r / "lib"),
    "write same size same second": lambda r: (r / "src" / "a.txt").write_text("A\n"),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_incremental_capture_matches_a_full_scan(tree, tmp_path, name):
    store = SnapshotStore(tmp_path / "store")
    first, _ = snapshots.capture(root=tree, cache_key="w", store=store)
    assert first.skipped == [".git"]
    MUTATIONS[name](tree)
    after, sha = snapshots.capture(root=tree, cache_key="w", store=store)
    full = _full(tree, SnapshotStore(tmp_path / "other-store"))
    assert after.to_bytes() == full.to_bytes()
    assert after.to_bytes() != first.to_bytes()
    assert store.get_manifest(sha).files == full.files
    assert all(store.has(entry[0]) for entry in after.files.values())


@pytest.mark.skipif(not watch.AVAILABLE, reason="inotify not available")
def test_watcher_is_used_and_dropped_after_garbage_collection(tree, tmp_path):
    store = SnapshotStore(tmp_path / "store")
    snapshots.capture(root=tree, cache_key="w", store=store)
    key = ("w", os.path.realpath(tree), str(store.base))
    assert key in snapshots._WATCHED
    store.collect_garbage([], grace_seconds=0)  # deletes every blob: the remembered manifest is void
    (tree / "top.txt").write_text("changed\n")
    manifest, _ = snapshots.capture(root=tree, cache_key="w", store=store)
    assert all(store.has(entry[0]) for entry in manifest.files.values())  # re-read, not assumed


def test_blobs_are_deduplicated_and_read_only(tmp_path):
    store = SnapshotStore(tmp_path / "store")
    first = store.put_bytes(b"same")
    second = store.put_bytes(b"same")
    assert first == second
    assert sum(1 for p in store.blobs.rglob("*") if p.is_file()) == 1
    assert not os.access(store.blob_path(first), os.W_OK) or os.geteuid() == 0
    assert oct(store.blob_path(first).stat().st_mode & 0o777) == "0o444"


def test_large_files_stream_through_a_temporary_file(tmp_path):
    store = SnapshotStore(tmp_path / "store")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(snapshots._IN_MEMORY_LIMIT + 1000))
    fd = os.open(big, os.O_RDONLY)
    try:
        sha, size = store.put_fd(fd)
    finally:
        os.close(fd)
    assert size == big.stat().st_size and store.get(sha) == big.read_bytes()
    assert list(store.tmp.iterdir()) == []
