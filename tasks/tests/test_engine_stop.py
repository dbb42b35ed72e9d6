"""Stopping the worker: `python -m command_site.worker` under the signals process managers send.

Real processes on the test database: the wrapper, its qcluster and the engine's test handlers.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from django_q.models import Schedule

from command_site.testing import process_env, spawn, stop_process, wait_for, worker_process
from providers.contracts import ActionType
from tasks.engine.dispatch import run_create
from tasks.models import StepExecution, TaskRun
from tasks.tests.engine_support import WORKER_ENV, make_task, make_workspace, step, verify_step

S = TaskRun.State
WORKER_COMMAND = [sys.executable, "-m", "command_site.worker"]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie has exited; only its parent has not collected it yet.
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


def _long_run(owner, folder: Path, seconds: float = 0.6, steps: int = 6) -> TaskRun:
    plan = [step(f"s{i}", ActionType.GENERATE_OUTPUT, f"Part {i + 1}", sleep=seconds) for i in range(steps)]
    return run_create(task=make_task(owner, make_workspace(owner, folder), [*plan, verify_step()]))


def _started(run: TaskRun):
    return lambda: StepExecution.objects.filter(run=run, step_id="s0", status="succeeded").exists()


def _events_whole(run: TaskRun) -> None:
    seqs = list(run.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_sigterm_to_the_whole_group_stops_cleanly_and_the_run_continues_later(owner, tmp_path):
    """What honcho (`make run`), systemd and a terminal do: the signal reaches every process of the
    group. The run under way goes back to the queue between steps and the worker exits; the next
    worker finishes the run from where it stopped."""
    Schedule.objects.all().delete()
    run = _long_run(owner, tmp_path / "ws")
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        wrapper = spawn(WORKER_COMMAND, env=process_env(**WORKER_ENV), out=out)
        try:
            wait_for(_started(run), timeout=60, message="the run's first step")
            [cluster] = _children(wrapper.pid)
            os.killpg(wrapper.pid, signal.SIGTERM)
            assert wrapper.wait(timeout=20) == 0, log.read_text()[-2000:]
            wait_for(lambda: _gone(cluster), timeout=10, message="the qcluster to exit")
        finally:
            stop_process(wrapper)
    run.refresh_from_db()
    assert (run.state, run.blocking_reason) == (S.QUEUED, "waiting for a worker")
    stopped = run.events.get(title__contains="the worker is stopping")
    assert "nothing half-done" in stopped.explanation
    statuses = list(StepExecution.objects.filter(run=run).order_by("position").values_list("status", flat=True))
    assert "running" not in statuses and statuses[0] == "succeeded" and statuses[-1] == "pending"
    done_before = statuses.count("succeeded")
    assert "Worker stopping" in log.read_text()

    with worker_process(tmp_path / "worker2.log", **WORKER_ENV):
        wait_for(lambda: TaskRun.objects.get(pk=run.pk).state == S.COMPLETED, timeout=60, message="the run to finish")
    run.refresh_from_db()
    assert run.attempt == 2
    # Steps done before the stop were not done again.
    again = StepExecution.objects.filter(run=run, status="succeeded", attempts__gt=1).count()
    assert again == 0 and done_before >= 1
    _events_whole(run)


def test_a_second_signal_stops_at_once(owner, tmp_path):
    Schedule.objects.all().delete()
    run = _long_run(owner, tmp_path / "ws", seconds=20, steps=2)
    with open(tmp_path / "worker.log", "wb") as out:
        wrapper = spawn(WORKER_COMMAND, env=process_env(**WORKER_ENV), out=out)
        try:
            wait_for(lambda: TaskRun.objects.get(pk=run.pk).state == S.RUNNING, timeout=60, message="the run")
            [cluster] = _children(wrapper.pid)
            wrapper.send_signal(signal.SIGINT)
            time.sleep(0.5)
            assert wrapper.poll() is None, "the first Ctrl-C waits for the step (20 s) to end"
            started = time.monotonic()
            wrapper.send_signal(signal.SIGINT)
            assert wrapper.wait(timeout=10) == 128 + signal.SIGKILL
            assert time.monotonic() - started < 5
            assert _gone(cluster)
        finally:
            stop_process(wrapper)
    run.refresh_from_db()
    assert run.state == S.RUNNING, "left leased: the next worker's reaper recovers it, as after a crash"


def test_a_killed_wrapper_takes_its_cluster_with_it(tmp_path):
    with open(tmp_path / "worker.log", "wb") as out:
        wrapper = spawn(WORKER_COMMAND, env=process_env(**WORKER_ENV), out=out)
        try:
            wait_for(lambda: _children(wrapper.pid), timeout=30, message="the qcluster to start")
            [cluster] = _children(wrapper.pid)
            time.sleep(2)  # let it finish starting
            wrapper.kill()  # only the wrapper: SIGKILL cannot be forwarded
            wrapper.wait(timeout=5)
            assert wait_for(lambda: _gone(cluster), timeout=20, message="the orphaned qcluster to stop")
        finally:
            stop_process(wrapper)


def test_the_default_worker_runs_two_workspaces_at_the_same_time(owner, tmp_path, monkeypatch):
    """`make run` starts the worker without COMMAND_WORKERS: a long run on one workspace does not
    hold back a run on another (the default is sized to the machine, at least 2)."""
    monkeypatch.delenv("COMMAND_WORKERS", raising=False)
    first = _long_run(owner, tmp_path / "a", seconds=0.8, steps=4)
    second = _long_run(owner, tmp_path / "b", seconds=0.8, steps=4)
    Schedule.objects.all().delete()
    wrapper = spawn(WORKER_COMMAND, env=process_env(**WORKER_ENV), out=open(tmp_path / "worker.log", "wb"))  # noqa: SIM115
    try:
        wait_for(
            lambda: TaskRun.objects.filter(pk__in=[first.pk, second.pk], state=S.COMPLETED).count() == 2,
            timeout=90,
            message="both runs to complete",
        )
    finally:
        stop_process(wrapper)
    a, b = (TaskRun.objects.get(pk=r.pk) for r in (first, second))
    assert a.started_at < b.finished_at and b.started_at < a.finished_at, "the two runs did not overlap"
