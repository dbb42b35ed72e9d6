"""Workspace fixtures: roots, snapshot store and an "outside" folder in tmp_path, never the real data dir."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest


@pytest.fixture
def roots(settings, tmp_path):
    main = tmp_path / "roots" / "main"
    main.mkdir(parents=True)
    # A sibling whose name starts with the root's name: `startswith` checks would let it through.
    sibling = tmp_path / "roots" / "main2"
    sibling.mkdir()
    (sibling / "x.txt").write_text("sibling secret")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside secret")
    settings.COMMAND_WORKSPACE_ROOTS = [main]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast personas
    settings.COMMAND_SNAPSHOT_DIR = tmp_path / "snapshots"
    return {"main": main, "sibling": sibling, "outside": outside, "tmp": tmp_path}


@pytest.fixture
def workspace(roots, owner):
    from workspaces.services import workspace_create

    return workspace_create(owner=owner, name="Acme site")


@pytest.fixture
def other_workspace(roots, other_user):
    from workspaces.services import workspace_create

    return workspace_create(owner=other_user, name="Not yours")


def tree_state(root: str | Path, *, skip=(".git", "node_modules")) -> dict[str, tuple]:
    """Every file (sha256, mode), link (target) and folder under `root`: the tree's exact identity."""
    out: dict[str, tuple] = {}
    for current, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for d in dirnames:
            full = os.path.join(current, d)
            rel = os.path.relpath(full, root)
            out[rel] = ("link", os.readlink(full)) if os.path.islink(full) else ("dir",)
        for f in filenames:
            full = os.path.join(current, f)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                out[rel] = ("link", os.readlink(full))
            else:
                with open(full, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                out[rel] = ("file", digest, stat.S_IMODE(os.lstat(full).st_mode))
    return out
