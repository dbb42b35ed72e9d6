"""Rollback fidelity: every kind of change restores to the exact pre-point tree, conflicts are asked about."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from workspaces.models import Actor, FileChange, RollbackPoint
from workspaces.services import (
    Verdict,
    changes_since_snapshot,
    file_delete,
    file_rename,
    file_save_from_editor,
    file_state,
    file_write,
    rollback_point_create,
    rollback_point_eligibility,
    rollback_point_revert,
    run_revert,
    run_revert_eligibility,
    snapshot_garbage_collect,
    workspace_root,
)
from workspaces.snapshots import SnapshotStore
from workspaces.tests.conftest import tree_state

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(range(256)) * 8


@pytest.fixture
def site(workspace):
    root = Path(workspace_root(workspace=workspace))
    (root / "css").mkdir()
    (root / "index.html").write_text("<h1>Acme</h1>\n<p>Hello</p>\n")
    (root / "css" / "site.css").write_text("body { color: black; }\n")
    (root / "logo.png").write_bytes(PNG)
    (root / "build.sh").write_text("#!/bin/sh\necho build\n")
    os.chmod(root / "build.sh", 0o755)
    (root / "old-name.txt").write_text("rename me\n")
    (root / "doomed.txt").write_text("delete me\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def _mutate_through_services(workspace, root):
    file_write(workspace=workspace, path="index.html", content=b"<h1>Acme Analytics</h1>\n<p>Hello</p>\n")
    file_write(workspace=workspace, path="new/page.html", content=b"<p>new</p>\n")
    file_write(workspace=workspace, path="logo.png", content=PNG[::-1])
    file_delete(workspace=workspace, path="doomed.txt")
    file_rename(workspace=workspace, path="old-name.txt", new_path="docs/new-name.txt")
    file_write(workspace=workspace, path="build.sh", content=b"#!/bin/sh\necho build\n", mode=0o644)


def test_whole_tree_point_restores_every_kind_of_change_exactly(workspace, site):
    before = tree_state(site)
    point = rollback_point_create(workspace=workspace, kind=RollbackPoint.Kind.MANUAL, actor=Actor.OPERATOR)
    assert point.scope_label == "the whole folder (6 files; not covered: .git)"
    _mutate_through_services(workspace, site)
    assert tree_state(site) != before

    eligibility = rollback_point_eligibility(point=point)
    assert eligibility.verdict == Verdict.PARTLY  # .git is stated as not covered
    assert "Ignored folders: .git (their contents are not captured)." in eligibility.reasons
    assert not eligibility.conflicts
    assert {r.path for r in eligibility.restores} == {
        "index.html",
        "new/page.html",
        "logo.png",
        "doomed.txt",
        "old-name.txt",
        "docs/new-name.txt",
        "build.sh",
    }

    outcome = rollback_point_revert(point=point)
    assert outcome.done, outcome.message
    assert tree_state(site) == before
    assert outcome.guard.kind == RollbackPoint.Kind.PRE_REVERT
    assert outcome.guard.protects_revert_of == point

    # The revert can itself be undone from its guard point.
    rollback_point_revert(point=outcome.guard)
    assert (site / "index.html").read_text().startswith("<h1>Acme Analytics")
    assert (site / "docs" / "new-name.txt").exists() and not (site / "doomed.txt").exists()


def test_command_changes_are_found_and_reverted(workspace, site):
    before = tree_state(site)
    point = rollback_point_create(workspace=workspace, kind=RollbackPoint.Kind.PRE_COMMAND)
    # What a command would do, straight on disk.
    (site / "index.html").write_text("<h1>Built</h1>\n")
    (site / "dist").mkdir()
    (site / "dist" / "bundle.js").write_text("console.log(1)\n")
    (site / "doomed.txt").unlink()
    os.rename(site / "logo.png", site / "logo-moved.png")
    os.chmod(site / "build.sh", 0o700)
    (site / "node_modules").mkdir()
    (site / "node_modules" / "dep.js").write_text("ignored\n")

    changes = changes_since_snapshot(point=point, actor_label="npm run build")
    summary = {(c.change_type, c.path) for c in changes}
    assert summary == {
        ("modified", "index.html"),
        ("created", "dist/bundle.js"),
        ("deleted", "doomed.txt"),
        ("renamed", "logo-moved.png"),
        ("modified", "build.sh"),
    }
    assert all(c.actor == Actor.COMMAND and c.actor_label == "npm run build" for c in changes)
    edit = next(c for c in changes if c.path == "index.html")
    assert "-<h1>Acme</h1>" in edit.diff and "+<h1>Built</h1>" in edit.diff
    assert (edit.added_lines, edit.removed_lines) == (1, 2)

    eligibility = rollback_point_eligibility(point=point)
    assert eligibility.verdict == Verdict.PARTLY
    assert any("outside this folder" in r for r in eligibility.reasons)
    outcome = rollback_point_revert(point=point)
    assert outcome.done, outcome.message
    assert tree_state(site, skip=(".git", "node_modules")) == before
    assert (site / "node_modules" / "dep.js").exists()  # ignored folders are left alone, as stated


def test_a_later_operator_edit_is_flagged_and_not_overwritten_without_confirmation(workspace, site, owner):
    point = rollback_point_create(workspace=workspace, kind=RollbackPoint.Kind.PRE_EDIT, paths_in_scope=["index.html"])
    assert point.scope_label == "1 file the step will touch: index.html"
    file_write(workspace=workspace, path="index.html", content=b"<h1>By the step</h1>\n")
    current = file_state(root=str(site), path="index.html")
    file_save_from_editor(
        workspace=workspace, path="index.html", content="<h1>By me</h1>\n", base_sha=current.sha, user=owner
    )

    outcome = rollback_point_revert(point=point)
    assert not outcome.done
    assert [c.path for c in outcome.eligibility.conflicts] == ["index.html"]
    assert "changed after this point" in outcome.message
    assert (site / "index.html").read_text() == "<h1>By me</h1>\n"

    outcome = rollback_point_revert(point=point, confirm_overwrite=True)
    assert outcome.done
    assert (site / "index.html").read_text() == "<h1>Acme</h1>\n<p>Hello</p>\n"


def test_an_unrecorded_change_on_disk_is_a_conflict(workspace, site):
    point = rollback_point_create(workspace=workspace, kind=RollbackPoint.Kind.PRE_EDIT, paths_in_scope=["index.html"])
    (site / "index.html").write_text("someone else\n")
    eligibility = rollback_point_eligibility(point=point)
    assert [c.path for c in eligibility.conflicts] == ["index.html"]


def test_missing_blob_and_missing_folder_are_reported_honestly(workspace, site, roots):
    point = rollback_point_create(
        workspace=workspace, kind=RollbackPoint.Kind.PRE_EDIT, paths_in_scope=["index.html", "css/site.css"]
    )
    file_write(workspace=workspace, path="index.html", content=b"changed\n")
    store = SnapshotStore()
    original = store.get_manifest(point.manifest_sha).files["index.html"][0]
    os.chmod(store.blob_path(original), 0o644)
    store.blob_path(original).unlink()
    eligibility = rollback_point_eligibility(point=point)
    assert eligibility.verdict == Verdict.NOT_REVERTIBLE
    assert "index.html" in eligibility.reasons[0] and "missing" in eligibility.reasons[0]
    assert not rollback_point_revert(point=point).done

    os.rename(site, roots["main"] / "elsewhere")
    eligibility = rollback_point_eligibility(point=point)
    assert eligibility.verdict == Verdict.NOT_REVERTIBLE
    assert "missing" in eligibility.reasons[0]


def test_run_level_revert_undoes_everything_one_run_changed(workspace, site, owner):
    from tasks.models import PlanRevision, Task, TaskRun

    task = Task.objects.create(owner=owner, raw_prompt="make a site", workspace=workspace)
    revision = PlanRevision.objects.create(task=task, number=1, plan={})
    run = TaskRun.objects.create(task=task, owner=owner, plan_revision=revision, workspace=workspace)
    before = tree_state(site)
    for path, content in (("index.html", b"one\n"), ("index.html", b"two\n"), ("new.txt", b"hi\n")):
        rollback_point_create(workspace=workspace, kind=RollbackPoint.Kind.PRE_EDIT, paths_in_scope=[path], run=run)
        file_write(workspace=workspace, path=path, content=content, run=run)
    file_rename(workspace=workspace, path="old-name.txt", new_path="renamed.txt", run=run)
    file_delete(workspace=workspace, path="doomed.txt", run=run)

    eligibility = run_revert_eligibility(workspace=workspace, run_id=run.pk)
    assert eligibility.verdict == Verdict.REVERTIBLE
    assert sorted(r.path for r in eligibility.restores) == [
        "doomed.txt",
        "index.html",
        "new.txt",
        "old-name.txt",
        "renamed.txt",
    ]
    outcome = run_revert(workspace=workspace, run_id=run.pk)
    assert outcome.done, outcome.message
    assert tree_state(site) == before


def test_stat_cache_avoids_rereading_and_gc_keeps_only_referenced_blobs(workspace, site):
    store = SnapshotStore()
    rollback_point_create(workspace=workspace, kind=RollbackPoint.Kind.MANUAL)
    cache = store.load_stat_cache(str(workspace.pk))
    assert set(cache) >= {"index.html", "logo.png"}
    # A blob is written once: same content → same blob, no duplicate.
    blob_count = sum(1 for _ in store.blobs.rglob("*") if _.is_file())
    rollback_point_create(workspace=workspace, kind=RollbackPoint.Kind.MANUAL)
    assert sum(1 for _ in store.blobs.rglob("*") if _.is_file()) == blob_count  # same manifest, same blobs

    # An orphan blob (no point, no change refers to it) is collected; referenced ones stay.
    orphan = store.put_bytes(b"nobody needs me")
    deleted, _ = snapshot_garbage_collect(grace_seconds=0)
    assert deleted >= 1 and not store.has(orphan)
    point = RollbackPoint.objects.first()
    assert rollback_point_eligibility(point=point).verdict != Verdict.NOT_REVERTIBLE
    manifest = store.get_manifest(point.manifest_sha)
    assert all(store.has(entry[0]) for entry in manifest.files.values())
    assert FileChange.objects.count() == 0


def test_a_file_too_large_to_diff_is_summarised_honestly(workspace, site, settings):
    from workspaces import diffs

    big = b"line\n" * (diffs.MAX_DIFF_INPUT // 5 + 10)
    file_write(workspace=workspace, path="big.log", content=big)
    change = file_write(workspace=workspace, path="big.log", content=big + b"more\n")
    assert change.summary.startswith("Modified big.log (too large to diff")
    assert change.diff == "" and change.diff_truncated


def test_gc_command_and_schedule(workspace, site):
    from django.core.management import call_command
    from django_q.models import Schedule

    orphan = SnapshotStore().put_bytes(b"orphan")
    out = io.StringIO()
    call_command("collect_snapshots", "--grace", "0", "--schedule", stdout=out)
    assert "unreferenced blobs" in out.getvalue() and not SnapshotStore().has(orphan)
    call_command("collect_snapshots", "--schedule", stdout=io.StringIO())
    schedule = Schedule.objects.get(name="workspaces: collect snapshot garbage")
    assert schedule.func == "workspaces.jobs.collect_snapshot_garbage"
    from workspaces import jobs

    assert jobs.collect_snapshot_garbage().startswith("deleted")
