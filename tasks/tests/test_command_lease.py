"""A command never outlives its worker's lease (tasks.engine.commands, command_site.lease_watchdog).

The main test freezes a real `manage.py qcluster` with SIGSTOP while its command (sandboxed, then
with COMMAND_SANDBOX=off) writes
a line into a workspace file every 100 ms. The worker says it runs on another machine, so
recovery here cannot stop it or its command: only the lease watchdog can. The command must be
dead before the lease expires and write nothing after; recovery puts the folder back and tells
the person, whose retry completes the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime

import pytest

from command_site import lease_watchdog
from command_site.sandbox import SandboxLaunch, sandbox_status
from command_site.testing import processes_with, stamped_times, wait_for, worker_process
from providers.contracts import ActionType
from tasks import jobs
from tasks.engine import fencing
from tasks.engine.commands import lease_watched
from tasks.engine.controls import run_retry
from tasks.engine.dispatch import run_create
from tasks.engine.recovery import recover_expired_runs
from tasks.models import CommandExecution, TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, verify_step

S = TaskRun.State
LEASE = 5
WORKER_ENV = {
    "COMMAND_LEASE_SECONDS": str(LEASE),
    "COMMAND_Q_TIMEOUT": "60",
    "COMMAND_Q_RETRY": "61",
    "COMMAND_Q_POLL": "0.1",
    "COMMAND_WORKERS": "1",
    "COMMAND_HANDLER_MODULES": "tasks.tests.engine_worker_handlers",
    "COMMAND_WORKER_HOST": "another-machine",
}


def _ticking(token: str, *, ticks: int = 400) -> str:
    """A command stamping a line into ticks.txt every 100 ms (far longer than a lease), or three
    lines when the workspace holds `fast` (the recovery attempt's run of it)."""
    return (
        f": {token}; if [ -e fast ]; then n=3; else n={ticks}; fi; i=0; "
        'while [ "$i" -lt "$n" ]; do date +%s.%N >> ticks.txt; i=$((i+1)); sleep 0.1; done'
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sandbox", ["on", "off"])
def test_a_frozen_workers_command_dies_before_its_lease_expires(owner, tmp_path, sandbox):
    if sandbox == "on" and not sandbox_status().sandboxed:
        pytest.skip(sandbox_status().detail)
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    token = f"ticking-{uuid.uuid4().hex[:10]}"
    run = run_create(
        task=make_task(owner, ws, [step("cmd", ActionType.RUN_COMMAND, "Tick", command=_ticking(token)), verify_step()])
    )
    ticks = folder / "ticks.txt"
    with worker_process(tmp_path / "worker.log", **WORKER_ENV, COMMAND_SANDBOX=sandbox) as worker:
        wait_for(lambda: len(stamped_times(ticks)) >= 5, timeout=90, message="the command to tick in the workspace")
        os.killpg(worker.pid, signal.SIGSTOP)  # the worker and its heartbeat; not the command's own session
        try:
            assert processes_with(token), "the command runs on while its worker is frozen"
            # The lease was renewed at most a lease ago; wait until it has run out, then a little more.
            expires = wait_for(
                lambda: (
                    (row := TaskRun.objects.get(pk=run.pk)).lease_expires_at
                    and row.lease_expires_at < datetime.now(UTC)
                    and row.lease_expires_at
                ),
                timeout=LEASE * 4,
                message="the frozen worker's lease to expire",
            )
            time.sleep(1)
            before_recovery = stamped_times(ticks)
            assert before_recovery, "the command had written into the workspace"
            assert not processes_with(token), "the command is dead once the lease has expired"
            assert max(before_recovery) <= expires.timestamp(), "no write after the lease expired"

            [recovery] = recover_expired_runs()
            # A plan's command is not repeated blindly: the person is told, and retries.
            assert recovery.outcome == "recoverable", recovery.reason
            assert "could not be stopped from here" in recovery.reason
            assert "no longer runs: a command's lease watchdog stops it" in recovery.reason
            assert "Removed what it had created: ticks.txt" in recovery.reason
            assert not ticks.exists(), "the folder is back at its pre-command point"
            execution = CommandExecution.objects.get(run=run, step__step_id="cmd")
            assert execution.stopped and execution.finished_at is not None
            (folder / "fast").touch()
            retry = run_retry(run=TaskRun.objects.get(pk=run.pk)).run
            assert "completed" in jobs.run_execute(retry.pk)
        finally:
            os.killpg(worker.pid, signal.SIGCONT)
        # The woken worker finds its command ended and its lease gone: it writes nothing more.
        time.sleep(2)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    run.refresh_from_db()
    retry.refresh_from_db()
    assert run.state == S.RECOVERABLE and run.attempt == 1, "the frozen worker changed nothing on waking"
    assert retry.state == S.COMPLETED, retry.state_reason
    assert len(stamped_times(ticks)) == 3, "only the retry's three lines"
    assert not run.events.filter(kind="command.finished").exists()


def _watched(command: str, deadline: float) -> tuple[subprocess.Popen, int]:
    """`command` unsandboxed (as with COMMAND_SANDBOX=off) under the watchdog, with its deadline pipe."""
    launch = SandboxLaunch(argv=["/bin/sh", "-c", command], env={"PATH": "/usr/bin:/bin"}, sandboxed=False)
    read, write = os.pipe()
    argv, pass_fds = lease_watched(launch, deadline_fd=read, deadline=deadline)
    proc = subprocess.Popen(argv, env=launch.env, pass_fds=pass_fds, start_new_session=True, stdout=subprocess.PIPE)
    os.close(read)
    return proc, write


def test_an_unsandboxed_command_and_what_escaped_its_group_die_at_the_deadline(tmp_path):
    token = f"escaping-{uuid.uuid4().hex[:10]}"
    stamp = "while :; do date +%s.%N >> {f}; sleep 0.1; done"
    # One loop in the command's group, one in a session of its own, one double-forked away from it.
    command = (
        f": {token}; ( {stamp.format(f=tmp_path / 'a')} ) & "
        f"setsid sh -c '{stamp.format(f=tmp_path / 'b')}; : {token}' & "
        f"( sh -c '{stamp.format(f=tmp_path / 'c')}; : {token}' & ) ; "
        "sleep 600"
    )
    deadline = time.monotonic() + 1.5
    deadline_wall = time.time() + (deadline - time.monotonic())
    proc, write = _watched(command, deadline)
    try:
        assert proc.wait(timeout=30) == lease_watchdog.LEASE_EXPIRED_EXIT
        assert b"no longer renewed the run's lease" in proc.stdout.read()
        assert not processes_with(token), "nothing the command started is alive"
        written = [stamped_times(tmp_path / n) for n in "abc"]
        for name, stamps in zip("abc", written, strict=True):
            assert stamps, f"loop {name} ran"
            # The lease itself expires a margin (at least 1 s) after the watchdog's deadline.
            assert max(stamps) < deadline_wall + 1, f"loop {name} wrote after the deadline"
        time.sleep(0.5)
        assert [stamped_times(tmp_path / n) for n in "abc"] == written, "and nothing after"
    finally:
        os.close(write)
        if proc.poll() is None:
            proc.kill()


def test_each_renewal_of_the_lease_extends_a_running_commands_deadline(tmp_path, settings):
    settings.COMMAND_LEASE_SECONDS = 2  # a deadline 1 s after each renewal
    started = time.monotonic()
    proc, write = _watched("sleep 3; echo done", fencing.lease_deadline(started))
    fencing.lease_deadline_subscribe(-7, write, fencing.lease_deadline(started))
    try:
        while proc.poll() is None and time.monotonic() - started < 30:
            fencing.lease_renewed(-7, time.monotonic())
            time.sleep(0.2)
        assert proc.wait(timeout=5) == 0
        assert proc.stdout.read() == b"done\n"
    finally:
        fencing.lease_deadline_unsubscribe(-7, write)
        os.close(write)
    # With no renewal the same command is stopped at its deadline.
    proc, write = _watched("sleep 3; echo done", fencing.lease_deadline(time.monotonic()))
    try:
        assert proc.wait(timeout=30) == lease_watchdog.LEASE_EXPIRED_EXIT
        assert b"done" not in proc.stdout.read()
    finally:
        os.close(write)


def test_a_command_ends_as_soon_as_its_worker_is_gone(tmp_path):
    proc, write = _watched("sleep 600", time.monotonic() + 600)
    os.close(write)  # what the kernel does when the worker process dies
    assert proc.wait(timeout=30) == lease_watchdog.LEASE_EXPIRED_EXIT
