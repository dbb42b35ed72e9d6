"""Diff computation and the rows the templates render."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from workspaces import diffs


def test_counts_and_hunks_with_line_numbers():
    before = b"".join(f"line {i}\n".encode() for i in range(1, 21))
    after = before.replace(b"line 3\n", b"line three\n").replace(b"line 18\n", b"")
    result = diffs.compute("a.txt", before, after)
    assert (result.added, result.removed, result.is_binary, result.whitespace_only) == (1, 2, False, False)
    hunks = diffs.parse(result.text)
    assert len(hunks) == 2
    removed = [r for r in hunks[0].rows if r.kind == "removed"]
    added = [r for r in hunks[0].rows if r.kind == "added"]
    assert (removed[0].old_no, removed[0].text) == (3, "line 3")
    assert (added[0].new_no, added[0].text) == (3, "line three")
    pair = next(p for p in hunks[0].split_rows if p.left and p.left.kind == "removed")
    assert pair.right.text == "line three"


def test_whitespace_only_changes_are_marked():
    result = diffs.compute("a.py", b"def f():\n    return 1\n", b"def f():\n\treturn 1\n")
    assert result.whitespace_only
    assert diffs.parse(result.text)[0].whitespace_only
    assert not diffs.compute("a.py", b"a\n", b"b\n").whitespace_only


def test_binary_created_deleted_and_missing_newline():
    assert diffs.compute("x.png", b"\x89PNG\x00", b"\x89PNG\x00\x01").is_binary
    assert diffs.compute("x.bin", b"ok", b"\xff\xfe").is_binary
    created = diffs.compute("new.txt", None, b"hello")
    assert created.added == 1 and "/dev/null" in created.text and "No newline at end of file" in created.text
    deleted = diffs.compute("old.txt", b"bye\n", None)
    assert deleted.removed == 1
    note_rows = [r for r in diffs.parse(created.text)[0].rows if r.kind == "note"]
    assert note_rows and note_rows[0].text == "No newline at end of file"


def test_removed_line_that_looks_like_a_header_stays_a_row():
    result = diffs.compute("a.sql", b"-- comment\nselect 1;\n", b"select 1;\n")
    rows = diffs.parse(result.text)[0].rows
    assert [(r.kind, r.text) for r in rows] == [("removed", "-- comment"), ("context", "select 1;")]


def test_human_sizes():
    assert diffs.human_size(12 * 1024) == "12 KB"
    assert diffs.human_size(900) == "900 B"
    assert diffs.human_size(int(1.5 * 1024 * 1024)) == "1.5 MB"
    assert diffs.human_size(None) == "nothing"


def _apply(before: list[str], text: str) -> list[str]:
    """Apply a stored unified diff to `before` using the rows the templates render."""
    out: list[str] = []
    old = 0  # lines of `before` consumed
    for hunk in diffs.parse(text):
        start = next((r.old_no for r in hunk.rows if r.old_no is not None), None)
        if start is None:  # a hunk that only adds: "@@ -k,0 +… @@" inserts after line k
            start = int(hunk.header.split()[1][1:].split(",")[0]) + 1
        out.extend(before[old : start - 1])
        old = start - 1
        for row in hunk.rows:
            if row.kind == "context":
                assert before[old] == row.text
                out.append(row.text)
                old += 1
            elif row.kind == "removed":
                assert before[old] == row.text
                old += 1
            elif row.kind == "added":
                out.append(row.text)
    out.extend(before[old:])
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c", "-- c", "unique-1", "unique-2", "x y", ""]), max_size=40),
    st.lists(st.sampled_from(["a", "b", "++ d", "d", "unique-1", "unique-3", "x  y", ""]), max_size=40),
)
def test_every_diff_turns_before_into_after(before, after):
    """Whatever the anchoring does, the stored diff is exact: applying it to the old lines gives
    the new lines, and the +/− counts match its rows."""
    old = "".join(f"{line}\n" for line in before).encode()
    new = "".join(f"{line}\n" for line in after).encode()
    result = diffs.compute("f.txt", old, new)
    assert _apply(before, result.text) == after
    rows = [r for h in diffs.parse(result.text) for r in h.rows]
    assert result.added == sum(r.kind == "added" for r in rows)
    assert result.removed == sum(r.kind == "removed" for r in rows)


def test_long_file_with_scattered_changes_is_exact_and_minimal():
    import random

    rng = random.Random(3)
    before = [f"line {i} {rng.random():.6f}" for i in range(20_000)]
    after = list(before)
    changed = rng.sample(range(20_000), 200)
    for i in changed:
        after[i] = "changed " + after[i]
    result = diffs.compute("big.txt", "\n".join(before).encode() + b"\n", "\n".join(after).encode() + b"\n")
    assert (result.added, result.removed, result.truncated) == (200, 200, False)
    assert _apply(before, result.text) == after


def test_removed_and_added_lines_that_look_like_headers_are_counted():
    result = diffs.compute("q.sql", b"select 1;\n-- old note\n", b"select 1;\n++ new note\n")
    assert (result.added, result.removed) == (1, 1)
