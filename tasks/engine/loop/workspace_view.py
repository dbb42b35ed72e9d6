"""The workspace as the model sees it: a bounded file list and a bounded text search, path-safe.

TEMPORARY: the agent-wire work brings `workspaces.services.search` (list_files / search); until it
is merged these small versions stand in (os.walk and a Python scan; never a shell).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from workspaces import paths
from workspaces.snapshots import IGNORED_DIRS

MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Listing:
    files: list[str]
    truncated: bool


def _walk(root: str, under: str):
    start = paths.resolve(root, under or "", allow_root=True).absolute
    for dirpath, dirnames, filenames in os.walk(start):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                continue
            yield os.path.relpath(full, root).replace(os.sep, "/"), full


def files_list(*, root: str, under: str = "", limit: int = 400) -> Listing:
    """Files under `under` (relative; "" for all), sorted, ignored folders left out; at most `limit`."""
    root = paths.root_real(root)
    found: list[str] = []
    for rel, _full in _walk(root, under):
        if len(found) >= limit:
            return Listing(found, True)
        found.append(rel)
    return Listing(found, False)


@dataclass(frozen=True)
class Match:
    path: str
    line: int
    text: str


def text_search(
    *, root: str, pattern: str, regex: bool = False, under: str = "", limit: int = 100
) -> tuple[list[Match], bool]:
    """Lines matching `pattern` (plain text unless `regex`) in the text files under `under`."""
    root = paths.root_real(root)
    matcher = re.compile(pattern) if regex else None
    matches: list[Match] = []
    for rel, full in _walk(root, under):
        try:
            if os.path.getsize(full) > MAX_FILE_BYTES:
                continue
            with open(full, "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            if matcher.search(line) if matcher else pattern in line:
                if len(matches) >= limit:
                    return matches, True
                matches.append(Match(rel, number, line.strip()[:300]))
    return matches, False
