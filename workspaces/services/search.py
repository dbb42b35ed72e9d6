"""Looking around a workspace for a model: a bounded file list and a bounded text search.

Both are reads with limits, so what they return always fits in a model's context and says when it
was cut short. Both skip what Command never shows a model as project content: the folders named
in IGNORED_DIRS (at any depth), whatever the workspace's .gitignore files ignore, symbolic links
(never followed: a link pointing outside the folder cannot leak what it points at), binary files
and very large files. Paths given to them go through the path-safety rules (PathRefused).

The search never runs a shell: ripgrep (`rg --json`) when installed, else `git grep` where the
folder is in a git repository, else a pure-Python scan; each program gets an argument list. The
pattern is checked first, so an invalid regular expression is a SearchRefused naming the problem
whichever engine runs.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from workspaces import gitignore, paths
from workspaces.models import Workspace
from workspaces.services.folders import workspace_root
from workspaces.snapshots import IGNORED_DIRS

MAX_LIST_ENTRIES = 400
MAX_LIST_DEPTH = 12
MAX_RESULTS = 100
MAX_LINE_CHARS = 240
MAX_OUTPUT_CHARS = 16_000
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_QUERY_CHARS = 1000
MAX_SEARCH_SECONDS = 20.0
ENGINES = ("ripgrep", "git", "python")
_BINARY_SNIFF = 8192
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)


# The arguments of the model's `list_files` and `search` tools, as JSON schemas: the keyword
# arguments of file_list / file_search, so a tool call's arguments can be passed straight through.
FILE_LIST_PARAMETERS = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "A folder relative to the workspace; empty for all of it."},
    },
    "additionalProperties": False,
}
FILE_SEARCH_PARAMETERS = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "Text to find within one line (or a regular expression)."},
        "regex": {"type": "boolean", "description": "Treat query as a regular expression (Python syntax)."},
        "ignore_case": {"type": "boolean"},
        "path": {"type": "string", "description": "A folder or file relative to the workspace; empty for all."},
        "glob": {"type": "string", "description": "Only files matching this glob, e.g. *.py or src/**/*.ts."},
    },
    "required": ["query"],
    "additionalProperties": False,
}


class SearchRefused(Exception):
    """The search could not be done as asked; `str(exc)` says why in a sentence fit for the model."""


@dataclass(frozen=True)
class ListedEntry:
    path: str
    kind: str  # file | dir | link
    size: int | None = None


@dataclass
class FileListing:
    """A breadth-first listing: every entry near the top before anything deeper, up to the limit."""

    path: str
    entries: list[ListedEntry]
    truncated: bool = False
    folders_not_opened: int = 0  # folders listed but not opened (limit or depth reached)
    not_listed: list[str] = field(default_factory=list)  # ignored folders present (IGNORED_DIRS)

    def as_text(self) -> str:
        lines = []
        for e in sorted(self.entries, key=lambda e: e.path):
            if e.kind == "dir":
                lines.append(e.path + "/")
            elif e.kind == "link":
                lines.append(f"{e.path} (symbolic link, not followed)")
            else:
                lines.append(f"{e.path} ({_size(e.size or 0)})")
        if not lines:
            lines.append(f"(no files in {self.path or 'the workspace'})")
        if self.truncated:
            lines.append(
                f"[listing cut at {len(self.entries)} entries; list a sub-folder to see the rest"
                + (f"; {self.folders_not_opened} folders were not opened]" if self.folders_not_opened else "]")
            )
        elif self.folders_not_opened:
            lines.append(f"[{self.folders_not_opened} folders deeper than {MAX_LIST_DEPTH} levels were not opened]")
        if self.not_listed:
            lines.append("[not listed (ignored folders): " + ", ".join(n + "/" for n in self.not_listed[:20]) + "]")
        return "\n".join(lines)


@dataclass(frozen=True)
class SearchMatch:
    path: str
    line: int
    text: str


@dataclass
class SearchResult:
    query: str
    regex: bool
    engine: str
    matches: list[SearchMatch]
    truncated: bool = False
    note: str = ""

    def as_text(self) -> str:
        if not self.matches:
            out = f"No matches for {self.query!r}."
        else:
            out, used = [], 0
            for m in self.matches:
                line = f"{m.path}:{m.line}: {m.text}"
                if used + len(line) > MAX_OUTPUT_CHARS:
                    self.truncated = True
                    break
                out.append(line)
                used += len(line) + 1
            out = "\n".join(out)
            if self.truncated:
                out += f"\n[results cut at {len(out.splitlines())} lines; narrow the search or give a sub-folder]"
        return out + (f"\n[{self.note}]" if self.note else "")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


# --- walking the folder without following links --------------------------------------------------


def _open_folder(root_fd: int, parts: tuple[str, ...]) -> int:
    """A descriptor of root/parts, every component opened with O_NOFOLLOW (a swapped-in link fails)."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_gitignore(fd: int) -> str:
    try:
        handle = os.open(".gitignore", _FILE_FLAGS, dir_fd=fd)
    except OSError:
        return ""
    with os.fdopen(handle, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return ""
        return f.read(gitignore.MAX_GITIGNORE_BYTES).decode("utf-8", "replace")


def _ancestor_rules(root_fd: int, parts: tuple[str, ...]) -> list[gitignore.Rule]:
    """The .gitignore rules of the folders above a starting sub-folder (and its own are read by the walk)."""
    rules: list[gitignore.Rule] = []
    for depth in range(len(parts)):
        fd = _open_folder(root_fd, parts[:depth])
        try:
            rules += gitignore.rules_parse(_read_gitignore(fd), base="/".join(parts[:depth]))
        finally:
            os.close(fd)
    return rules


def _start(root: str, path: str) -> tuple[paths.Resolved, bool]:
    """The starting point inside the root, and whether it is a folder; PathRefused / SearchRefused otherwise."""
    resolved = paths.resolve(root, path, allow_root=True)
    try:
        info = os.stat(resolved.absolute, follow_symlinks=False)
    except FileNotFoundError:
        raise SearchRefused(f"There is no file or folder '{resolved.requested}' in the workspace.")
    if stat.S_ISDIR(info.st_mode):
        return resolved, True
    if stat.S_ISREG(info.st_mode):
        return resolved, False
    raise SearchRefused(f"'{resolved.requested}' is neither a file nor a folder.")


def file_list_in(
    *, root: str, path: str = "", limit: int = MAX_LIST_ENTRIES, depth: int = MAX_LIST_DEPTH
) -> FileListing:
    """The tree under `path` (the whole folder by default), breadth first, at most `limit` entries.

    Ignored folders are named once as not listed and never opened; .gitignore'd entries and
    links' targets are not listed. Refuses paths outside the root (PathRefused) and a path that is
    not a folder (SearchRefused)."""
    resolved, is_folder = _start(root, path)
    if not is_folder:
        raise SearchRefused(f"'{resolved.requested}' is a file, not a folder; read it instead of listing it.")
    listing = FileListing(path=resolved.relative, entries=[])
    root_fd = os.open(resolved.root, _DIR_FLAGS)
    try:
        queue = deque([(resolved.parts, 0, _ancestor_rules(root_fd, resolved.parts))])
        while queue:
            parts, level, rules = queue.popleft()
            if listing.truncated:
                listing.folders_not_opened += 1
                continue
            try:
                fd = _open_folder(root_fd, parts)
            except OSError:
                continue  # gone or swapped for a link since it was listed: not entered
            try:
                rel = "/".join(parts)
                rules = rules + gitignore.rules_parse(_read_gitignore(fd), base=rel)
                with os.scandir(fd) as it:
                    entries = sorted(it, key=lambda e: e.name)
                for entry in entries:
                    child = f"{rel}/{entry.name}" if rel else entry.name
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if is_dir and entry.name in IGNORED_DIRS:
                        listing.not_listed.append(child)
                        continue
                    if gitignore.is_ignored(rules, child, is_folder=is_dir):
                        continue
                    if len(listing.entries) >= limit:
                        listing.truncated = True
                        break
                    if is_dir:
                        listing.entries.append(ListedEntry(child, "dir"))
                        if level + 1 < depth:
                            queue.append((parts + (entry.name,), level + 1, rules))
                        else:
                            listing.folders_not_opened += 1
                    elif entry.is_symlink():
                        listing.entries.append(ListedEntry(child, "link"))
                    elif entry.is_file(follow_symlinks=False):
                        listing.entries.append(ListedEntry(child, "file", entry.stat(follow_symlinks=False).st_size))
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)
    return listing


def file_list(*, workspace: Workspace, path: str = "", limit: int = MAX_LIST_ENTRIES) -> FileListing:
    """file_list_in on the workspace's folder (WorkspaceUnavailable when it is not there)."""
    return file_list_in(root=workspace_root(workspace=workspace), path=path, limit=limit)


# --- search --------------------------------------------------------------------------------------


def _pattern(query: str, *, regex: bool, ignore_case: bool) -> re.Pattern:
    if not isinstance(query, str) or not query:
        raise SearchRefused("Give the text (or regular expression) to search for.")
    if len(query) > MAX_QUERY_CHARS:
        raise SearchRefused(f"The search text is longer than {MAX_QUERY_CHARS} characters.")
    if "\n" in query or "\x00" in query:
        raise SearchRefused("The search matches within one line: the text may not contain a line break or NUL.")
    flags = re.IGNORECASE if ignore_case else 0
    if not regex:
        return re.compile(re.escape(query), flags)
    try:
        return re.compile(query, flags)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise SearchRefused(f"{query!r} is not a valid regular expression: {exc.msg}{where}.")


def _excerpt(text: str, pattern: re.Pattern) -> str:
    text = text.rstrip("\r\n")
    if len(text) <= MAX_LINE_CHARS:
        return text
    found = pattern.search(text)
    start = max(0, (found.start() if found else 0) - MAX_LINE_CHARS // 3)
    end = start + MAX_LINE_CHARS
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def _skipped(rel: str) -> bool:
    return any(part in IGNORED_DIRS for part in rel.split("/")[:-1])


def _file_filter(glob: str) -> list[gitignore.Rule]:
    """Which files a search covers, written like a .gitignore line: `*.py` (any folder), `src/*.py`."""
    if not glob:
        return []
    if not isinstance(glob, str) or len(glob) > 200 or any(c in glob for c in "\n\r\x00") or glob.startswith("!"):
        raise SearchRefused("The file filter must be one glob such as *.py or src/**/*.ts (at most 200 characters).")
    rules = gitignore.rules_parse(glob)
    if not rules:
        raise SearchRefused(f"The file filter {glob!r} matches nothing; give a glob such as *.py.")
    return rules


def _filter_matches(rules: list[gitignore.Rule], path: str) -> bool:
    parts = path.split("/")
    return any(
        gitignore.is_ignored(rules, "/".join(parts[: n + 1]), is_folder=n < len(parts) - 1) for n in range(len(parts))
    )


class _Collector:
    def __init__(self, root: str, pattern: re.Pattern, limit: int, timeout: float, only: list | None = None):
        self.root, self.pattern, self.limit, self.matches = root, pattern, limit, []
        self.only = only or []
        self.deadline = time.monotonic() + timeout
        self.timed_out = False
        self._checked: dict[str, bool] = {}

    def out_of_time(self) -> bool:
        self.timed_out = self.timed_out or time.monotonic() >= self.deadline
        return self.timed_out

    def _plain_file(self, path: str) -> bool:
        # What a program reported is checked again here: only a regular file inside the root
        # (never a link, whatever the program did with it) may reach the model.
        if path not in self._checked:
            if self.only and not _filter_matches(self.only, path):
                self._checked[path] = False
                return False
            try:
                info = paths.lstat(self.root, path, follow_last=False)
                self._checked[path] = info is not None and stat.S_ISREG(info.st_mode) and not _skipped(path)
            except (paths.PathRefused, OSError):
                self._checked[path] = False
        return self._checked[path]

    def add(self, path: str, line: int, text: str) -> bool:
        """Keep a match; False once one more than the limit is seen (the result is then cut)."""
        if not self._plain_file(path):
            return True
        if len(self.matches) > self.limit:
            return False
        self.matches.append(SearchMatch(path, line, _excerpt(text, self.pattern)))
        return len(self.matches) <= self.limit


def _run_lines(argv: list[str], cwd: str, on_line, found: _Collector) -> tuple[int, str]:
    """Run a program (no shell), feed its output lines to on_line until it returns False or the
    search's time is up (the program is then killed); (exit code, stderr)."""
    with subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        stopped = False
        timer = threading.Timer(max(0.0, found.deadline - time.monotonic()), proc.kill)
        timer.start()
        try:
            for raw in proc.stdout:
                if not on_line(raw):
                    stopped = True
                    proc.kill()
                    break
        except BaseException:
            proc.kill()
            raise
        finally:
            timer.cancel()
        stderr = proc.stderr.read(4096).decode("utf-8", "replace")
        code = proc.wait()
    # Killed by the timer (not by us at the limit, and not after it had finished): out of time.
    found.timed_out = found.timed_out or (code == -signal.SIGKILL and not stopped)
    return (0 if stopped or found.timed_out else code), stderr


def _json_text(value: dict) -> str:
    if "text" in value:
        return value["text"]
    return base64.b64decode(value.get("bytes", "")).decode("utf-8", "replace")


def _search_ripgrep(root, target, query, *, regex, ignore_case, found: _Collector) -> str | None:
    argv = ["rg", "--json", "--no-config", "--hidden", "--no-require-git", "--no-follow", "--sort", "path"]
    argv += ["--no-ignore-dot", "--no-ignore-global"]  # the same rules on every machine: .gitignore files only
    argv += ["--max-filesize", str(MAX_FILE_BYTES), "--no-messages"]
    argv += [f"--glob=!{name}/" for name in sorted(IGNORED_DIRS)]
    argv += (["--fixed-strings"] if not regex else []) + (["--ignore-case"] if ignore_case else [])
    argv += ["--regexp", query, "--"] + ([target] if target else [])

    def on_line(raw: bytes) -> bool:
        record = json.loads(raw)
        if record.get("type") != "match":
            return True
        data = record["data"]
        path = _json_text(data["path"])
        return found.add(path, data["line_number"], _json_text(data["lines"]))

    code, stderr = _run_lines(argv, root, on_line, found)
    if code == 2 and "regex" in stderr.lower():
        return "ripgrep could not use this pattern"
    if code not in (0, 1):
        raise SearchRefused(f"ripgrep failed: {' '.join(stderr.split())[:200]}")
    return None


def _in_git_repository(root: str) -> bool:
    if not shutil.which("git"):
        return False
    done = subprocess.run(
        ["git", "-C", root, "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and done.stdout.strip() == "true"


def _search_git(root, target, query, *, regex, ignore_case, found: _Collector) -> str | None:
    argv = ["git", "-c", "grep.fallbackToNoIndex=false", "grep", "--untracked", "-n", "-I", "-z", "--no-color"]
    argv += ["--perl-regexp" if regex else "--fixed-strings"] + (["--ignore-case"] if ignore_case else [])
    argv += ["-e", query, "--", target or "."]
    argv += [f":(exclude,glob)**/{name}/**" for name in sorted(IGNORED_DIRS)]

    def on_line(raw: bytes) -> bool:
        path, number, text = raw.split(b"\0", 2)
        return found.add(path.decode("utf-8", "replace"), int(number), text.decode("utf-8", "replace"))

    code, stderr = _run_lines(argv, root, on_line, found)
    if code not in (0, 1):
        if regex and ("pcre" in stderr.lower() or "perl" in stderr.lower() or "regex" in stderr.lower()):
            return "git grep could not use this pattern"
        raise SearchRefused(f"git grep failed: {' '.join(stderr.split())[:200]}")
    return None


def _search_file(fd: int, name: str, rel: str, pattern: re.Pattern, found: _Collector) -> bool:
    try:
        handle = os.open(name, _FILE_FLAGS, dir_fd=fd)
    except OSError:
        return True  # a link (ELOOP), gone, or unreadable: not searched
    with os.fdopen(handle, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return True
        data = f.read(MAX_FILE_BYTES + 1)
    if b"\0" in data[:_BINARY_SNIFF]:
        return True
    text = data.decode("utf-8", "replace")
    if not pattern.search(text):
        return True
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.search(line) and not found.add(rel, number, line):
            return False
    return True


def _search_python(root_fd, parts, is_folder, pattern: re.Pattern, found: _Collector) -> None:
    if not is_folder:
        fd = _open_folder(root_fd, parts[:-1])
        try:
            _search_file(fd, parts[-1], "/".join(parts), pattern, found)
        finally:
            os.close(fd)
        return

    def walk(fd: int, rel: str, rules: list) -> bool:
        rules = rules + gitignore.rules_parse(_read_gitignore(fd), base=rel)
        with os.scandir(fd) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink():
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if (is_dir and entry.name in IGNORED_DIRS) or gitignore.is_ignored(rules, child, is_folder=is_dir):
                continue
            if is_dir:
                try:
                    sub = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT, errno.EACCES):
                        continue
                    raise
                try:
                    if not walk(sub, child, rules):
                        return False
                finally:
                    os.close(sub)
            elif entry.is_file(follow_symlinks=False) and (
                found.out_of_time() or not _search_file(fd, entry.name, child, pattern, found)
            ):
                return False
        return True

    fd = _open_folder(root_fd, parts)
    try:
        walk(fd, "/".join(parts), _ancestor_rules(root_fd, parts))
    finally:
        os.close(fd)


def search_engine_default(root: str) -> str:
    """The engine a search of `root` uses: ripgrep when installed, else git grep in a repository, else Python."""
    if shutil.which("rg"):
        return "ripgrep"
    return "git" if _in_git_repository(root) else "python"


def file_search_in(
    *,
    root: str,
    query: str,
    regex: bool = False,
    ignore_case: bool = False,
    path: str = "",
    glob: str = "",
    limit: int = MAX_RESULTS,
    engine: str | None = None,
    timeout: float = MAX_SEARCH_SECONDS,
) -> SearchResult:
    """Lines matching `query` (plain text, or a regular expression with `regex`) under `path`.

    At most `limit` matches, ordered by path then line, each with its line number and the line
    (long lines shortened around the match); `truncated` says when there were more. `glob` keeps
    only the files it matches, written like a .gitignore line (`*.py`, `src/**/*.ts`). Refuses an
    empty, multi-line or invalid pattern (SearchRefused) and paths outside the root (PathRefused).
    `engine` forces "ripgrep", "git" or "python"; by default the fastest one available. A search
    still running after `timeout` seconds is stopped and returns what it found, marked as cut."""
    pattern = _pattern(query, regex=regex, ignore_case=ignore_case)
    only = _file_filter(glob)
    resolved, is_folder = _start(root, path)
    engine = engine or search_engine_default(resolved.root)
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")
    found = _Collector(resolved.root, pattern, limit, timeout, only)
    note = None
    if engine == "ripgrep":
        note = _search_ripgrep(
            resolved.root, resolved.relative, query, regex=regex, ignore_case=ignore_case, found=found
        )
    elif engine == "git":
        if not _in_git_repository(resolved.root):
            raise SearchRefused("The workspace is not in a git repository, so git grep cannot search it.")
        note = _search_git(resolved.root, resolved.relative, query, regex=regex, ignore_case=ignore_case, found=found)
    if engine == "python" or note:
        found = _Collector(resolved.root, pattern, limit, max(0.0, found.deadline - time.monotonic()), only)
        root_fd = os.open(resolved.root, _DIR_FLAGS)
        try:
            _search_python(root_fd, resolved.parts, is_folder, pattern, found)
        finally:
            os.close(root_fd)
    matches = sorted(found.matches, key=lambda m: (m.path, m.line))
    notes = [f"{note}; searched with Python's regular expressions instead"] if note else []
    if found.timed_out:
        notes.append(f"the search stopped after {timeout:g} s: files not reached yet were not searched")
    return SearchResult(
        query=query,
        regex=regex,
        engine="python" if note else engine,
        matches=matches[:limit],
        truncated=len(matches) > limit or found.timed_out,
        note="; ".join(notes),
    )


def file_search(
    *,
    workspace: Workspace,
    query: str,
    regex: bool = False,
    ignore_case: bool = False,
    path: str = "",
    glob: str = "",
    limit: int = MAX_RESULTS,
) -> SearchResult:
    """file_search_in on the workspace's folder (WorkspaceUnavailable when it is not there)."""
    return file_search_in(
        root=workspace_root(workspace=workspace),
        query=query,
        regex=regex,
        ignore_case=ignore_case,
        path=path,
        glob=glob,
        limit=limit,
    )
