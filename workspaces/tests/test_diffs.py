"""Diff computation and the rows the templates render."""

from __future__ import annotations

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
