"""Path safety: a corpus of attacks, each refused with nothing read or written outside the root."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workspaces import paths
from workspaces.paths import PathRefused
from workspaces.services import file_delete, file_read, file_rename, file_write, workspace_root
from workspaces.tests.conftest import tree_state

ATTACKS = [
    "../secret.txt",
    "../../outside/secret.txt",
    "a/../../secret.txt",
    "inner/../../secret.txt",
    "./../secret.txt",
    "a/./../../secret.txt",
    "/etc/passwd",
    "/tmp/evil.txt",
    "C:\\Windows\\win.ini",
    "C:/Windows/win.ini",
    "c:secret.txt",
    "..\\secret.txt",
    "a\\..\\..\\secret.txt",
    "\\\\server\\share\\secret.txt",
    "secret.txt\x00.png",
    "\x00",
    "%2e%2e/secret.txt",
    "%2E%2E%2Fsecret.txt",
    "..%2fsecret.txt",
    "%252e%252e/secret.txt",
    "..%5csecret.txt",
    "secret.txt%00.png",
    "\uff0e\uff0e/secret.txt",  # fullwidth full stops
    "..\uff0fsecret.txt",  # fullwidth solidus
    "\u2025/secret.txt",  # two dot leader (NFKC: "..")
    "\u2024\u2024/secret.txt",  # one dot leaders
    "\ufe52\ufe52/secret.txt",  # small full stops
    "..\uff3csecret.txt",  # fullwidth reverse solidus
    "\u202e../secret.txt",  # right-to-left override
    "\t../secret.txt",
    "../main2/x.txt",  # sibling-prefix root
    "link_out/secret.txt",  # symlinked folder leading outside
    "link_file",  # symlinked file leading outside
    "link_sibling/x.txt",  # symlink to the sibling-prefix root
    "link_parent/outside/secret.txt",  # symlink to ".." then down
    "chain_a/secret.txt",  # link → link → outside
    "abs_link",  # link to an absolute path outside
    "",
    ".",
]


@pytest.fixture
def booby_trapped(workspace, roots):
    root = Path(workspace_root(workspace=workspace))
    (root / "inner").mkdir()
    (root / "inner" / "ok.txt").write_text("inside")
    os.symlink(roots["outside"], root / "link_out")
    os.symlink(roots["outside"] / "secret.txt", root / "link_file")
    os.symlink(roots["sibling"], root / "link_sibling")
    os.symlink("../..", root / "link_parent")
    os.symlink("chain_b", root / "chain_a")
    os.symlink(str(roots["outside"]), root / "chain_b")
    os.symlink("/etc/passwd", root / "abs_link")
    return root


def _outside_state(roots):
    return tree_state(roots["tmp"] / "outside"), tree_state(roots["sibling"]), sorted(os.listdir(roots["tmp"]))


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_is_refused_by_every_operation(attack, workspace, booby_trapped, roots):
    assert len(ATTACKS) >= 30
    before = _outside_state(roots)
    for operation in (
        lambda: file_read(workspace=workspace, path=attack),
        lambda: file_write(workspace=workspace, path=attack, content=b"pwned"),
        lambda: file_rename(workspace=workspace, path="inner/ok.txt", new_path=attack),
    ):
        with pytest.raises(PathRefused) as caught:
            operation()
        assert str(caught.value)  # a sentence for the operator, never empty
    assert _outside_state(roots) == before
    assert (booby_trapped / "inner" / "ok.txt").read_text() == "inside"


@pytest.mark.parametrize("attack", [a for a in ATTACKS if not a.startswith(("link", "chain", "abs"))])
def test_attack_is_refused_for_delete(attack, workspace, booby_trapped, roots):
    before = _outside_state(roots)
    with pytest.raises(PathRefused):
        file_delete(workspace=workspace, path=attack)
    assert _outside_state(roots) == before


def test_deleting_a_symlink_removes_the_link_not_its_target(workspace, booby_trapped, roots):
    assert file_delete(workspace=workspace, path="link_file") is None  # a link holds no content to record
    assert not os.path.lexists(booby_trapped / "link_file")
    assert (roots["outside"] / "secret.txt").read_text() == "outside secret"


def test_symlinks_that_stay_inside_are_followed(workspace, booby_trapped):
    os.symlink("inner", booby_trapped / "alias")
    assert file_read(workspace=workspace, path="alias/ok.txt") == b"inside"
    file_write(workspace=workspace, path="alias/ok.txt", content=b"changed")
    assert (booby_trapped / "inner" / "ok.txt").read_bytes() == b"changed"
    assert os.path.islink(booby_trapped / "alias")


def test_plain_unicode_names_are_accepted(workspace, booby_trapped):
    change = file_write(workspace=workspace, path="café/naïve résumé.txt", content=b"ok")
    assert change.path == "café/naïve résumé.txt"
    assert paths.normalise("a//b/./c") == "a/b/c"


def test_registering_outside_the_roots_is_refused(roots):
    for folder in (
        roots["sibling"],
        roots["outside"],
        roots["main"],
        "relative/path",
        str(roots["main"]) + "/../main2",
    ):
        with pytest.raises(PathRefused):
            paths.ensure_root_allowed(str(folder), [roots["main"]])


def test_component_swapped_for_a_symlink_after_the_check_is_refused(workspace, booby_trapped, roots):
    resolved = paths.resolve(booby_trapped, "inner/ok.txt")
    os.rename(booby_trapped / "inner", booby_trapped / "inner-moved")
    os.symlink(roots["outside"], booby_trapped / "inner")
    with pytest.raises(PathRefused, match="changed while"), paths.open_parent(resolved):
        pass


def test_racing_symlink_swaps_never_escape(workspace, booby_trapped, roots):
    """Another process flips a folder and a symlink to outside while writes and reads run."""
    before = _outside_state(roots)
    target = booby_trapped / "race"
    target.mkdir()
    flipper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, shutil, sys\n"
            "target, real, outside = sys.argv[1:4]\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    try:\n"
            # A write while the real folder was away creates a new one in its place (write_atomic
            # makes missing parents): clear it and put the real one back, or every flip would fail.
            "        if os.path.lexists(real):\n"
            "            if os.path.islink(target):\n"
            "                os.unlink(target)\n"
            "            elif os.path.isdir(target):\n"
            "                shutil.rmtree(target)\n"
            "            os.rename(real, target)\n"
            "        os.rename(target, real); os.symlink(outside, target); os.unlink(target); os.rename(real, target)\n"
            "    except OSError:\n"
            "        pass\n",
            str(target),
            str(booby_trapped / "race-real"),
            str(roots["outside"]),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    outcomes = {"ok": 0, "refused": 0, "gone": 0}
    try:
        # A loaded machine can take a while to start the flipper: wait for it, then run
        # until the race has been seen (or a generous deadline), not a fixed count.
        assert flipper.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        i = 0
        while time.monotonic() < deadline:
            i += 1
            try:
                paths.write_atomic(booby_trapped, "race/secret.txt", f"inside {i}".encode())
                paths.read_bytes(booby_trapped, "race/secret.txt")
                outcomes["ok"] += 1
            except PathRefused:
                outcomes["refused"] += 1
            except (FileNotFoundError, NotADirectoryError):
                outcomes["gone"] += 1
            if i >= 200 and outcomes["refused"] + outcomes["gone"] > 0:
                break
    finally:
        flipper.kill()
        flipper.wait()
    assert _outside_state(roots) == before
    assert (roots["outside"] / "secret.txt").read_text() == "outside secret"
    assert outcomes["refused"] + outcomes["gone"] > 0, outcomes  # the race really happened


KILL_WRITER = """
import sys
from workspaces import paths
root, size = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
paths.write_atomic(root, "big.bin", b"N" * size)
print("done", flush=True)
"""


def test_sigkill_during_a_large_atomic_write_leaves_old_or_new_content(tmp_path):
    import signal
    import time

    root = tmp_path / "ws"
    root.mkdir()
    size = 64 * 1024 * 1024
    (root / "big.bin").write_bytes(b"O" * size)
    interrupted = 0
    for delay in (0.0, 0.01, 0.02, 0.05, 0.08, 0.2, 0.4):
        writer = subprocess.Popen(
            [sys.executable, "-c", KILL_WRITER, str(root), str(size)],
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert writer.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        data = (root / "big.bin").read_bytes()
        assert data in (b"O" * size, b"N" * size)
        leftovers = [name for name in os.listdir(root) if name.endswith(".tmp")]
        if leftovers:  # killed mid-write: the temporary file never replaced the real one
            interrupted += 1
            for name in leftovers:
                os.unlink(root / name)
    assert interrupted >= 1, "no kill landed during a write; the test proved nothing"


def test_a_file_where_a_folder_should_be_is_named_as_what_is_in_the_way(workspace):
    root = Path(workspace_root(workspace=workspace))
    (root / "docs").write_text("not a folder\n")
    with pytest.raises(PathRefused) as refused:
        file_write(workspace=workspace, path="docs/notes.md", content=b"# Notes\n")
    message = str(refused.value)
    assert "'docs' is a file, not a folder, so 'docs/notes.md' cannot be inside it" in message
    assert "became a link" not in message
    assert (root / "docs").read_text() == "not a folder\n"
