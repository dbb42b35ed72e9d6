"""The reaper: expired leases become an honest state, and the superseded worker writes nothing."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.commands import _descendants
from tasks.engine.dispatch import dispatch_claim, run_create, run_heartbeat, worker_identity
from tasks.engine.errors import LeaseLost
from tasks.engine.events import event_emit
from tasks.engine.executor import run_execute
from tasks.engine.recovery import recover_expired_runs
from tasks.models import StepExecution, TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, test_handlers, verify_step  # noqa: F401

S = TaskRun.State
SE = StepExecution.Status


def _die_mid_step(run: TaskRun, step_id: str, worker_id: str = "dead-worker"):
    """What a SIGKILLed worker leaves behind: a claimed run, a step marked running, no heartbeat."""
    claim = dispatch_claim(worker_id=worker_id, run_id=run.pk)
    StepExecution.objects.filter(run=run, step_id=step_id).update(status=SE.RUNNING, attempts=1)
    TaskRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    return claim


@pytest.mark.usefixtures("test_handlers")
def test_safe_step_resumes_and_the_old_worker_is_fenced(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE), verify_step()]))
    old = _die_mid_step(run, "w")
    results = recover_expired_runs()
    assert [r.outcome for r in results] == ["resumed"]
    run.refresh_from_db()
    assert run.state == S.QUEUED and run.recoveries == 1 and run.worker_id == ""
    assert "safe" in run.state_reason and "stopped answering" in run.state_reason
    with pytest.raises(LeaseLost):
        run_heartbeat(run_id=run.pk, lease=old.lease)
    seq = run.event_seq
    with pytest.raises(LeaseLost):
        event_emit(run=run, kind="zombie", title="late write", lease=old.lease.as_tuple())
    assert TaskRun.objects.get(pk=run.pk).event_seq == seq
    assert run_execute(claim=old) == "lease_lost"
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED and run.attempt == 2
    assert (tmp_path / "ws" / "ledger.txt").read_text().count("\n") == 1


def test_interrupted_command_is_recoverable_with_the_reason(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    task = make_task(
        owner, ws, [step("build", ActionType.RUN_COMMAND, "Build the site", command="true"), verify_step()]
    )
    run = run_create(task=task)
    _die_mid_step(run, "build")
    call_command("recover_runs", verbosity=0)
    run.refresh_from_db()
    assert run.state == S.RECOVERABLE
    assert "“Build the site”, which is not safe to repeat blindly" in run.state_reason
    assert StepExecution.objects.get(run=run, step_id="build").error_class == "WorkerLost"


@pytest.mark.usefixtures("test_handlers")
def test_recoveries_are_bounded(owner, tmp_path, settings):
    settings.MAX_RETRIES = 2
    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE), verify_step()]))
    outcomes = []
    for _ in range(3):
        _die_mid_step(run, "w")
        outcomes += [r.outcome for r in recover_expired_runs()]
    assert outcomes == ["resumed", "resumed", "recoverable"]
    run.refresh_from_db()
    assert "already resumed 2 times" in run.state_reason


def test_live_leases_are_left_alone_and_stop_requests_are_honoured(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE), verify_step()]))
    dispatch_claim(worker_id="alive", run_id=run.pk)
    assert recover_expired_runs() == []
    TaskRun.objects.filter(pk=run.pk).update(
        control_request="stop", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert [r.outcome for r in recover_expired_runs()] == ["cancelled"]


@pytest.fixture
def restorers():
    from tasks.engine import recovery

    saved = dict(recovery._RESTORERS)
    yield recovery.register_restorer
    recovery._RESTORERS.clear()
    recovery._RESTORERS.update(saved)


def test_interrupted_command_resumes_when_its_rollback_point_is_restored(owner, tmp_path, restorers):
    from tasks.engine.recovery import Restoration

    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    build = step("build", ActionType.RUN_COMMAND, "Build", command="test ! -e half-built && touch built")
    run = run_create(task=make_task(owner, ws, [build, verify_step(command="test -e built")]))
    (folder / "half-built").write_text("partial output of the killed command")

    @restorers(ActionType.RUN_COMMAND)
    def revert(*, run, step):
        (folder / "half-built").unlink()
        return Restoration(True, "the pre-command rollback point was restored (1 file removed).")

    _die_mid_step(run, "build")
    assert [r.outcome for r in recover_expired_runs()] == ["resumed"]
    run.refresh_from_db()
    assert "pre-command rollback point was restored" in run.state_reason
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED, run.state_reason


def test_a_failed_restore_is_reported_not_assumed(owner, tmp_path, restorers):
    from tasks.engine.recovery import Restoration

    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, [step("b", ActionType.RUN_COMMAND, command="true"), verify_step()]))
    restorers(ActionType.RUN_COMMAND)(lambda *, run, step: Restoration(False, "The snapshot blob is missing."))
    _die_mid_step(run, "b")
    recover_expired_runs()
    run.refresh_from_db()
    assert run.state == S.RECOVERABLE and "The snapshot blob is missing." in run.state_reason


def test_a_command_left_running_by_a_dead_worker_is_stopped(owner, tmp_path):
    import subprocess
    import sys

    from tasks.engine.commands import _alive
    from tasks.models import CommandExecution

    ws = make_workspace(owner, tmp_path / "ws")
    task = make_task(owner, ws, [step("build", ActionType.RUN_COMMAND, "Build", command="sleep 300"), verify_step()])
    run = run_create(task=task)
    _die_mid_step(run, "build", worker_id=worker_identity())
    orphan = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '300']); time.sleep(300)"],
        start_new_session=True,
    )
    try:
        # The orphan's own child appears once Python has started it; a busy machine takes a while.
        deadline = time.monotonic() + 10
        child = list(_descendants(orphan.pid))
        while not child and time.monotonic() < deadline:
            time.sleep(0.05)
            child = list(_descendants(orphan.pid))
        step_row = StepExecution.objects.get(run=run, step_id="build")
        CommandExecution.objects.create(run=run, step=step_row, command="sleep 300", cwd=str(tmp_path), pid=orphan.pid)
        recover_expired_runs()
        orphan.wait(timeout=5)
        # The whole group was signalled; on a busy machine a child may take a moment to exit.
        deadline = time.monotonic() + 5
        while [p for p in child if _alive(p)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child and not [p for p in child if _alive(p)]
    finally:
        if orphan.poll() is None:
            orphan.kill()
    run.refresh_from_db()
    assert run.state == S.RECOVERABLE
    assert "`sleep 300` was still running and has been stopped" in run.state_reason
    assert CommandExecution.objects.get(run=run).stopped


# --- a file step interrupted mid-edit (the product's own edit_file handler) -------------------------


def _interrupted_edit(owner, tmp_path, on_disk: str | None):
    """A run whose edit of journal.txt was interrupted after its pre-edit rollback point: the
    file then holds `on_disk` (None: untouched), and no change was recorded."""
    from workspaces import actions
    from workspaces.models import RollbackPoint

    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    (folder / "journal.txt").write_text("one\n<!-- end -->\n")
    edit = step(
        "journal", ActionType.EDIT_FILE, "Add two", path="journal.txt", find="<!-- end -->", replace="two\n<!-- end -->"
    )
    run = run_create(task=make_task(owner, ws, [edit, verify_step(command="grep -qx two journal.txt")]))
    _die_mid_step(run, "journal", worker_id=worker_identity())
    step_row = StepExecution.objects.get(run=run, step_id="journal")
    actions.rollback_point_create(
        workspace=ws, kind=RollbackPoint.Kind.PRE_EDIT, paths_in_scope=["journal.txt"], run=run, step=step_row
    )
    if on_disk is not None:
        (folder / "journal.txt").write_text(on_disk)
    return run, folder


def test_an_edit_applied_but_not_recorded_is_put_back_and_the_run_finishes(owner, tmp_path):
    run, folder = _interrupted_edit(owner, tmp_path, "one\ntwo\n<!-- end -->\n")
    assert [r.outcome for r in recover_expired_runs()] == ["resumed"]
    run.refresh_from_db()
    assert "put back from its pre-edit point" in run.state_reason
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED, run.state_reason
    assert (folder / "journal.txt").read_text() == "one\ntwo\n<!-- end -->\n", "applied exactly once"
    from workspaces.models import FileChange

    changes = FileChange.objects.filter(workspace=run.workspace).order_by("id")
    assert list(changes.values_list("actor", flat=True)) == ["revert", "step"], "put back, then recorded once"


def test_an_edit_interrupted_before_it_changed_the_file_resumes(owner, tmp_path):
    run, folder = _interrupted_edit(owner, tmp_path, None)
    assert [r.outcome for r in recover_expired_runs()] == ["resumed"]
    run.refresh_from_db()
    assert "nothing had been applied" in run.state_reason
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED, run.state_reason
    assert (folder / "journal.txt").read_text() == "one\ntwo\n<!-- end -->\n"


def test_an_edit_whose_file_something_else_changed_stays_recoverable_with_the_reason(owner, tmp_path):
    run, folder = _interrupted_edit(owner, tmp_path, "someone else's text\n")
    assert [r.outcome for r in recover_expired_runs()] == ["recoverable"]
    run.refresh_from_db()
    assert run.state == S.RECOVERABLE
    assert "journal.txt is neither as it was before the step nor as the step leaves it" in run.state_reason
    assert (folder / "journal.txt").read_text() == "someone else's text\n", "nothing was overwritten"
