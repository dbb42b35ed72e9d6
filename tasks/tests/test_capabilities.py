"""The real handlers through the real engine: files in a workspace, outputs as assets, approvals."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalRequest
from approvals.services import approval_allow, approval_refine
from outputs.models import OutputAsset
from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.dispatch import run_create
from tasks.models import StepExecution, TaskRun
from tasks.services import task_start_if_ready, task_submit
from tasks.tests.engine_support import make_task, make_workspace, step, verify_step
from workspaces.models import FileChange, RollbackPoint

pytestmark = [pytest.mark.django_db, pytest.mark.approval_gate]


@pytest.fixture(autouse=True)
def roots(settings, tmp_path):
    settings.COMMAND_WORKSPACE_ROOTS = [tmp_path]
    settings.COMMAND_SNAPSHOT_DIR = tmp_path / "_snapshots"
    settings.COMMAND_DATA_DIR = tmp_path / "_data"
    return tmp_path


def drain(run: TaskRun, limit: int = 20) -> TaskRun:
    for _ in range(limit):
        jobs.dispatch_next()
        run.refresh_from_db()
        if run.state not in (TaskRun.State.QUEUED, TaskRun.State.RUNNING, TaskRun.State.VERIFYING):
            break
    return run


def test_a_new_file_is_written_recorded_and_revertible(owner, tmp_path, django_capture_on_commit_callbacks):
    folder = tmp_path / "site"
    task = make_task(
        owner,
        make_workspace(owner, folder, name="Acme site"),
        [
            step("write", ActionType.WRITE_FILE, path="notes/hello.txt", content="hello\n"),
            step("read", ActionType.READ_FILE, path="notes/hello.txt"),
            verify_step(command="test -s notes/hello.txt"),
        ],
    )
    run = drain(run_create(task=task))
    # Creating a file proceeds; the verify command asks first.
    assert run.state == TaskRun.State.WAITING_APPROVAL, run.state_reason
    assert (folder / "notes/hello.txt").read_text() == "hello\n"
    change = FileChange.objects.get(run=run, path="notes/hello.txt")
    assert change.change_type == "created"
    assert RollbackPoint.objects.filter(run=run, kind="pre_edit").exists()
    request = ApprovalRequest.objects.get(run=run, status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        approval_allow(request=request, user=owner, action_hash=request.action_hash)
    run = drain(run)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    read = StepExecution.objects.get(run=run, step_id="read")
    assert "text" not in read.result  # contents stay in the folder, not in the run record


def test_a_path_outside_the_workspace_fails_the_step_and_touches_nothing(owner, tmp_path):
    folder = tmp_path / "site"
    task = make_task(
        owner,
        make_workspace(owner, folder),
        [step("escape", ActionType.WRITE_FILE, path="../outside.txt", content="x"), verify_step(command="true")],
    )
    run = drain(run_create(task=task))
    assert run.state in (TaskRun.State.FAILED, TaskRun.State.RECOVERABLE, TaskRun.State.WAITING_APPROVAL)
    assert not (tmp_path / "outside.txt").exists()
    assert run.state != TaskRun.State.COMPLETED


def test_commands_record_what_they_changed(owner, tmp_path, django_capture_on_commit_callbacks):
    folder = tmp_path / "proj"
    task = make_task(
        owner,
        make_workspace(owner, folder),
        [step("make", ActionType.RUN_COMMAND, command="mkdir -p out && echo built > out/app.txt")],
    )
    run = drain(run_create(task=task))
    request = ApprovalRequest.objects.get(run=run, status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        approval_allow(request=request, user=owner, action_hash=request.action_hash)
    run = drain(run)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    change = FileChange.objects.get(run=run)
    assert (change.path, change.change_type, change.actor) == ("out/app.txt", "created", "command")
    assert RollbackPoint.objects.filter(run=run, kind="pre_command").exists()
    make = StepExecution.objects.get(run=run, step_id="make")
    assert "changed 1 file: out/app.txt" in make.result["summary"]


def test_a_planned_request_produces_verified_assets(owner, settings):
    task = task_submit(owner=owner, prompt="a one-page pdf proposal for 'Northwind Cloud' and a pricing spreadsheet")
    from tasks.planning import task_understand

    task_understand(task=task)
    task.refresh_from_db()
    assert task.status == "planned"
    run = task_start_if_ready(task=task)
    assert run is not None
    assert task_start_if_ready(task=task) is None  # one run at a time
    run = drain(run)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    assets = OutputAsset.objects.filter(run=run)
    assert {a.category for a in assets} == {"pdf", "spreadsheet"}
    for asset in assets:
        assert asset.verification["passed"] is True
        assert asset.task_id == task.pk


def test_a_website_with_a_workspace_lands_in_the_folder(owner, tmp_path):
    folder = tmp_path / "web"
    workspace = make_workspace(owner, folder, name="Web")
    task = task_submit(owner=owner, prompt="a landing page for 'Acme Analytics'", workspace=workspace)
    from tasks.planning import task_understand

    task_understand(task=task)
    run = drain(task_start_if_ready(task=task))
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    assert (folder / "site" / "index.html").is_file()
    assert FileChange.objects.filter(run=run, path="site/index.html", change_type="created").exists()
    assert RollbackPoint.objects.filter(run=run, kind="delivery_safe").exists()
    assert OutputAsset.objects.get(run=run).category == "website"


def test_refine_replans_and_continues_in_a_linked_run(owner, tmp_path, django_capture_on_commit_callbacks):
    folder = tmp_path / "proj"
    workspace = make_workspace(owner, folder)
    task = task_submit(owner=owner, prompt="run `make build`", workspace=workspace)
    from tasks.planning import task_understand

    task_understand(task=task)
    run = drain(task_start_if_ready(task=task))
    assert run.state == TaskRun.State.WAITING_APPROVAL, run.state_reason
    request = ApprovalRequest.objects.get(run=run, status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        approval_refine(request=request, user=owner, action_hash=request.action_hash, text="run `echo ok` instead")
    run.refresh_from_db()
    assert run.state == TaskRun.State.CANCELLED
    follow_up = TaskRun.objects.get(previous_run=run)
    assert follow_up.plan_revision.number == 2
    assert "echo ok" in str(follow_up.plan_revision.plan)
    assert "You refined the plan" in follow_up.plan_revision.change_note
    assert run.events.filter(kind="plan.revised").exists()


def test_remembered_allow_is_announced_with_a_link_to_change_it(owner, tmp_path, django_capture_on_commit_callbacks):

    folder = tmp_path / "proj"
    task = make_task(
        owner,
        make_workspace(owner, folder, name="Acme site"),
        [
            step("one", ActionType.RUN_COMMAND, command="echo one"),
            step("two", ActionType.RUN_COMMAND, command="echo two"),
        ],
    )
    run = drain(run_create(task=task))
    request = ApprovalRequest.objects.get(run=run, status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        approval_allow(request=request, user=owner, action_hash=request.action_hash, remember="workspace")
    run = drain(run)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    auto = run.events.get(kind="approval.auto")
    assert auto.payload["change_url"] == "/memory/" or auto.payload["change_url"].startswith("/memory/")
    from tasks.templatetags.workstream import workstream_row

    html = workstream_row(auto)
    assert f'href="{auto.payload["change_url"]}"' in html


def test_stopping_a_waiting_run_withdraws_its_question(owner, tmp_path):
    from tasks.engine.controls import run_stop

    task = make_task(
        owner, make_workspace(owner, tmp_path / "proj"), [step("c", ActionType.RUN_COMMAND, command="echo hi")]
    )
    run = drain(run_create(task=task))
    assert run.state == TaskRun.State.WAITING_APPROVAL
    run_stop(run=run)
    request = ApprovalRequest.objects.get(run=run)
    assert request.status == "superseded"
    assert request.decision_note == "The run was stopped."


@pytest.mark.slow
def test_the_northwind_request_produces_every_deliverable_verified(owner):
    from tasks.planning import task_understand

    prompt = (
        "Create a premium B2B landing page for 'Northwind Cloud' with a logo, a one-page PDF proposal, "
        "a pitch deck, a pricing spreadsheet and a 10-second intro video"
    )
    task = task_submit(owner=owner, prompt=prompt)
    task_understand(task=task)
    run = drain(task_start_if_ready(task=task), limit=40)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    assets = {a.category: a for a in OutputAsset.objects.filter(run=run)}
    assert set(assets) == {"website", "image", "pdf", "presentation", "spreadsheet", "video"}
    for asset in assets.values():
        assert asset.verification["passed"] is True
        assert (asset.task_id, asset.run_id, asset.source_prompt) == (task.pk, run.pk, prompt)
    assert assets["video"].metadata.get("duration", 0) >= 9.5
