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


def _cluster(wrapper_pid: int) -> int:
    """The wrapper's qcluster. The wrapper is a subreaper, so a process orphaned elsewhere in the
    tree can be its child for a moment (it kills such orphans every half second): wait for one."""
    found: list[int] = []

    def one_child() -> bool:
        found[:] = _children(wrapper_pid)
        return len(found) == 1

    wait_for(one_child, timeout=30, message="the wrapper's one qcluster")
    return found[0]


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
            cluster = _cluster(wrapper.pid)
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
            cluster = _cluster(wrapper.pid)
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
            cluster = _cluster(wrapper.pid)
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


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_worker_crash_under_honcho_leaves_the_web_up_and_a_new_worker_takes_over(owner, tmp_path):
    """`make run`: honcho stops every process when one ends. A cluster killed from outside (out of
    memory, kill -9) is replaced by the worker wrapper, so the web keeps answering and the next run
    is done by the new cluster."""
    import httpx

    from command_site.testing import free_port

    Schedule.objects.all().delete()
    port = free_port()
    (tmp_path / "Procfile").write_text(
        f"web: exec {sys.executable} -m http.server {port} --bind 127.0.0.1\n"
        f"worker: exec {sys.executable} -m command_site.worker\n"
    )
    honcho = [sys.executable, "-m", "honcho", "-f", str(tmp_path / "Procfile"), "-d", str(Path.cwd()), "start"]
    with open(tmp_path / "honcho.log", "wb") as out:
        manager = spawn(honcho, env=process_env(**WORKER_ENV), out=out)
        try:

            def clusters():
                return [
                    p for p in _descendants(manager.pid) if "qcluster" in _cmdline(p) and "manage.py" in _cmdline(p)
                ]

            def cluster_leaders():
                return [p for p in clusters() if os.getpgid(p) == p]

            wait_for(lambda: len(cluster_leaders()) == 1, timeout=60, message="the qcluster to start")
            wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200, timeout=30)
            [first] = cluster_leaders()
            time.sleep(2)
            os.killpg(first, signal.SIGKILL)  # the crash
            wait_for(lambda: cluster_leaders() and cluster_leaders() != [first], timeout=30, message="a new qcluster")
            assert manager.poll() is None, (tmp_path / "honcho.log").read_text()[-2000:]
            assert httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200, "the web stayed up"
            run = _long_run(owner, tmp_path / "ws", seconds=0.1, steps=2)
            wait_for(lambda: TaskRun.objects.get(pk=run.pk).state == S.COMPLETED, timeout=60, message="the run")
            assert "Worker stopped unexpectedly (killed by signal 9)" in (tmp_path / "honcho.log").read_text()
        finally:
            stop_process(manager)


def test_a_command_whose_worker_died_dies_with_it(owner, tmp_path):
    """The command a killed worker process was running is stopped at once (it is handed to the
    worker wrapper, which kills its process group), so it cannot write into the folder later."""
    from tasks.models import CommandExecution

    Schedule.objects.all().delete()
    ws = make_workspace(owner, tmp_path / "ws")
    late = tmp_path / "ws" / "late.txt"
    command = "sleep 6.5 && echo late > late.txt"
    run = run_create(task=make_task(owner, ws, [step("c", ActionType.RUN_COMMAND, "Slow command", command=command)]))
    with open(tmp_path / "worker.log", "wb") as out:
        wrapper = spawn(WORKER_COMMAND, env=process_env(**WORKER_ENV), out=out)
        try:
            wait_for(
                lambda: CommandExecution.objects.filter(run=run).exclude(pid=None).exists(),
                timeout=60,
                message="the command to start",
            )
            shell = CommandExecution.objects.get(run=run).pid
            worker = int(Path(f"/proc/{shell}/stat").read_text().split(")")[-1].split()[1])
            assert "qcluster" in _cmdline(worker)
            os.kill(worker, signal.SIGKILL)  # the worker process dies mid-command
            assert wait_for(lambda: _gone(shell), timeout=5, message="the orphaned command to be stopped")
            time.sleep(7)
            assert not late.exists(), "the command of a dead worker wrote into the workspace"
            assert wrapper.poll() is None
            assert "left running by a worker that died" in (tmp_path / "worker.log").read_text()
        finally:
            stop_process(wrapper)
