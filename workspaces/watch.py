"""Change tracking with Linux inotify, so a snapshot after a small change need not stat every file.

A `TreeWatcher` watches every non-ignored folder of one workspace, in this process. After a full
capture, the next capture of the same tree asks the watcher which paths were touched since and
re-examines only those (like git's fsmonitor). Whenever the watcher cannot vouch for the tree —
event queue overflow, a folder moved or deleted, the watch limit reached, the snapshot store
garbage-collected, another process, another platform — the capture falls back to the full scan,
which is always correct. The watcher only ever marks paths dirty; reading is done by the
descriptor-based scanner in snapshots.py.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import threading

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

WATCH_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
)
_EVENT = struct.Struct("iIII")


def _load_libc():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    if not hasattr(libc, "inotify_init1"):
        return None
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    return libc


_LIBC = _load_libc()
AVAILABLE = _LIBC is not None


class WatchUnavailable(Exception):
    pass


class TreeWatcher:
    """Dirty-path tracking for one folder tree. Not thread-safe by itself: callers hold `lock`."""

    def __init__(self, root: str) -> None:
        if _LIBC is None:
            raise WatchUnavailable("inotify is not available on this platform")
        self.root = root
        self.lock = threading.Lock()
        self.fd = _LIBC.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise WatchUnavailable(os.strerror(ctypes.get_errno()))
        self.paths: dict[int, str] = {}  # watch descriptor → relative folder path ("" = root)
        self.broken = False

    def add(self, rel: str) -> None:
        """Watch one folder (relative to the root). A failure makes the watcher unusable."""
        full = os.path.join(self.root, rel) if rel else self.root
        wd = _LIBC.inotify_add_watch(self.fd, os.fsencode(full), WATCH_MASK)
        if wd < 0:
            self.broken = True  # e.g. ENOSPC: the per-user watch limit was reached
            return
        self.paths[wd] = rel

    def drain(self) -> tuple[set[str], set[str]] | None:
        """(dirty files, new folders) since the last drain, or None when the tree must be rescanned."""
        files: set[str] = set()
        folders: set[str] = set()
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size
                raw = data[offset : offset + length].rstrip(b"\0")
                offset += length
                if mask & IN_Q_OVERFLOW:
                    self.broken = True
                    continue
                if mask & IN_IGNORED:
                    self.paths.pop(wd, None)
                    continue
                base = self.paths.get(wd)
                if base is None:
                    continue
                if mask & (IN_DELETE_SELF | IN_MOVE_SELF):
                    self.broken = True  # a watched folder went away or moved: paths are stale
                    continue
                name = os.fsdecode(raw)
                rel = f"{base}/{name}" if base else name
                if mask & IN_ISDIR:
                    if mask & (IN_DELETE | IN_MOVED_FROM):
                        self.broken = True
                    elif mask & (IN_CREATE | IN_MOVED_TO):
                        folders.add(rel)
                    continue
                files.add(rel)
        if self.broken:
            return None
        return files, folders

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
