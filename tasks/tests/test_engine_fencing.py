"""The write fence: a worker that lost its run's lease writes nothing to files, the snapshot store
or outputs, and its refusal is recorded; recovery makes sure a superseded worker on this host is
gone; the audit reports a change made without the lease.

Two tests use a real `manage.py qcluster` frozen with SIGSTOP inside the product's own write_file
handler (tasks.tests.fence_worker_pause only delays the write; it checks nothing).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from command_site.audit import audit_run
from command_site.testing import wait_for, worker_process
from command_site.write_fence import WriteRefused, write_fence
from providers.contracts import ActionType
from tasks import jobs
from tasks.engine import executor, fencing
from tasks.engine.dispatch import dispatch_claim, run_create, worker_identity
from tasks.engine.errors import LeaseLost
from tasks.engine.fencing import (
    LateWriteRefused,
    process_gone,
    process_start_time,
    step_write_fence,
    superseded_worker_stop,
)
from tasks.engine.handlers import StepContext
from tasks.engine.recovery import recover_expired_runs
from tasks.models import StepExecution, TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, verify_step
from workspaces import actions
from workspaces.models import Actor, FileChange, RollbackPoint
from workspaces.services import file_save_from_editor
from workspaces.services.files import sha256

S = TaskRun.State
LEASE = 5
WORKER_ENV = {
    "COMMAND_LEASE_SECONDS": str(LEASE),
    "COMMAND_Q_TIMEOUT": "40",
    "COMMAND_Q_RETRY": "41",
    "COMMAND_Q_POLL": "0.1",
    "COMMAND_WORKERS": "1",
    "COMMAND_HANDLER_MODULES": "tasks.tests.fence_worker_pause",
}
PAUSE = LEASE * 3


def _page_plan(content: str):
    return [
        step("write", ActionType.WRITE_FILE, "Write the page", path="pages/z.html", content=content),
        verify_step(command="test -s pages/z.html"),
    ]


def _expire_and_recover(run: TaskRun) -> list:
    return wait_for(
        lambda: TaskRun.objects.get(pk=run.pk).lease_expires_at is not None and recover_expired_runs(),
        timeout=LEASE * 4,
        interval=0.5,
        message="the lease to expire and the reaper to recover the run",
    )


def _changes_without_lease():
    return [v for v in audit_run().violations if v.rule == "change_without_lease"]


# --- in this process -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_write_after_the_lease_was_superseded_mid_handler_is_refused_and_recorded(owner, tmp_path, monkeypatch):
    """The product's write_file handler: the lease is lost after its rollback point and before
    its write; the write is refused at write time, nothing reaches the file, and the refusal is
    a `write.refused` event. Attempt 2 then writes the page normally."""
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    (folder / "pages").mkdir()
    (folder / "pages" / "z.html").write_text("old\n")
    run = run_create(task=make_task(owner, ws, _page_plan("new\n")))
    claim = dispatch_claim(worker_id=worker_identity(), run_id=run.pk)
    take_point = actions.rollback_point_create

    def point_then_lose_the_lease(**kwargs):
        point = take_point(**kwargs)
        # The reaper supersedes this worker between its rollback point and its write.
        TaskRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        assert [r.outcome for r in recover_expired_runs()] == ["resumed"]
        return point

    monkeypatch.setattr(actions, "rollback_point_create", point_then_lose_the_lease)
    assert executor.run_execute(claim=claim) == "lease_lost"
    monkeypatch.undo()

    assert (folder / "pages" / "z.html").read_text() == "old\n", "the superseded worker wrote nothing"
    assert not FileChange.objects.filter(run=run).exists()
    refused = run.events.get(kind="write.refused")
    assert refused.payload["refused_attempt"] == 1 and refused.payload["what"] == "write pages/z.html"
    assert refused.step_id == "write" and "Nothing was written" in refused.explanation

    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED and run.attempt == 2, run.state_reason
    assert (folder / "pages" / "z.html").read_text() == "new\n"
    assert list(FileChange.objects.filter(run=run).values_list("run_attempt", flat=True)) == [2]
    assert _changes_without_lease() == []


@pytest.mark.django_db(transaction=True)
def test_a_superseded_fence_refuses_snapshots_deletes_and_outputs(owner, tmp_path):
    """Every write path checks the fence: a rollback point (snapshot store), a delete, an
    asset upload. Outside a fence (the operator's editor) nothing is checked."""
    from outputs.models import OutputAsset
    from outputs.services import asset_deliver

    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    (folder / "keep.txt").write_text("keep\n")
    run = run_create(task=make_task(owner, ws, _page_plan("x\n")))
    claim = dispatch_claim(worker_id=worker_identity(), run_id=run.pk)
    step_row = StepExecution.objects.get(run=run, step_id="write")
    ctx = StepContext(run=run, step=step_row, plan_step=None, workspace_path=folder, lease=claim.lease)
    TaskRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    points = RollbackPoint.objects.count()
    with write_fence(step_write_fence(ctx)):
        with pytest.raises(LateWriteRefused):
            actions.action_delete_file(workspace=ws, inputs={"path": "keep.txt"}, run=run, step=step_row)
        with pytest.raises(WriteRefused):
            actions.command_checkpoint(workspace=ws, command="true", run=run, step=step_row)
        with pytest.raises(LeaseLost):
            asset_deliver(
                owner=owner,
                task=run.task,
                generated=_verified_nothing(folder),
                report={"checks": [{"name": "opens", "passed": True}]},
                run=run,
                step=step_row,
            )
    assert (folder / "keep.txt").read_text() == "keep\n"
    assert RollbackPoint.objects.count() == points, "no rollback point was taken"
    assert not OutputAsset.objects.exists()
    assert run.events.filter(kind="write.refused").count() == 3
    # No fence open: the operator's editor writes as before.
    file_save_from_editor(workspace=ws, path="keep.txt", content="edited\n", base_sha=sha256(b"keep\n"), user=owner)
    assert (folder / "keep.txt").read_text() == "edited\n"


def _verified_nothing(folder: Path):
    """A generated output with no files: the fence is checked before its (absent) bytes matter."""
    from outputs.generators.base import GeneratedOutput

    return GeneratedOutput(
        category="document",
        deliverable_id="d",
        title="Doc",
        root=str(folder),
        primary="",
        files=[],
        metadata={},
        expectations={},
        content_source="test",
    )


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_that_cannot_renew_for_a_whole_lease_gives_the_lease_up(owner, tmp_path, settings, monkeypatch):
    settings.COMMAND_LEASE_SECONDS = 1
    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, _page_plan("x\n")))
    claim = dispatch_claim(worker_id=worker_identity(), run_id=run.pk)
    told: list[tuple[int, int]] = []
    monkeypatch.setattr(fencing, "_LEASE_LOST_HOOKS", [lambda *, run_id, lease: told.append((run_id, lease.attempt))])

    def database_down(**_kwargs):
        raise OSError("the database is restarting")

    monkeypatch.setattr(executor, "run_heartbeat", database_down)
    lost = threading.Event()
    beat = executor._Heartbeat(run.pk, claim.lease, lost)
    beat.start()
    try:
        assert lost.wait(timeout=10), "the lease was given up"
    finally:
        beat.stopped.set()
        beat.join(timeout=5)
    assert told == [(run.pk, 1)]


# --- the superseded process ------------------------------------------------------------------------


def test_superseded_worker_stop_identifies_the_process_exactly(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_start_time(proc.pid)
        host = fencing.worker_host()
        # Same pid, another start time: a recycled pid is never touched.
        assert superseded_worker_stop(worker_id=f"{host}:{proc.pid}:{int(started) + 1}:abc")[0]
        assert proc.poll() is None
        # Another host: cannot be checked from here.
        gone, why = superseded_worker_stop(worker_id=f"elsewhere:{proc.pid}:{started}:abc")
        assert not gone and "elsewhere" in why and proc.poll() is None
        gone, why = superseded_worker_stop(worker_id=f"{host}:{proc.pid}:{started}:abc")
        assert gone and f"({proc.pid}) was stopped" in why
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()


# --- a real worker frozen inside the product's write_file handler ----------------------------------


def _frozen_worker(tmp_path: Path, **env):
    control = tmp_path / "control"
    control.mkdir()
    (control / "pause-once").touch()
    env = {**WORKER_ENV, "FENCE_PAUSE_DIR": str(control), "FENCE_PAUSE_SECONDS": str(PAUSE), **env}
    return control, worker_process(tmp_path / "worker.log", **env)


@pytest.mark.django_db(transaction=True)
def test_a_worker_frozen_inside_write_file_past_its_lease_writes_nothing_when_it_wakes(owner, tmp_path):
    """A worker on another machine (it cannot be stopped from here) frozen inside write_file;
    attempt 2 finishes the run and the operator edits the page; the frozen worker is resumed:
    its write is refused, the operator's edit stands, and the refusal is recorded."""
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    (folder / "pages").mkdir()
    (folder / "pages" / "z.html").write_text("old\n")
    run = run_create(task=make_task(owner, ws, _page_plan("stale\n")))
    control, worker_cm = _frozen_worker(tmp_path, COMMAND_WORKER_HOST="another-machine")
    with worker_cm as worker:
        wait_for((control / "paused").exists, timeout=60, message="the worker to reach its write")
        os.killpg(worker.pid, signal.SIGSTOP)
        try:
            assert TaskRun.objects.get(pk=run.pk).worker_id.startswith("another-machine:")
            [recovery] = _expire_and_recover(run)
            assert recovery.outcome == "resumed" and "could not be stopped from here" in recovery.reason
            assert "completed" in jobs.run_execute(run.pk)
            file_save_from_editor(
                workspace=ws, path="pages/z.html", content="operator\n", base_sha=sha256(b"stale\n"), user=owner
            )
        finally:
            os.killpg(worker.pid, signal.SIGCONT)
        wait_for(
            lambda: run.events.filter(kind="write.refused").exists(),
            timeout=PAUSE + LEASE * 4,
            message="the woken worker's write to be refused",
        )
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    run.refresh_from_db()
    assert run.state == S.COMPLETED and run.attempt == 2
    assert (folder / "pages" / "z.html").read_text() == "operator\n", "the operator's later edit stands"
    assert not FileChange.objects.filter(run=run, run_attempt=1).exists()
    refused = run.events.get(kind="write.refused")
    assert refused.payload["refused_attempt"] == 1 and refused.payload["what"] == "write pages/z.html"
    assert _changes_without_lease() == []


@pytest.mark.django_db(transaction=True)
def test_recovery_on_the_same_host_stops_the_frozen_worker_before_resuming(owner, tmp_path):
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    run = run_create(task=make_task(owner, ws, _page_plan("new\n")))
    control, worker_cm = _frozen_worker(tmp_path)
    with worker_cm as worker:
        wait_for((control / "paused").exists, timeout=60, message="the worker to reach its write")
        os.killpg(worker.pid, signal.SIGSTOP)
        try:
            _host, pid, started, _ = TaskRun.objects.get(pk=run.pk).worker_id.split(":")
            assert int(pid) == int((control / "paused").read_text())
            [recovery] = _expire_and_recover(run)
            assert recovery.outcome == "resumed" and f"Its worker process ({pid}) was stopped." in recovery.reason
            assert process_gone(int(pid), started), "the frozen process is gone"
            assert "completed" in jobs.run_execute(run.pk)
        finally:
            os.killpg(worker.pid, signal.SIGCONT)
        time.sleep(1)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    run.refresh_from_db()
    assert run.state == S.COMPLETED and run.attempt == 2
    assert (folder / "pages" / "z.html").read_text() == "new\n"
    assert list(FileChange.objects.filter(run=run).values_list("run_attempt", flat=True)) == [2]
    assert not run.events.filter(kind="write.refused").exists(), "it was stopped, so it tried nothing"


# --- the audit --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_audit_reports_a_change_recorded_after_its_attempt_lost_the_run(owner, tmp_path):
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    run = run_create(task=make_task(owner, ws, _page_plan("x\n")))
    dispatch_claim(worker_id=worker_identity(), run_id=run.pk)

    def change(attempt, summary):
        return FileChange.objects.create(
            workspace=ws,
            run=run,
            path="pages/z.html",
            change_type="modified",
            summary=summary,
            actor=Actor.STEP,
            run_attempt=attempt,
        )

    change(1, "Edited pages/z.html: +1 −1 lines")
    assert _changes_without_lease() == []
    TaskRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    recover_expired_runs()
    late = change(1, "Edited pages/z.html: +1 −1 lines (late)")
    [violation] = _changes_without_lease()
    assert violation.subject == f"{run.reference} change #{late.pk}"
    assert "attempt 1" in violation.message and "after that attempt lost the run" in violation.message
