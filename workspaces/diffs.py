"""Unified diffs of file changes, and their rendering as inline or side-by-side rows.

Computing a diff happens once, when the change is recorded; rendering parses the stored unified
diff, so a diff always shows what was recorded, even after the file changed again.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

MAX_DIFF_INPUT = 2 * 1024 * 1024  # bytes per side; larger text files get a summary, not a diff
MAX_DIFF_LINES = 5000


def is_binary(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def human_size(size: int | None) -> str:
    if size is None:
        return "nothing"
    if size < 1024:
        return f"{size} B"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if size >= 10 else f"{size:.1f} {unit}"
    return f"{size} B"


@dataclass
class DiffResult:
    is_binary: bool
    text: str
    added: int
    removed: int
    whitespace_only: bool
    truncated: bool


def compute(path: str, before: bytes | None, after: bytes | None, *, old_path: str | None = None) -> DiffResult:
    """A unified diff between two versions (None = the file did not exist)."""
    if (before is not None and is_binary(before)) or (after is not None and is_binary(after)):
        return DiffResult(True, "", 0, 0, False, False)
    if len(before or b"") > MAX_DIFF_INPUT or len(after or b"") > MAX_DIFF_INPUT:
        return DiffResult(False, "", 0, 0, False, True)
    a = (before or b"").decode("utf-8").splitlines(keepends=True)
    b = (after or b"").decode("utf-8").splitlines(keepends=True)
    lines = list(
        difflib.unified_diff(
            a,
            b,
            fromfile="a/" + (old_path or path) if before is not None else "/dev/null",
            tofile="b/" + path if after is not None else "/dev/null",
            n=3,
        )
    )
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    truncated = len(lines) > MAX_DIFF_LINES
    if truncated:
        lines = lines[:MAX_DIFF_LINES]
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    whitespace_only = bool(lines) and before is not None and after is not None and _squash(a) == _squash(b)
    return DiffResult(False, text, added, removed, whitespace_only, truncated)


def _squash(lines: list[str]) -> str:
    return re.sub(r"\s+", "", "".join(lines))


# --- rendering ---------------------------------------------------------------------------------

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


@dataclass
class Row:
    kind: str  # context | added | removed | note
    old_no: int | None
    new_no: int | None
    text: str


@dataclass
class SplitRow:
    left: Row | None
    right: Row | None


@dataclass
class Hunk:
    header: str
    rows: list[Row] = field(default_factory=list)

    @property
    def whitespace_only(self) -> bool:
        removed = "".join(r.text for r in self.rows if r.kind == "removed")
        added = "".join(r.text for r in self.rows if r.kind == "added")
        return (removed or added) != "" and re.sub(r"\s+", "", removed) == re.sub(r"\s+", "", added)

    @property
    def split_rows(self) -> list[SplitRow]:
        out: list[SplitRow] = []
        pending_removed: list[Row] = []
        pending_added: list[Row] = []

        def flush() -> None:
            for i in range(max(len(pending_removed), len(pending_added))):
                out.append(
                    SplitRow(
                        pending_removed[i] if i < len(pending_removed) else None,
                        pending_added[i] if i < len(pending_added) else None,
                    )
                )
            pending_removed.clear()
            pending_added.clear()

        for row in self.rows:
            if row.kind == "removed":
                if pending_added:
                    flush()
                pending_removed.append(row)
            elif row.kind == "added":
                pending_added.append(row)
            else:
                flush()
                out.append(SplitRow(row, row) if row.kind == "context" else SplitRow(row, None))
        flush()
        return out


def parse(text: str) -> list[Hunk]:
    """Hunks of a stored unified diff, with old and new line numbers on every row."""
    hunks: list[Hunk] = []
    old_no = new_no = 0
    for line in text.splitlines():
        if not hunks and line.startswith(("--- ", "+++ ")):
            continue  # file headers come only before the first hunk
        match = _HUNK.match(line)
        if match:
            old_no, new_no = int(match.group(1)), int(match.group(3))
            hunks.append(Hunk(header=line))
            continue
        if not hunks:
            continue
        rows = hunks[-1].rows
        if line.startswith("+"):
            rows.append(Row("added", None, new_no, line[1:]))
            new_no += 1
        elif line.startswith("-"):
            rows.append(Row("removed", old_no, None, line[1:]))
            old_no += 1
        elif line.startswith("\\"):
            rows.append(Row("note", None, None, line[2:]))
        else:
            rows.append(Row("context", old_no, new_no, line[1:]))
            old_no += 1
            new_no += 1
    return hunks
