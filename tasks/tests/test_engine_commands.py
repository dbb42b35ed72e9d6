"""run_command for real: process groups, timeouts, stop, a scrubbed environment, stored output."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from command_site.testing import processes_with
from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.commands import OUTPUT_LIMIT
from tasks.engine.controls import run_stop
from tasks.engine.dispatch import run_create
from tasks.models import CommandExecution, StepExecution, TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, verify_step

S = TaskRun.State

STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
token = sys.argv[1]  # in every process's command line, so the test finds them from outside the sandbox
kids = [subprocess.Popen([sys.executable, "-c", child, token]) for _ in range(2)]
# A grandchild in its own session: it escapes the process group, not Command.
kids.append(subprocess.Popen([sys.executable, "-c", child, token], start_new_session=True))
with open("pids.txt", "w") as fh:
    fh.write("\\n".join(str(p) for p in [os.getpid()] + [k.pid for k in kids]))
print("children started", flush=True)
time.sleep(300)
"""


def _run_command_task(owner, folder: Path, command: str, **inputs):
    ws = make_workspace(owner, folder)
    return make_task(
        owner, ws, [step("cmd", ActionType.RUN_COMMAND, "Run it", command=command, **inputs), verify_step()]
    )


def _pids(folder: Path) -> list[int]:
    return [int(p) for p in (folder / "pids.txt").read_text().split()]


def test_command_ignoring_sigterm_is_killed_with_all_children_on_timeout(owner, tmp_path):
    folder = tmp_path / "ws"
    token = f"stubborn-{uuid.uuid4().hex}"
    task = _run_command_task(owner, folder, f"python3 stubborn.py {token}", timeout=2)
    (folder / "stubborn.py").write_text(STUBBORN)
    run = run_create(task=task)
    started = time.monotonic()
    jobs.dispatch_next()
    elapsed = time.monotonic() - started
    run.refresh_from_db()
    pids = _pids(folder)
    assert len(pids) == 4
    assert not processes_with(token), "every process the command started is gone"
    assert elapsed < 15
    execution = CommandExecution.objects.get(run=run, step__step_id="cmd")
    assert execution.timed_out and execution.exit_code is not None
    assert "children started" in execution.output
    assert execution.cwd == str(folder.resolve())
    # run_command is not in RETRY_SAFE_TYPES: no automatic retry, an honest failure.
    assert run.state == S.FAILED
    assert StepExecution.objects.get(run=run, step_id="cmd").error_class == "CommandTimedOut"
    assert run.events.filter(kind="command.finished", title__contains="limit").exists()


@pytest.mark.django_db(transaction=True)
def test_stop_kills_a_running_command_and_its_children(owner, tmp_path):
    folder = tmp_path / "ws"
    token = f"stubborn-{uuid.uuid4().hex}"
    task = _run_command_task(owner, folder, f"python3 stubborn.py {token}", timeout=120)
    (folder / "stubborn.py").write_text(STUBBORN)
    run = run_create(task=task)
    messages = []

    def stopper():
        deadline = time.monotonic() + 30
        while not (folder / "pids.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        messages.append(run_stop(run=TaskRun.objects.get(pk=run.pk)).message)
        messages.append(run_stop(run=TaskRun.objects.get(pk=run.pk)).message)
        connection.close()

    thread = threading.Thread(target=stopper)
    thread.start()
    started = time.monotonic()
    jobs.dispatch_next()
    thread.join()
    run.refresh_from_db()
    assert time.monotonic() - started < 30
    assert run.state == S.CANCELLED
    assert len(_pids(folder)) == 4 and not processes_with(token)
    assert CommandExecution.objects.get(run=run, step__step_id="cmd").stopped
    assert "Stopping" in messages[0] and "already stopping" in messages[1]


def test_command_environment_holds_no_secret(owner, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:db-secret-value@host/db")
    monkeypatch.setenv("REDIS_URL", "redis://:redis-secret-value@host")
    monkeypatch.setenv("COMMAND_SECRET_KEYS", "fernet-secret-value")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("SECRET_KEY", "django-secret-value")
    folder = tmp_path / "ws"
    run = run_create(task=_run_command_task(owner, folder, "env > env.txt; pwd > where.txt"))
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED, run.state_reason
    env = (folder / "env.txt").read_text()
    assert "secret-value" not in env
    for name in ("AWS_", "DATABASE_URL", "REDIS_URL", "COMMAND_", "SECRET_KEY", "API_KEY"):
        assert name not in env
    assert "PATH=" in env
    assert (folder / "where.txt").read_text().strip() == str(folder.resolve())


def test_long_output_is_truncated_with_a_marker_and_streamed_in_batches(owner, tmp_path):
    folder = tmp_path / "ws"
    command = "python3 -c \"import sys\nfor i in range(20000): print('line', i)\""
    run = run_create(task=_run_command_task(owner, folder, command))
    jobs.dispatch_next()
    execution = CommandExecution.objects.get(run=run, step__step_id="cmd")
    assert execution.exit_code == 0 and execution.output_truncated
    assert "output truncated by Command" in execution.output
    assert len(execution.output) < OUTPUT_LIMIT + 200
    assert execution.output.startswith("line 0\n")
    output_events = run.events.filter(kind="command.output").count()
    assert 1 <= output_events < 50


def test_missing_dependency_gets_a_remediation_step_then_one_retry(owner, tmp_path):
    folder = tmp_path / "ws"
    build = "test -f .fixed || { echo 'ModuleNotFoundError: No module named acme'; touch .fixed; exit 1; }"
    task = _run_command_task(owner, folder, build)
    (folder / "requirements.txt").write_text("")
    run = run_create(task=task)
    jobs.dispatch_next()
    run.refresh_from_db()
    kinds = list(run.events.order_by("seq").values_list("kind", flat=True))
    assert kinds.index("step.failed") < kinds.index("remediation.proposed") < kinds.index("step.retry_planned")
    fix = StepExecution.objects.get(run=run, remediation_for="cmd")
    assert fix.status == StepExecution.Status.SUCCEEDED
    assert "requirements.txt" in fix.spec["inputs"]["command"]
    build_step = StepExecution.objects.get(run=run, step_id="cmd")
    assert build_step.attempts == 2 and build_step.status == StepExecution.Status.SUCCEEDED
    assert run.state == S.COMPLETED, run.state_reason


def test_unknown_failure_gets_no_invented_fix(owner, tmp_path):
    folder = tmp_path / "ws"
    run = run_create(task=_run_command_task(owner, folder, "echo 'something odd'; exit 3"))
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.FAILED
    assert not StepExecution.objects.filter(run=run, remediation_for="cmd").exists()
    assert "exited with code 3" in run.state_reason
