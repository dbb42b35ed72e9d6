"""The gate plugged into the real execution engine: a run stops at approval, resumes, and memory
auto-approves the next command with a workstream line that names the preference.

The receiver below is the wiring the tasks app owns (approvals never imports tasks services); it is
spelled out here so the hook is proven against the engine as it is.
"""

from __future__ import annotations

import pytest

from approvals.models import ApprovalRequest
from approvals.services import approval_allow, approval_deny, approval_gate_for_engine
from approvals.signals import approval_decided

pytestmark = pytest.mark.django_db


@pytest.fixture
def engine_with_gate():
    from tasks.engine import controls
    from tasks.engine.approval import set_approval_gate
    from tasks.models import TaskRun

    def resume(sender, *, request_id, run_id, status, refine_text, **kwargs):
        request = ApprovalRequest.objects.get(pk=request_id)
        run = TaskRun.objects.get(pk=run_id)
        if status == ApprovalRequest.Status.ALLOWED:
            controls.run_resume_after_approval(run=run, step_id=request.step_id, note=request.decision_note)
        elif status == ApprovalRequest.Status.DENIED:
            controls.run_skip_step_after_denial(run=run, step_id=request.step_id, note="You denied this step.")

    set_approval_gate(approval_gate_for_engine)
    approval_decided.connect(resume, dispatch_uid="approvals-test-engine")
    yield
    approval_decided.disconnect(dispatch_uid="approvals-test-engine")
    set_approval_gate(None)


def _task(owner, folder, steps):
    from tasks.tests.engine_support import make_task, make_workspace

    return make_task(owner, make_workspace(owner, folder, name="Acme site"), steps)


def test_run_waits_for_approval_resumes_and_memory_announces_itself(
    engine_with_gate, owner, tmp_path, django_capture_on_commit_callbacks
):
    from providers.contracts import ActionType
    from tasks import jobs
    from tasks.engine.dispatch import run_create
    from tasks.models import TaskRun
    from tasks.tests.engine_support import step, verify_step

    folder = tmp_path / "acme"
    task = _task(
        owner,
        folder,
        [step("make", ActionType.RUN_COMMAND, command="touch made.txt"), verify_step(command="test -e made.txt")],
    )
    run = run_create(task=task)
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == TaskRun.State.WAITING_APPROVAL, run.state_reason
    assert not (folder / "made.txt").exists(), "nothing runs before the operator allows it"
    request = ApprovalRequest.objects.get(run=run, status="pending")
    assert request.action["command"] == "touch made.txt" and request.step_id == "make"
    waiting = run.events.filter(kind="run.state").order_by("-seq").first()
    assert waiting.payload.get("approval_id") == str(request.pk)

    with django_capture_on_commit_callbacks(execute=True):
        approval_allow(request=request, user=owner, action_hash=request.action_hash, remember="workspace")
    run.refresh_from_db()
    assert run.state == TaskRun.State.QUEUED

    jobs.dispatch_next()
    run.refresh_from_db()
    assert (folder / "made.txt").exists()
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    auto = run.events.get(kind="approval.auto")
    assert auto.explanation == "Auto-approved: you allow commands in Acme site — change this"
    request.refresh_from_db()
    assert ApprovalRequest.objects.get(run=run, step_id="verify").auto_decided_by == request.remembered_as


def test_denied_step_is_skipped_and_the_run_ends_honestly(
    engine_with_gate, owner, tmp_path, django_capture_on_commit_callbacks
):
    from providers.contracts import ActionType
    from tasks import jobs
    from tasks.engine.dispatch import run_create
    from tasks.models import StepExecution, TaskRun
    from tasks.tests.engine_support import step, verify_step

    folder = tmp_path / "acme"
    task = _task(
        owner,
        folder,
        [step("wipe", ActionType.RUN_COMMAND, command="rm -rf src"), verify_step(command="true")],
    )
    run = run_create(task=task)
    jobs.dispatch_next()
    request = ApprovalRequest.objects.get(run=run, status="pending")
    assert request.risk_level == "high" and "deletes files (rm -rf src)" in request.risk_reason
    with django_capture_on_commit_callbacks(execute=True):
        approval_deny(request=request, user=owner, action_hash=request.action_hash)
    assert StepExecution.objects.get(run=run, step_id="wipe").status == "skipped"
    run.refresh_from_db()
    assert run.state == TaskRun.State.QUEUED
    # The verify step runs a command too, so the gate asks about it rather than running it silently.
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == TaskRun.State.WAITING_APPROVAL
    assert ApprovalRequest.objects.get(run=run, status="pending").step_id == "verify"


def test_a_network_command_gets_its_link_only_after_its_network_approval(
    engine_with_gate, owner, tmp_path, django_capture_on_commit_callbacks
):
    """A command that reads as network use asks first; allowed, it runs with a network link (not
    before, and not for a launch no approval allowed)."""
    from providers.contracts import ActionType
    from tasks import jobs
    from tasks.engine.dispatch import run_create
    from tasks.models import TaskRun
    from tasks.tests.engine_support import step

    folder = tmp_path / "acme"
    # Reads as network use (npx); what it does is list the sandbox's network links into the workspace.
    command = "npx --version >/dev/null 2>&1; cat /proc/net/dev"
    task = _task(owner, folder, [step("net", ActionType.RUN_COMMAND, command=command)])
    run = run_create(task=task)
    jobs.dispatch_next()
    request = ApprovalRequest.objects.get(run=run, status="pending")
    assert request.action["network"] is True and request.risk_level == "high"
    with django_capture_on_commit_callbacks(execute=True):
        approval_allow(request=request, user=owner, action_hash=request.action_hash)
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    started = run.events.get(kind="command.started")
    assert started.payload["network"] is True
    from tasks.models import CommandExecution

    links = CommandExecution.objects.get(run=run).output
    assert "tap0" in links or "eth" in links, links

    # Without an allowed network approval the same text runs with loopback only.
    from tasks.engine.commands import command_launch

    launch = command_launch(command=command, workspace=folder, cwd=folder)
    assert launch.network is False and "--unshare-net" in launch.argv
    launch.cleanup()
