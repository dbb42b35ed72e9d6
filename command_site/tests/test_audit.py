"""The truthfulness audit: a clean, honest world reports nothing; each kind of lie is reported.

Every test builds the same honest world through the real services (a real workspace folder, a
real write with its rollback point in the snapshot store, stored asset bytes), then breaks one
promise on purpose and expects exactly that violation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from command_site.audit import audit_run, fallback_line_problems
from outputs.models import OutputAsset
from outputs.storage import store_bytes
from outputs.verification.report import VerificationReport
from tasks.models import CommandExecution, PlanRevision, StepExecution, Task, TaskRun, WorkstreamEvent
from workspaces.actions import action_write_file
from workspaces.models import FileChange, RollbackPoint
from workspaces.snapshots import SnapshotStore

PAGE = "<!doctype html><title>Acme</title><h1>Acme Analytics</h1>\n"


@pytest.fixture
def places(settings, tmp_path):
    root = tmp_path / "roots"
    root.mkdir()
    settings.COMMAND_WORKSPACE_ROOTS = [root]
    settings.COMMAND_SNAPSHOT_DIR = tmp_path / "snapshots"
    settings.COMMAND_DATA_DIR = tmp_path / "data"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path


@dataclass
class World:
    run: TaskRun
    write: StepExecution
    verify: StepExecution
    change: FileChange
    point: RollbackPoint
    asset: OutputAsset

    def event(self, seq: int, **fields) -> WorkstreamEvent:
        fields.setdefault("kind", "step.succeeded")
        fields.setdefault("title", "Something happened")
        return WorkstreamEvent.objects.create(run=self.run, seq=seq, **fields)


@pytest.fixture
def world(places, owner) -> World:
    from workspaces.services import workspace_create

    workspace = workspace_create(owner=owner, name="Acme site")
    task = Task.objects.create(owner=owner, raw_prompt="a landing page", workspace=workspace)
    revision = PlanRevision.objects.create(task=task, number=1, planner="test")
    run = TaskRun.objects.create(
        task=task, owner=owner, plan_revision=revision, workspace=workspace, state=TaskRun.State.COMPLETED
    )
    write = StepExecution.objects.create(
        run=run,
        step_id="write",
        position=1,
        action_type="write_file",
        title="Write the page",
        idempotency_key=f"{run.pk}:write",
        status=StepExecution.Status.SUCCEEDED,
        spec={"id": "write", "inputs": {"path": "index.html"}, "deliverable_id": "site"},
    )
    outcome = action_write_file(
        workspace=workspace, inputs={"path": "index.html", "content": PAGE}, run=run, step=write
    )
    verify = StepExecution.objects.create(
        run=run,
        step_id="verify",
        position=2,
        action_type="verify",
        title="Verify the page",
        idempotency_key=f"{run.pk}:verify",
        status=StepExecution.Status.SUCCEEDED,
        spec={"id": "verify", "inputs": {"command": "test -s index.html"}, "deliverable_id": "site"},
    )
    CommandExecution.objects.create(run=run, step=verify, command="test -s index.html", cwd=workspace.path, exit_code=0)
    data = b"%PDF-1.4 pretend this is a proposal"
    report = VerificationReport()
    report.add("opens", True, "1 page")
    asset = OutputAsset.objects.create(
        owner=owner,
        category="pdf",
        title="Proposal",
        deliverable_key="proposal",
        mime_type="application/pdf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        file=store_bytes("assets/proposal.pdf", data),
        verification=report.to_dict(),
        content_source="built-in templates",
        task=task,
        run=run,
    )
    w = World(run, write, verify, outcome.changes[0], outcome.rollback_point, asset)
    w.event(1, kind="step.succeeded", title="Created index.html", file_path="index.html", status="success")
    w.event(2, kind="command.started", title="Running `test -s index.html`", command="test -s index.html")
    return w


def rules(report) -> list[str]:
    return sorted(v.rule for v in report.violations)


def test_an_empty_database_is_clean(places, db):
    report = audit_run()
    assert report.ok and report.violations == []


def test_an_honest_world_is_clean(world):
    report = audit_run()
    assert report.violations == []
    assert report.checked["completed runs"] == 1
    assert report.checked["events naming a file or command"] == 2
    assert report.checked["rollback points"] == 1
    assert report.checked["assets"] == 1


def test_completed_run_whose_verify_step_did_not_pass(world):
    StepExecution.objects.filter(pk=world.verify.pk).update(status=StepExecution.Status.FAILED)
    report = audit_run()
    assert rules(report) == ["completed_unverified"]
    assert world.run.reference in report.violations[0].subject
    assert "Verify the page" in report.violations[0].message


def test_completed_run_with_a_deliverable_nobody_verified(world):
    StepExecution.objects.filter(pk=world.write.pk).update(
        spec={"id": "write", "inputs": {"path": "index.html"}, "deliverable_id": "deck"}
    )
    report = audit_run()
    assert rules(report) == ["completed_unverified"]
    assert "deck" in report.violations[0].message


def test_a_verified_asset_counts_as_the_deliverable_verification(world):
    StepExecution.objects.filter(pk=world.write.pk).update(
        spec={"id": "write", "inputs": {"path": "index.html"}, "deliverable_id": "proposal"}
    )
    assert audit_run().ok


def test_event_naming_a_file_that_was_never_touched(world):
    world.event(3, title="Updated styles.css", file_path="styles.css", status="success")
    report = audit_run()
    assert rules(report) == ["event_file_unrecorded"]
    assert "styles.css" in report.violations[0].message
    assert report.violations[0].subject == f"{world.run.reference} event #3"


def test_a_read_record_backs_an_event_naming_the_file(world):
    StepExecution.objects.create(
        run=world.run,
        step_id="read",
        position=3,
        action_type="read_file",
        title="Read the notes",
        idempotency_key=f"{world.run.pk}:read",
        status=StepExecution.Status.SUCCEEDED,
        spec={"id": "read", "inputs": {"path": "notes.md"}},
        result={"path": "notes.md"},
    )
    world.event(3, title="Read notes.md", file_path="notes.md", step_id="read", status="success")
    assert audit_run().ok


def test_a_failure_may_name_the_file_its_step_planned_but_not_another(world):
    world.event(
        3, kind="step.failed", title="Could not write", file_path="index.html", step_id="write", status="failed"
    )
    FileChange.objects.filter(pk=world.change.pk).delete()
    report = audit_run()
    # The success event #1 now has no record behind it; the failure event #3 is honest.
    assert [v.subject for v in report.violations] == [f"{world.run.reference} event #1"]


def test_event_naming_a_command_that_never_ran(world):
    world.event(3, kind="command.started", title="Running `rm -rf build`", command="rm -rf build")
    report = audit_run()
    assert rules(report) == ["event_command_unrecorded"]
    assert "rm -rf build" in report.violations[0].message


def test_rollback_point_offered_as_revertible_with_a_blob_missing(world):
    from workspaces.services import rollback_point_create

    point = rollback_point_create(workspace=world.run.workspace, kind=RollbackPoint.Kind.MANUAL)
    store = SnapshotStore()
    (sha,) = [entry[0] for entry in store.get_manifest(point.manifest_sha).files.values()]
    # index.html has not changed since the point, so the product still says "Revertible",
    # although the bytes it stands on are gone.
    blob = store.blob_path(sha)
    blob.chmod(0o644)
    blob.unlink()
    report = audit_run()
    assert rules(report) == ["rollback_blobs_missing"]
    assert f"rollback point #{point.pk}" in report.violations[0].subject
    assert "index.html" in report.violations[0].message


def test_rollback_point_missing_a_blob_but_honestly_not_offered_is_not_a_violation(world):
    from workspaces.services import rollback_point_create

    point = rollback_point_create(workspace=world.run.workspace, kind=RollbackPoint.Kind.MANUAL)
    store = SnapshotStore()
    (sha,) = [entry[0] for entry in store.get_manifest(point.manifest_sha).files.values()]
    blob = store.blob_path(sha)
    blob.chmod(0o644)
    blob.unlink()
    # The file changes afterwards: restoring it would need the missing bytes, and eligibility
    # says so instead of offering a revert.
    (Path(world.run.workspace.path) / "index.html").write_text("changed by hand\n")
    assert audit_run().ok


def test_rollback_point_with_missing_manifest_honestly_not_revertible_is_not_a_violation(world):
    blob = SnapshotStore().blob_path(world.point.manifest_sha)
    blob.chmod(0o644)
    blob.unlink()
    assert audit_run().ok


def test_asset_whose_stored_bytes_were_altered(world, places):
    path = places / "media" / world.asset.file.name
    path.write_bytes(b"%PDF-1.4 something else entirely")
    report = audit_run()
    assert rules(report) == ["asset_bytes_mismatch"]
    assert "Proposal" in report.violations[0].subject


def test_asset_without_a_verification_report(world):
    OutputAsset.objects.filter(pk=world.asset.pk).update(verification={})
    report = audit_run()
    assert rules(report) == ["asset_unverified"]


def test_asset_whose_report_claims_passed_without_checks(world):
    OutputAsset.objects.filter(pk=world.asset.pk).update(verification={"passed": True, "checks": []})
    assert rules(audit_run()) == ["asset_unverified"]


@pytest.mark.parametrize(
    ("title", "fields"),
    [
        ("Still working on index.html — 40 s", {}),
        ("Still running `npm run build`", {}),
        ("Still on step 3 of 6", {"file_path": "index.html"}),
        ("Still on step 3 of 6", {"command": "make"}),
        ("Still writing src/app/main", {}),
    ],
)
def test_fallback_line_naming_a_file_or_command(world, title, fields):
    world.event(3, kind="fallback", title=title, **fields)
    # (a narrated command nobody ran is also reported as such)
    assert "fallback_names_thing" in rules(audit_run())


def test_fallback_line_restating_persisted_state_is_clean(world):
    world.event(3, kind="ambient.quiet", title="Still on step 2 of 2: verifying the page — 40 s")
    world.event(4, kind="fallback", title="Waiting for the workspace lock held by RUN-001 (12.5 s)")
    assert audit_run().ok


def test_fallback_line_problems_for_unpersisted_narration():
    assert fallback_line_problems("Still on step 3 of 6: verifying the site build — 40 s") == []
    assert fallback_line_problems("Checking index.html") == ["names the file or path “index.html”"]
    assert fallback_line_problems("Running `pytest -q`") == ["names the command `pytest -q`"]


def test_management_command_exits_non_zero_and_lists_violations(world, capsys):
    call_command("audit")
    assert "No violations" in capsys.readouterr().out
    world.event(3, title="Updated styles.css", file_path="styles.css", status="success")
    with pytest.raises(CommandError, match="1 violation"):
        call_command("audit")
    out = capsys.readouterr().out
    assert "Event names a file with no change or read record (1)" in out
    assert "styles.css" in out


def test_management_command_json(world, capsys):
    world.event(3, kind="command.started", title="x", command="make deploy")
    with pytest.raises(CommandError):
        call_command("audit", "--json")
    out = capsys.readouterr().out
    assert '"rule": "event_command_unrecorded"' in out


# --- the admin button ---------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user(username="ops", email="ops@example.com", password="x", is_staff=True)
    client.force_login(user)
    return client


def test_admin_index_links_to_the_audit(staff_client):
    page = staff_client.get("/admin/")
    assert page.status_code == 200
    assert b'href="/admin/audit/"' in page.content


def test_admin_audit_button_runs_the_audit_and_lists_violations(world, staff_client):
    page = staff_client.get("/admin/audit/")
    assert page.status_code == 200 and b"Run the audit now" in page.content
    assert b"audit-violations" not in page.content
    world.event(3, title="Updated styles.css", file_path="styles.css", status="success")
    page = staff_client.post("/admin/audit/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "1 violation." in body and "styles.css" in body
    assert "/admin/tasks/workstreamevent/" in body


def test_admin_audit_clean(places, staff_client):
    body = staff_client.post("/admin/audit/").content.decode()
    assert "No violations." in body


def test_admin_audit_is_staff_only(owner_client, anon_client):
    for client in (owner_client, anon_client):
        page = client.post("/admin/audit/")
        assert page.status_code == 302 and "/admin/login/" in page["Location"]


def test_live_narration_of_a_working_run_is_checked(world):
    run = TaskRun.objects.create(
        task=world.run.task,
        owner=world.run.owner,
        plan_revision=world.run.plan_revision,
        state=TaskRun.State.RUNNING,
        mutates=False,
        current_step_id="s1",
    )
    step = StepExecution.objects.create(
        run=run,
        step_id="s1",
        position=1,
        action_type="write_file",
        title="Write the landing page",
        idempotency_key=f"{run.pk}:s1",
        status=StepExecution.Status.RUNNING,
    )
    assert audit_run().ok
    StepExecution.objects.filter(pk=step.pk).update(title="Write index.html")
    report = audit_run()
    assert rules(report) == ["fallback_names_thing"]
    assert report.violations[0].subject == f"{run.reference} narration"
    assert "index.html" in report.violations[0].message


def test_a_progress_event_may_name_its_own_planned_file(world):
    world.event(
        3, kind="step.started", title="Writing index.html", file_path="index.html", step_id="write", status="info"
    )
    FileChange.objects.filter(pk=world.change.pk).delete()
    # Only the earlier success event (#1) lost its record.
    assert [v.subject for v in audit_run().violations] == [f"{world.run.reference} event #1"]
