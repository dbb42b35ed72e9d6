"""Content-addressed snapshot store for rollback points, kept outside every user folder.

Layout under settings.COMMAND_SNAPSHOT_DIR:

    blobs/ab/cdef…      file contents by sha256, written once (temp file + rename), never changed
    statcache/<key>.json  per workspace: path → (size, mtime_ns, inode, sha256, mode), so a file
                        whose stat is unchanged is not read again
    tmp/                temporary files of writes in progress

A *manifest* (itself a blob, JSON) lists every captured file with its sha256, size and mode, the
symlinks (by target text, never followed), the folders, and the ignored folders that were present.

Ignore rule (stated on every whole-tree point): folders named in IGNORED_DIRS are not captured and
are listed as not covered, at any depth. Symlinks are recorded as links; what they point at is not
captured.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import gc
import hashlib
import json
import marshal
import os
import secrets
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from workspaces import paths, watch

IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".next",
        ".cache",
    }
)
IGNORE_RULES = [
    "Folders named " + ", ".join(sorted(IGNORED_DIRS)) + " are not captured, at any depth (listed as not covered).",
    "Symbolic links are recorded as links; what they point at is not captured.",
]
# Files modified this close to the scan may change again within the same mtime tick: re-read them.
RACY_MARGIN_NS = 50_000_000
_IN_MEMORY_LIMIT = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


def _libc_syncfs():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        return libc.syncfs if hasattr(libc, "syncfs") else None
    except OSError:
        return None


_SYNCFS = _libc_syncfs()


@dataclass
class Manifest:
    files: dict[str, list] = field(default_factory=dict)  # path → [sha256, size, mode]
    links: dict[str, str] = field(default_factory=dict)  # path → link target text
    dirs: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # ignored folders present (not covered)
    scope: list[str] | None = None  # None: whole tree
    records: dict[str, str] = field(default_factory=dict, repr=False)  # serialised file lines, reused

    # Format: one JSON line (links, folders, skipped, scope), then one "sha size mode path" record
    # per file, each ended by NUL (the one byte no file name holds). Sorted, so equal trees give
    # equal bytes and thus the same manifest blob; much faster than JSON for thousands of files.
    def to_bytes(self) -> bytes:
        header = json.dumps(
            {
                "v": 2,
                "links": self.links,
                "dirs": sorted(self.dirs),
                "skipped": sorted(self.skipped),
                "scope": self.scope,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        records = self.records
        body = "".join([records.get(p) or f"{e[0]} {e[1]} {e[2]} {p}\0" for p, e in sorted(self.files.items())])
        return (header + "\n" + body).encode("utf-8", "surrogateescape")

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        head, _, body = data.decode("utf-8", "surrogateescape").partition("\n")
        meta = json.loads(head)
        files: dict[str, list] = {}
        for record in body.split("\0"):
            if record:
                sha, size, mode, path = record.split(" ", 3)
                files[path] = [sha, int(size), int(mode)]
        return cls(files=files, links=meta["links"], dirs=meta["dirs"], skipped=meta["skipped"], scope=meta["scope"])

    @property
    def total_bytes(self) -> int:
        return sum(entry[1] for entry in self.files.values())

    def covers(self, path: str) -> bool:
        if self.scope is None:
            return not any(part in IGNORED_DIRS for part in path.split("/"))
        return any(path == s or path.startswith(s + "/") for s in self.scope)

    def covers_dir(self, path: str) -> bool:
        """A folder is in scope when it is inside the scope or holds a path of the scope."""
        return self.covers(path) or (self.scope is not None and any(s.startswith(path + "/") for s in self.scope))


class SnapshotStore:
    """Blobs by sha256 under one base folder. Safe to use from several processes at once."""

    def __init__(self, base: str | os.PathLike | None = None) -> None:
        self.base = Path(base if base is not None else settings.COMMAND_SNAPSHOT_DIR)
        self.blobs = self.base / "blobs"
        self.tmp = self.base / "tmp"
        self.statcache_dir = self.base / "statcache"
        for folder in (self.blobs, self.tmp, self.statcache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._pending_sync = False

    # --- blobs ---------------------------------------------------------------------------------
    def blob_path(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"not a sha256: {sha!r}")
        return self.blobs / sha[:2] / sha[2:]

    def has(self, sha: str) -> bool:
        return self.blob_path(sha).is_file()

    def get(self, sha: str) -> bytes:
        return self.blob_path(sha).read_bytes()

    def _install(self, temp: Path, sha: str) -> None:
        target = self.blob_path(sha)
        try:
            os.rename(temp, target)
        except FileNotFoundError:
            target.parent.mkdir(exist_ok=True)
            os.rename(temp, target)
        self._pending_sync = True

    def put_bytes(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        if not self.has(sha):
            temp = self.tmp / f"{sha}.{secrets.token_hex(4)}"
            with open(temp, "wb") as handle:
                handle.write(data)
            os.chmod(temp, 0o444)
            self._install(temp, sha)
        return sha

    def put_fd(self, fd: int) -> tuple[str, int]:
        """Store what an open file descriptor reads (consumes it). Returns (sha256, size)."""
        digest = hashlib.sha256()
        chunks: list[bytes] = []
        size = 0
        temp: Path | None = None
        handle = None
        try:
            while True:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
                if handle is None:
                    chunks.append(chunk)
                    if size > _IN_MEMORY_LIMIT:
                        temp = self.tmp / f"large.{secrets.token_hex(8)}"
                        handle = open(temp, "wb")  # noqa: SIM115 - closed in finally
                        for held in chunks:
                            handle.write(held)
                        chunks = []
                else:
                    handle.write(chunk)
            sha = digest.hexdigest()
            if self.has(sha):
                return sha, size
            if handle is None:
                temp = self.tmp / f"{sha}.{secrets.token_hex(4)}"
                with open(temp, "wb") as out:
                    out.write(b"".join(chunks))
            else:
                handle.close()
                handle = None
            os.chmod(temp, 0o444)
            self._install(temp, sha)
            temp = None
            return sha, size
        finally:
            if handle is not None:
                handle.close()
            if temp is not None and temp.exists():
                temp.unlink()

    def sync(self) -> None:
        """Make every blob written so far durable before a rollback point refers to it."""
        if not self._pending_sync:
            return
        fd = os.open(self.blobs, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _SYNCFS is not None and _SYNCFS(fd) == 0:
                self._pending_sync = False
                return
            # No syncfs: fall back to syncing everything.
            os.sync()
        finally:
            os.close(fd)
        self._pending_sync = False

    # --- manifests -----------------------------------------------------------------------------
    def put_manifest(self, manifest: Manifest) -> str:
        return self.put_bytes(manifest.to_bytes())

    def get_manifest(self, sha: str) -> Manifest:
        return Manifest.from_bytes(self.get(sha))

    # --- stat cache ----------------------------------------------------------------------------
    # The stat cache is Command's own file outside every user folder, read back only by Command:
    # marshal is several times faster than JSON here, which matters on every snapshot.
    def _cache_file(self, key: str) -> Path:
        return self.statcache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.marshal"

    def load_stat_cache(self, key: str) -> dict[str, list]:
        try:
            cache = marshal.loads(self._cache_file(key).read_bytes())  # noqa: S302 - our own file, see above
        except (FileNotFoundError, ValueError, EOFError, TypeError):
            return {}
        return cache if isinstance(cache, dict) else {}

    def save_stat_cache(self, key: str, cache: dict[str, list]) -> None:
        target = self._cache_file(key)
        temp = self.tmp / f"cache.{secrets.token_hex(6)}"
        temp.write_bytes(marshal.dumps(cache))
        os.replace(temp, target)

    # --- garbage collection --------------------------------------------------------------------
    def gc_mark(self) -> int:
        """Changes whenever garbage was collected: in-memory manifests older than it are not reused."""
        try:
            return (self.base / "gc-generation").stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def collect_garbage(self, referenced: Iterable[str], *, grace_seconds: int = 3600) -> tuple[int, int]:
        """Delete blobs that no manifest in `referenced` (manifest shas) and no extra sha needs.

        `referenced` holds manifest shas and loose blob shas; every file listed by a referenced
        manifest is kept. Blobs younger than `grace_seconds` are kept too (a snapshot may be in
        progress). The stat caches are dropped so no cache entry can point at a deleted blob.
        Returns (blobs deleted, bytes freed).
        """
        keep: set[str] = set()
        for sha in referenced:
            if not sha:
                continue
            keep.add(sha)
            try:
                data = self.get(sha)
            except (FileNotFoundError, ValueError):
                continue
            if data[:6] == b'{"dirs':
                try:
                    keep.update(entry[0] for entry in Manifest.from_bytes(data).files.values())
                except (ValueError, KeyError):
                    pass
        cutoff = time.time() - grace_seconds
        deleted = freed = 0
        for sub in self.blobs.iterdir():
            if not sub.is_dir():
                continue
            for blob in sub.iterdir():
                sha = sub.name + blob.name
                if sha in keep:
                    continue
                info = blob.stat()
                if info.st_mtime > cutoff:
                    continue
                blob.unlink()
                deleted += 1
                freed += info.st_size
        for cache in self.statcache_dir.iterdir():
            cache.unlink()
        (self.base / "gc-generation").write_text(str(time.time_ns()))
        return deleted, freed


def _open_child_dir(parent_fd: int, name: str) -> int:
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)


class _Scanner:
    """Walks a tree by directory descriptors (never following links) and fills a manifest.

    Stat-cache entries are [size, mtime_ns, inode, sha256, mode, manifest record]; a file whose
    size, mtime and inode are unchanged (and not modified within RACY_MARGIN_NS of the scan) is
    not read again, and its manifest record is reused as is.
    """

    def __init__(self, store: SnapshotStore, cache: dict[str, list]) -> None:
        self.store = store
        self.old_cache = cache
        self.new_cache: dict[str, list] = {}
        self.racy_after = time.time_ns() - RACY_MARGIN_NS
        self.manifest = Manifest()
        self.watcher: watch.TreeWatcher | None = None

    def capture_file(self, dir_fd: int, name: str, rel: str, info: os.stat_result) -> None:
        mode = info.st_mode & 0o7777
        cached = self.old_cache.get(rel)
        if (
            cached is not None
            and cached[0] == info.st_size
            and cached[1] == info.st_mtime_ns
            and cached[2] == info.st_ino
            and info.st_mtime_ns < self.racy_after
        ):
            sha = cached[3]
            if cached[4] == mode:
                self.manifest.files[rel] = [sha, cached[0], mode]
                self.manifest.records[rel] = cached[5]
                self.new_cache[rel] = cached
                return
        else:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ELOOP):
                    return  # vanished or swapped during the scan: not captured
                raise
            try:
                sha, size = self.store.put_fd(fd)
            finally:
                os.close(fd)
            if size != info.st_size:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        record = f"{sha} {info.st_size} {mode} {rel}\0"
        self.manifest.files[rel] = [sha, info.st_size, mode]
        self.manifest.records[rel] = record
        self.new_cache[rel] = [info.st_size, info.st_mtime_ns, info.st_ino, sha, mode, record]

    def walk(self, dir_fd: int, prefix: str) -> None:
        if self.watcher is not None:
            self.watcher.add(prefix[:-1])  # before listing: nothing after this moment is missed
        with os.scandir(dir_fd) as it:
            entries = list(it)
        capture_file = self.capture_file
        for entry in entries:
            # d_type answers file / folder / link without a stat call; only files need one.
            if entry.is_file(follow_symlinks=False):
                capture_file(dir_fd, entry.name, prefix + entry.name, entry.stat(follow_symlinks=False))
            elif entry.is_dir(follow_symlinks=False):
                rel = prefix + entry.name
                if entry.name in IGNORED_DIRS:
                    self.manifest.skipped.append(rel)
                    continue
                self.manifest.dirs.append(rel)
                try:
                    child = _open_child_dir(dir_fd, entry.name)
                except OSError as exc:
                    if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                        continue
                    raise
                try:
                    self.walk(child, rel + "/")
                finally:
                    os.close(child)
            elif entry.is_symlink():
                self.manifest.links[prefix + entry.name] = os.readlink(entry.name, dir_fd=dir_fd)


@dataclass
class _Watched:
    watcher: watch.TreeWatcher
    manifest: Manifest
    gc_mark: int
    # A forked child shares the parent's inotify queue: events drained by one are lost to the
    # other, so a watcher is only trusted in the process that created it.
    pid: int = field(default_factory=os.getpid)


# Per process: the last whole-tree manifest of recently captured trees, with their watchers.
_WATCHED: OrderedDict[tuple[str, str, str], _Watched] = OrderedDict()
_WATCHED_LOCK = threading.Lock()
MAX_WATCHED_TREES = 8


def _forget_watched(key) -> None:
    entry = _WATCHED.pop(key, None)
    if entry is not None:
        entry.watcher.close()


def _incremental(base: str, entry: _Watched, store: SnapshotStore) -> Manifest | None:
    """The previous manifest with only the paths inotify reported re-examined; None → full scan."""
    delta = entry.watcher.drain()
    if delta is None:
        return None
    dirty_files, new_folders = delta
    old = entry.manifest
    scanner = _Scanner(store, {})
    scanner.watcher = entry.watcher
    scanner.manifest = manifest = Manifest(
        files=dict(old.files),
        links=dict(old.links),
        dirs=list(old.dirs),
        skipped=list(old.skipped),
        records=dict(old.records),
    )
    known_dirs = set(manifest.dirs)
    try:
        for rel in sorted(new_folders, key=lambda r: r.count("/")):
            if any(rel.startswith(d + "/") for d in new_folders if d != rel) or rel in known_dirs:
                continue  # inside another new folder (walked with it) or already known
            resolved = paths.resolve(base, rel, follow_last=False)
            with paths.open_parent(resolved) as parent:
                name = resolved.parts[-1]
                try:
                    child = _open_child_dir(parent, name)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                try:
                    if name in IGNORED_DIRS:
                        manifest.skipped.append(rel)
                        continue
                    manifest.dirs.append(rel)
                    known_dirs.add(rel)
                    scanner.walk(child, rel + "/")
                finally:
                    os.close(child)
        for rel in dirty_files:
            if any(rel.startswith(d + "/") for d in new_folders):
                continue
            manifest.files.pop(rel, None)
            manifest.records.pop(rel, None)
            manifest.links.pop(rel, None)
            resolved = paths.resolve(base, rel, follow_last=False)
            with paths.open_parent(resolved) as parent:
                name = resolved.parts[-1]
                try:
                    info = os.stat(name, dir_fd=parent, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    scanner.capture_file(parent, name, rel, info)
                elif stat.S_ISLNK(info.st_mode):
                    manifest.links[rel] = os.readlink(name, dir_fd=parent)
                elif stat.S_ISDIR(info.st_mode) and rel not in known_dirs:
                    return None
    except (paths.PathRefused, OSError):
        return None
    if entry.watcher.broken:
        return None
    return manifest


def capture(
    *,
    root: str | os.PathLike,
    cache_key: str,
    scope: list[str] | None = None,
    store: SnapshotStore | None = None,
    use_watcher: bool = True,
) -> tuple[Manifest, str]:
    """Capture the tree (or only `scope`, a list of relative paths) into the store.

    Returns the manifest and its sha256. Blobs are durable (synced) before this returns.
    Paths in `scope` that do not exist are recorded as absent (a revert deletes them). A
    whole-tree capture that follows another one of the same tree in this process re-examines
    only the paths inotify reported (see watch.py), unless `use_watcher` is False.
    """
    store = store or SnapshotStore()
    # Thousands of small lists would trigger full garbage collections mid-scan; nothing here
    # makes reference cycles, so collection waits until the scan is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _capture(root=root, cache_key=cache_key, scope=scope, store=store, use_watcher=use_watcher)
    finally:
        if collecting:
            gc.enable()


def _capture(
    *, root, cache_key: str, scope: list[str] | None, store: SnapshotStore, use_watcher: bool
) -> tuple[Manifest, str]:
    base = paths.root_real(root)
    key = (cache_key, base, str(store.base))
    if scope is None and use_watcher and watch.AVAILABLE:
        with _WATCHED_LOCK:
            entry = _WATCHED.get(key)
            if entry is not None:
                trusted = entry.pid == os.getpid() and entry.gc_mark == store.gc_mark()
                manifest = _incremental(base, entry, store) if trusted else None
                if manifest is not None:
                    entry.manifest = manifest
                    _WATCHED.move_to_end(key)
                    sha = store.put_manifest(manifest)
                    store.sync()
                    return manifest, sha
                _forget_watched(key)
    scanner = _Scanner(store, store.load_stat_cache(cache_key))
    if scope is None:
        if use_watcher and watch.AVAILABLE:
            try:
                scanner.watcher = watch.TreeWatcher(base)
            except watch.WatchUnavailable:
                scanner.watcher = None
        gc_mark = store.gc_mark()
        root_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            scanner.walk(root_fd, "")
        finally:
            os.close(root_fd)
        cache = scanner.new_cache
        if scanner.watcher is not None:
            if scanner.watcher.broken:
                scanner.watcher.close()
            else:
                with _WATCHED_LOCK:
                    _forget_watched(key)
                    _WATCHED[key] = _Watched(scanner.watcher, scanner.manifest, gc_mark)
                    while len(_WATCHED) > MAX_WATCHED_TREES:
                        _forget_watched(next(iter(_WATCHED)))
    else:
        normalised = sorted({paths.normalise(p) for p in scope})
        scanner.manifest.scope = normalised
        ancestors: set[str] = set()
        for rel in normalised:
            parts = rel.split("/")
            for i in range(1, len(parts)):
                ancestors.add("/".join(parts[:i]))
        for rel in sorted(ancestors):
            info = paths.lstat(base, rel, follow_last=False)
            if info is not None and stat.S_ISDIR(info.st_mode):
                scanner.manifest.dirs.append(rel)
        for rel in normalised:
            resolved = paths.resolve(base, rel, follow_last=False)
            try:
                with paths.open_parent(resolved) as parent:
                    try:
                        info = os.stat(resolved.parts[-1], dir_fd=parent, follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    kind = stat.S_IFMT(info.st_mode)
                    if kind == stat.S_IFREG:
                        scanner.capture_file(parent, resolved.parts[-1], rel, info)
                    elif kind == stat.S_IFLNK:
                        scanner.manifest.links[rel] = os.readlink(resolved.parts[-1], dir_fd=parent)
                    elif kind == stat.S_IFDIR:
                        scanner.manifest.dirs.append(rel)
                        child = _open_child_dir(parent, resolved.parts[-1])
                        try:
                            scanner.walk(child, rel + "/")
                        finally:
                            os.close(child)
            except (FileNotFoundError, NotADirectoryError):
                continue
        cache = {**scanner.old_cache, **scanner.new_cache}
    sha = store.put_manifest(scanner.manifest)
    store.sync()  # blobs and manifest are durable before any rollback point refers to them
    store.save_stat_cache(cache_key, cache)
    return scanner.manifest, sha
