"""Unified diffs of file changes, and their rendering as inline or side-by-side rows.

Computing a diff happens once, when the change is recorded; rendering parses the stored unified
diff, so a diff always shows what was recorded, even after the file changed again.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter
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
        _unified(
            a,
            b,
            fromfile="a/" + (old_path or path) if before is not None else "/dev/null",
            tofile="b/" + path if after is not None else "/dev/null",
        )
    )
    # The first two lines are the file headers; a removed "-- comment" line starts with "---" too.
    added = sum(1 for line in lines[2:] if line.startswith("+"))
    removed = sum(1 for line in lines[2:] if line.startswith("-"))
    whitespace_only = bool(lines) and before is not None and after is not None and _same_but_whitespace(a, b, lines)
    truncated = len(lines) > MAX_DIFF_LINES
    if truncated:
        lines = lines[:MAX_DIFF_LINES]
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    return DiffResult(False, text, added, removed, whitespace_only, truncated)


# --- computing -----------------------------------------------------------------------------------
#
# difflib alone compares whole files with SequenceMatcher, which is slow on long files with changes
# scattered through them (0.35 s for 20,000 lines with 1 % changed). Lines that occur exactly once
# on each side are anchors in the manner of patience diff: the longest run of them in the same order
# on both sides splits the files into small stretches, and only those are handed to difflib.


class _AnchoredMatcher(difflib.SequenceMatcher):
    """SequenceMatcher whose matching blocks come from unique-line anchors (see above); opcodes and
    grouping are difflib's own."""

    MAX_DEPTH = 40

    def get_matching_blocks(self):
        if self.matching_blocks is not None:
            return self.matching_blocks
        blocks: list[tuple[int, int, int]] = []
        self._match(0, len(self.a), 0, len(self.b), blocks, 0)
        merged: list[tuple[int, int, int]] = []
        for i, j, k in blocks:
            if k and merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
                merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + k)
            elif k:
                merged.append((i, j, k))
        merged.append((len(self.a), len(self.b), 0))
        self.matching_blocks = [difflib.Match(*block) for block in merged]
        return self.matching_blocks

    def _match(self, alo: int, ahi: int, blo: int, bhi: int, out: list, depth: int) -> None:
        a, b = self.a, self.b
        # Common head and tail of the stretch.
        head = 0
        while alo + head < ahi and blo + head < bhi and a[alo + head] == b[blo + head]:
            head += 1
        if head:
            out.append((alo, blo, head))
            alo, blo = alo + head, blo + head
        tail = 0
        while ahi - tail > alo and bhi - tail > blo and a[ahi - tail - 1] == b[bhi - tail - 1]:
            tail += 1
        ahi_core, bhi_core = ahi - tail, bhi - tail
        if alo < ahi_core and blo < bhi_core:
            anchors = _anchors(a, alo, ahi_core, b, blo, bhi_core) if depth < self.MAX_DEPTH else []
            if anchors:
                i, j = alo, blo
                for ai, bj in anchors:
                    if ai > i or bj > j:  # most anchors follow the previous one directly
                        self._match(i, ai, j, bj, out, depth + 1)
                    out.append((ai, bj, 1))
                    i, j = ai + 1, bj + 1
                self._match(i, ahi_core, j, bhi_core, out, depth + 1)
            else:
                inner = difflib.SequenceMatcher(None, a[alo:ahi_core], b[blo:bhi_core])
                out.extend((alo + i, blo + j, k) for i, j, k in inner.get_matching_blocks() if k)
        if tail:
            out.append((ahi_core, bhi_core, tail))


def _anchors(a: list[str], alo: int, ahi: int, b: list[str], blo: int, bhi: int) -> list[tuple[int, int]]:
    """Lines occurring exactly once in a[alo:ahi] and once in b[blo:bhi], as (i, j) pairs: the
    longest sequence of them in the same order on both sides (patience sorting)."""
    side_a, side_b = a[alo:ahi], b[blo:bhi]
    count_a, count_b = Counter(side_a), Counter(side_b)
    where_b = {line: j for j, line in enumerate(side_b, blo) if count_b[line] == 1 and count_a[line] == 1}
    pairs = [(i, where_b[line]) for i, line in enumerate(side_a, alo) if line in where_b]
    if not pairs:
        return []
    # Longest increasing subsequence of j over pairs ordered by i.
    tails: list[int] = []  # smallest j ending an increasing run of each length
    tail_index: list[int] = []
    previous = [-1] * len(pairs)
    for index, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_index.append(index)
        else:
            tails[k] = j
            tail_index[k] = index
        previous[index] = tail_index[k - 1] if k else -1
    chain = []
    index = tail_index[-1]
    while index >= 0:
        chain.append(pairs[index])
        index = previous[index]
    return chain[::-1]


def _unified(a: list[str], b: list[str], *, fromfile: str, tofile: str, context: int = 3):
    """Unified diff lines (as difflib.unified_diff writes them) from the anchored matcher."""

    def span(start: int, stop: int) -> str:
        length = stop - start
        if length == 1:
            return str(start + 1)
        return f"{start if not length else start + 1},{length}"

    started = False
    for group in _AnchoredMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if not started:
            started = True
            yield f"--- {fromfile}\n"
            yield f"+++ {tofile}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{span(first[1], last[2])} +{span(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                yield from ("-" + line for line in a[i1:i2])
            if tag in ("replace", "insert"):
                yield from ("+" + line for line in b[j1:j2])


def _same_but_whitespace(a: list[str], b: list[str], diff_lines: list[str]) -> bool:
    """True when the two versions differ only in whitespace. The lines outside the diff are the
    same on both sides, so the changed lines must hold as many non-space characters on each side:
    a cheap test that rules out most real edits before both whole files are compared."""
    removed = [line[1:] for line in diff_lines[2:] if line.startswith("-")]
    added = [line[1:] for line in diff_lines[2:] if line.startswith("+")]
    if len(_squash(removed)) != len(_squash(added)):
        return False
    return _squash(a) == _squash(b)


def _squash(lines: list[str]) -> str:
    # str.split() drops the same Unicode whitespace as re's \s, several times faster.
    return "".join("".join(lines).split())


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
