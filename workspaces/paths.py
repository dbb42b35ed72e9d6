"""Path safety: the one place where a path from a request, a plan, a form or a URL meets the disk.

Every file operation in Command goes through this module. The rules:

* Only relative paths are accepted, written with forward slashes. NUL and control characters,
  absolute paths, drive letters, backslashes, `..` components, percent-encoded dots or slashes
  and Unicode look-alikes of `.`, `/` and `\\` are refused with a plain-language `PathRefused`.
* The path is resolved against the workspace root with symlinks followed, and the result must
  still be inside the root (compared by path components, so `../root2` never passes as a prefix).
* Opening then walks the *resolved* path one component at a time with `O_NOFOLLOW`, relative to
  the directory descriptor of the previous component. A component swapped for a symlink between
  the check and the open makes the open fail instead of escaping the root.
* Writes are atomic: a temporary file in the same folder, fsync, rename, fsync of the folder.
* Deletes of folders use `shutil.rmtree` with a directory descriptor (the symlink-attack-safe
  variant on Linux).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import stat
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from command_site.write_fence import write_fence_check

MAX_PATH_LENGTH = 1024
MAX_COMPONENT_LENGTH = 255

_DRIVE = re.compile(r"^[A-Za-z]:")
_ENCODED = re.compile(r"%(2e|2f|5c|00|25)", re.IGNORECASE)
_DANGEROUS_NFKC = {".", "/", "\\", ":"}


class PathRefused(Exception):
    """A path was refused. `str(exc)` is a sentence fit to show to the operator."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def clean_relative(raw: object, *, allow_root: bool = False) -> tuple[str, ...]:
    """Check a workspace-relative path and return its components.

    Refuses (PathRefused) anything that is not a plain relative path inside the folder. `""` or
    `"."` means the folder itself and is only accepted with `allow_root=True`.
    """
    if not isinstance(raw, str):
        raise PathRefused("A file path must be text.")
    shown = raw[:120]
    if len(raw) > MAX_PATH_LENGTH:
        raise PathRefused(f"That path is longer than {MAX_PATH_LENGTH} characters.", path=shown)
    if "\x00" in raw:
        raise PathRefused("That path contains a NUL byte, which no real file name has.", path=shown)
    for char in raw:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp") or char in "\u2028\u2029":
            raise PathRefused(
                "That path contains invisible or control characters; rename the file without them.", path=shown
            )
        if not char.isascii() and char not in _DANGEROUS_NFKC:
            folded = unicodedata.normalize("NFKC", char)
            if any(c in _DANGEROUS_NFKC for c in folded):
                raise PathRefused(
                    f"That path uses the look-alike character {char!r} (U+{ord(char):04X}) in place of a dot, slash or"
                    " colon; Command only accepts the plain characters.",
                    path=shown,
                )
    if _ENCODED.search(raw):
        raise PathRefused(
            "That path contains percent-encoded dots, slashes or NUL; write the plain characters instead.", path=shown
        )
    if "\\" in raw:
        raise PathRefused("Use forward slashes (/) in paths; backslashes are not accepted.", path=shown)
    if _DRIVE.match(raw):
        raise PathRefused("That looks like a Windows drive path; give a path relative to the workspace.", path=shown)
    if raw.startswith("/"):
        raise PathRefused("Absolute paths are not accepted; give a path relative to the workspace.", path=shown)
    parts = []
    for part in raw.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise PathRefused("Paths may not climb out of the workspace with '..'.", path=shown)
        if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_LENGTH:
            raise PathRefused(f"A name in that path is longer than {MAX_COMPONENT_LENGTH} bytes.", path=shown)
        parts.append(part)
    if not parts and not allow_root:
        raise PathRefused("A file path is needed here, not the workspace folder itself.", path=shown)
    return tuple(parts)


def normalise(raw: str, *, allow_root: bool = False) -> str:
    """The canonical form of a relative path (`a//b/./c` → `a/b/c`), after the checks above."""
    return "/".join(clean_relative(raw, allow_root=allow_root))


def _is_inside(root: str, candidate: str) -> bool:
    # commonpath compares whole components: /data/root2 is not inside /data/root.
    return candidate == root or os.path.commonpath([root, candidate]) == root


def root_real(root: str | os.PathLike) -> str:
    return os.path.realpath(os.fspath(root))


@dataclass(frozen=True)
class Resolved:
    """A path that was inside the root when checked: `parts` are components of the real path."""

    root: str
    parts: tuple[str, ...]
    requested: str

    @property
    def absolute(self) -> str:
        return os.path.join(self.root, *self.parts) if self.parts else self.root

    @property
    def relative(self) -> str:
        return "/".join(self.parts)


def resolve(root: str | os.PathLike, raw: str, *, allow_root: bool = False, follow_last: bool = True) -> Resolved:
    """Resolve `raw` inside `root`, following symlinks, and refuse anything that lands outside.

    With `follow_last=False` the final component is kept as named (used to delete or rename a
    symlink itself rather than what it points at).
    """
    parts = clean_relative(raw, allow_root=allow_root)
    base = root_real(root)
    if not parts:
        return Resolved(base, (), "")
    if follow_last:
        real = os.path.realpath(os.path.join(base, *parts))
        last = ()
    else:
        real = os.path.realpath(os.path.join(base, *parts[:-1]))
        last = (parts[-1],)
    if not _is_inside(base, real):
        raise PathRefused(
            f"'{'/'.join(parts)}' leads outside the workspace (through a symbolic link); Command will not follow it.",
            path="/".join(parts),
        )
    inner = os.path.relpath(real, base)
    inner_parts = () if inner == "." else tuple(inner.split(os.sep))
    return Resolved(base, inner_parts + last, "/".join(parts))


def ensure_root_allowed(path: str | os.PathLike, roots: list[Path]) -> str:
    """Refuse a workspace folder that is not inside one of the configured roots (symlinks resolved)."""
    if not isinstance(path, str | os.PathLike) or "\x00" in os.fspath(path):
        raise PathRefused("That folder path is not valid.")
    candidate = os.fspath(path)
    if not os.path.isabs(candidate):
        raise PathRefused("Give the folder as an absolute path (for example /home/me/projects/site).")
    real = os.path.realpath(candidate)
    for root in roots:
        allowed = os.path.realpath(os.fspath(root))
        if real != allowed and _is_inside(allowed, real):
            return real
    listed = ", ".join(str(r) for r in roots) or "(none configured)"
    raise PathRefused(
        f"Workspaces can only live inside the configured workspace roots ({listed}); '{candidate}' is not inside one."
    )


# --- descriptor-based operations ---------------------------------------------------------------

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _swapped(resolved: Resolved) -> PathRefused:
    return PathRefused(
        f"'{resolved.requested}' changed while Command was opening it (a folder became a link); nothing was touched.",
        path=resolved.requested,
    )


def _not_a_folder(resolved: Resolved, parent_fd: int, index: int) -> PathRefused:
    """Why the component at `index` could not be opened as a folder: what really is in the way
    (a file where a folder should be), or — when it is a link now — that it changed underneath."""
    part = resolved.parts[index]
    try:
        found = os.stat(part, dir_fd=parent_fd, follow_symlinks=False)
    except OSError:
        return _swapped(resolved)
    if stat.S_ISLNK(found.st_mode) or stat.S_ISDIR(found.st_mode):
        return _swapped(resolved)
    where = "/".join(resolved.parts[: index + 1])
    what = "a file" if stat.S_ISREG(found.st_mode) else "not a folder either (a special file)"
    return PathRefused(
        f"'{where}' is {what}, not a folder, so '{resolved.requested}' cannot be inside it; nothing was touched.",
        path=resolved.requested,
    )


@contextmanager
def open_parent(resolved: Resolved, *, create: bool = False) -> Iterator[int]:
    """Yield a descriptor of the folder holding `resolved`, walked with O_NOFOLLOW per component."""
    fd = os.open(resolved.root, _DIR_FLAGS)
    try:
        for index, part in enumerate(resolved.parts[:-1]):
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
                try:
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _not_a_folder(resolved, fd, index) from None
                    raise
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _not_a_folder(resolved, fd, index) from None
                raise
            os.close(fd)
            fd = next_fd
        yield fd
    finally:
        os.close(fd)


@contextmanager
def open_dir(resolved: Resolved) -> Iterator[int]:
    """A descriptor of the folder `resolved` itself (the root when it has no parts)."""
    if not resolved.parts:
        fd = os.open(resolved.root, _DIR_FLAGS)
        try:
            yield fd
        finally:
            os.close(fd)
        return
    with open_parent(resolved) as parent:
        try:
            fd = os.open(resolved.parts[-1], _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _swapped(resolved) from None
            raise
        try:
            yield fd
        finally:
            os.close(fd)


def read_bytes(root: str | os.PathLike, raw: str, *, limit: int | None = None) -> bytes:
    """Read a file inside the root. Raises FileNotFoundError, IsADirectoryError or PathRefused."""
    resolved = resolve(root, raw)
    with open_parent(resolved) as parent:
        try:
            fd = os.open(resolved.parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _swapped(resolved) from None
            raise
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise IsADirectoryError(errno.EISDIR, "not a regular file", resolved.requested)
            return handle.read() if limit is None else handle.read(limit)


def lstat(root: str | os.PathLike, raw: str, *, follow_last: bool = True) -> os.stat_result | None:
    """stat of a path inside the root, or None when it does not exist."""
    resolved = resolve(root, raw, follow_last=follow_last)
    try:
        with open_parent(resolved) as parent:
            return os.stat(resolved.parts[-1], dir_fd=parent, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None


def write_atomic(root: str | os.PathLike, raw: str, data: bytes, *, mode: int | None = None) -> Resolved:
    """Replace (or create) a file with `data` atomically; a crash leaves the old or the new bytes.

    Missing parent folders are created. The existing file's permission bits are kept unless
    `mode` is given. Refuses to write over a folder.
    """
    resolved = resolve(root, raw)
    name = resolved.parts[-1]
    with open_parent(resolved, create=True) as parent:
        try:
            existing = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise PathRefused(f"'{resolved.requested}' is a folder; Command will not overwrite it with a file.")
        if mode is None:
            mode = stat.S_IMODE(existing.st_mode) if existing is not None and stat.S_ISREG(existing.st_mode) else 0o644
        temp = f".{name[:200]}.command-{secrets.token_hex(6)}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                view = memoryview(data)
                while view:
                    written = handle.write(view[: 1 << 20])
                    view = view[written:]
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            # The last moment before the new bytes become visible: a superseded writer stops here.
            write_fence_check(what=f"write {resolved.requested}")
            os.rename(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=parent)
            except FileNotFoundError:
                pass
            raise
        os.fsync(parent)
    return resolved


def chmod(root: str | os.PathLike, raw: str, mode: int) -> None:
    resolved = resolve(root, raw)
    write_fence_check(what=f"change the permissions of {resolved.requested}")
    with open_parent(resolved) as parent:
        fd = os.open(resolved.parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)


def make_dir(root: str | os.PathLike, raw: str) -> Resolved:
    resolved = resolve(root, raw)
    with open_parent(resolved, create=True) as parent:
        try:
            os.mkdir(resolved.parts[-1], 0o755, dir_fd=parent)
        except FileExistsError:
            pass
    return resolved


def remove(root: str | os.PathLike, raw: str) -> bool:
    """Delete a file, a symlink (not its target) or a folder tree inside the root.

    Returns False when there was nothing to delete. Folders go through shutil.rmtree with a
    directory descriptor, which never follows symlinks inside the tree.
    """
    resolved = resolve(root, raw, follow_last=False)
    name = resolved.parts[-1]
    try:
        with open_parent(resolved) as parent:
            try:
                info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                return False
            write_fence_check(what=f"delete {resolved.requested}")
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(name, dir_fd=parent)
            else:
                os.unlink(name, dir_fd=parent)
            os.fsync(parent)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def rename(root: str | os.PathLike, source: str, target: str) -> tuple[Resolved, Resolved]:
    """Rename inside the root; refuses to replace an existing target."""
    src = resolve(root, source, follow_last=False)
    dst = resolve(root, target)
    with open_parent(src) as src_parent, open_parent(dst, create=True) as dst_parent:
        try:
            os.stat(dst.parts[-1], dir_fd=dst_parent, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            raise PathRefused(f"'{dst.requested}' already exists; Command will not replace it by renaming.")
        write_fence_check(what=f"rename {src.requested} to {dst.requested}")
        os.rename(src.parts[-1], dst.parts[-1], src_dir_fd=src_parent, dst_dir_fd=dst_parent)
        os.fsync(dst_parent)
        if src_parent != dst_parent:
            os.fsync(src_parent)
    return src, dst


def list_dir(root: str | os.PathLike, raw: str) -> list[tuple[str, os.stat_result]]:
    """(name, lstat) of each entry of a folder inside the root, folders first, then by name."""
    resolved = resolve(root, raw, allow_root=True)
    out = []
    with open_dir(resolved) as fd, os.scandir(fd) as it:
        for entry in it:
            try:
                out.append((entry.name, entry.stat(follow_symlinks=False)))
            except FileNotFoundError:
                continue
    out.sort(key=lambda item: (not stat.S_ISDIR(item[1].st_mode), item[0].lower()))
    return out
