"""Fault tests with a real `manage.py qcluster`: SIGKILL mid-step, and SIGSTOP past the lease.

Kept few and bounded: short leases and django-q2 timeouts come in through the environment.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from command_site.testing import wait_for, worker_process
from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.dispatch import run_create
from tasks.engine.recovery import recover_expired_runs
from tasks.models import TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, test_handlers, verify_step  # noqa: F401

S = TaskRun.State
LEASE = 5
WORKER_ENV = {
    "COMMAND_LEASE_SECONDS": str(LEASE),
    "COMMAND_Q_TIMEOUT": "30",
    "COMMAND_Q_RETRY": "31",
    "COMMAND_Q_POLL": "0.1",
    "COMMAND_WORKERS": "1",
    "COMMAND_HANDLER_MODULES": "tasks.tests.engine_worker_handlers",
}

pytestmark = pytest.mark.django_db(transaction=True)


def _ledger(folder) -> list[str]:
    path = folder / "ledger.txt"
    return path.read_text().splitlines() if path.exists() else []


def _assert_events_whole(run: TaskRun) -> list:
    events = list(run.events.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "no event lost or duplicated"
    return events


def _kill(worker) -> None:
    # A graceful SIGTERM lets django-q2 finish in-flight tasks (slow); the run is already settled.
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def _expire_and_recover(run: TaskRun) -> None:
    wait_for(
        lambda: TaskRun.objects.get(pk=run.pk).lease_expires_at is not None and recover_expired_runs() != [],
        timeout=LEASE * 4,
        interval=0.5,
        message="the lease to expire and the reaper to recover the run",
    )


def test_worker_killed_mid_step_resumes_and_writes_exactly_once(owner, tmp_path):
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    plan = [
        step("write", ActionType.WRITE_FILE, "Write the ledger", sleep_after=30, sleep_on_attempts=[1]),
        verify_step(command="test -s ledger.txt"),
    ]
    run = run_create(task=make_task(owner, ws, plan))
    with worker_process(tmp_path / "worker1.log", **WORKER_ENV) as worker:
        # The line is written, then its event: kill only once both are there (a kill between the
        # two leaves the line without its event, which is not what this test is about).
        wait_for(
            lambda: _ledger(folder) and run.events.filter(kind="file.written").exists(),
            timeout=60,
            message="the step to write its line and record it",
        )
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    dead = TaskRun.objects.get(pk=run.pk)
    assert dead.state == S.RUNNING and dead.attempt == 1, "the killed worker left the run claimed"
    _expire_and_recover(run)
    with worker_process(tmp_path / "worker2.log", **WORKER_ENV) as worker:
        wait_for(
            lambda: TaskRun.objects.get(pk=run.pk).state in TaskRun.TERMINAL_STATES,
            timeout=60,
            message="the resumed run to finish",
        )
        _kill(worker)
    run.refresh_from_db()
    assert run.state == S.COMPLETED, run.state_reason
    assert run.attempt == 2 and run.recoveries == 1
    assert len(_ledger(folder)) == 1 and _ledger(folder)[0].endswith("attempt=1"), "written exactly once"
    events = _assert_events_whole(run)
    assert [e.kind for e in events].count("file.written") == 1
    assert any("will resume from its last safe point" in e.title for e in events)


@pytest.mark.usefixtures("test_handlers")
def test_worker_stopped_past_its_lease_cannot_write_after_it_wakes(owner, tmp_path):
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    plan = [
        step(
            "write",
            ActionType.WRITE_FILE,
            "Write the ledger",
            marker="started.txt",
            sleep_before=LEASE * 2 + 2,
            sleep_on_attempts=[1],
        ),
        verify_step(command="test -s ledger.txt"),
    ]
    run = run_create(task=make_task(owner, ws, plan))
    log = tmp_path / "zombie.log"
    # A worker of another machine: recovery on this host would stop a frozen local worker first
    # (test_engine_fencing covers that); this one must be fenced out when it wakes.
    with worker_process(log, **WORKER_ENV, COMMAND_WORKER_HOST="another-machine") as worker:
        wait_for(lambda: (folder / "started.txt").exists(), timeout=60, message="the step to start")
        os.killpg(worker.pid, signal.SIGSTOP)
        try:
            _expire_and_recover(run)
            # Another worker (this process) takes over and finishes the run as attempt 2.
            assert "completed" in jobs.run_execute(run.pk)
            done = TaskRun.objects.get(pk=run.pk)
            assert done.state == S.COMPLETED and done.attempt == 2
            seq_before = done.event_seq
        finally:
            os.killpg(worker.pid, signal.SIGCONT)
        # Let the zombie wake, finish its sleep and try to write.
        wait_for(
            lambda: b"superseded" in log.read_bytes() or b"no longer held" in log.read_bytes(),
            timeout=LEASE * 4,
            message="the woken worker to notice it lost its lease",
        )
        time.sleep(1)
        _kill(worker)
    run.refresh_from_db()
    assert run.state == S.COMPLETED and run.event_seq == seq_before, "the zombie wrote no event"
    assert _ledger(folder) == [f"run-{run.pk}:write attempt=2"], "the zombie wrote nothing to the file"
    events = _assert_events_whole(run)
    recovered_at = next(e.seq for e in events if "will resume" in e.title)
    assert all(e.attempt != 1 for e in events if e.seq > recovered_at)
