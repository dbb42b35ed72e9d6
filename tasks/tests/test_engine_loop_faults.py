"""A real worker process killed (SIGKILL) after a model turn's reply was stored: the turn is not
asked for again, however the run is recovered."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from command_site.testing import wait_for, worker_process
from providers.tests.scripted_model import Conversation, call, reply
from tasks.engine.recovery import run_recover
from tasks.models import ModelTurn, StepExecution, TaskRun
from tasks.tests.loop_support import assert_audit_clean, drain, loop_run, run_story

S = TaskRun.State
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_killed_after_the_reply_was_stored_never_asks_for_that_turn_again(scripted_model, owner, tmp_path):
    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("list_files"))
        return reply(call("finish", summary="Looked; nothing to change."))

    model = scripted_model("anthropic", script)
    run = loop_run(owner, tmp_path / "ws", model, check="true", prompt="look around", files={"a.txt": "a"})
    marker = tmp_path / "stalled.txt"
    env = {
        "COMMAND_Q_POLL": "0.1",
        "COMMAND_WORKERS": "1",
        "COMMAND_ALLOW_LOCAL_PROVIDERS": "true",
        "COMMAND_HANDLER_MODULES": "tasks.tests.loop_worker_faults",
        "COMMAND_TEST_STALL_MARKER": str(marker),
    }
    with worker_process(tmp_path / "worker.log", **env) as worker:
        wait_for(marker.exists, timeout=60, message="the worker to store turn 1's reply and stall")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert ModelTurn.objects.filter(run=run, number=1).exists() and model.count == 1
    assert StepExecution.objects.get(run=run, step_id="turn-1").status == "running"
    recovery = run_recover(run_id=run.pk, now=timezone.now() + timedelta(hours=1))
    assert recovery.outcome == "resumed", recovery.reason
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    assert model.count == 2, "turn 1 was asked for once, by the worker that was killed"
    assert [len(c.messages) for c in model.conversations] == [1, 3]
    assert_audit_clean()


def test_a_worker_killed_mid_command_puts_the_folder_back_and_the_model_is_told(scripted_model, owner, tmp_path):
    """A real worker SIGKILLed while the model's command is writing into the folder: recovery stops
    the command, puts the folder back from the pre-command point's stored copies (saying what it
    cannot undo), the model reads that in its next turn, and the run goes on to complete."""
    from tasks.engine.commands import _alive
    from tasks.models import CommandExecution, ModelToolCall

    folder = tmp_path / "ws"
    command = "echo broken > a.txt && echo half > half.txt && sleep 600"

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("run_command", command=command))
        return reply(call("finish", summary="The command was interrupted and the folder is back; done."))

    model = scripted_model("openai", script)
    run = loop_run(owner, folder, model, check='test "$(cat a.txt)" = a', prompt="run it", files={"a.txt": "a\n"})
    env = {
        "COMMAND_Q_POLL": "0.1",
        "COMMAND_WORKERS": "1",
        "COMMAND_ALLOW_LOCAL_PROVIDERS": "true",
        "COMMAND_HANDLER_MODULES": "tasks.tests.loop_worker_faults",
    }
    with worker_process(tmp_path / "worker.log", **env) as worker:
        wait_for(lambda: (folder / "half.txt").exists(), timeout=60, message="the command to write into the folder")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert (folder / "a.txt").read_text() == "broken\n"
    step = StepExecution.objects.get(run=run, action_type="run_command")
    assert step.status == "running"

    recovery = run_recover(run_id=run.pk, now=timezone.now() + timedelta(hours=1))
    assert recovery.outcome == "resumed", recovery.reason
    execution = CommandExecution.objects.get(run=run, step=step)
    assert execution.pid and not _alive(execution.pid), "the command is not left writing into the folder"
    assert (folder / "a.txt").read_text() == "a\n" and not (folder / "half.txt").exists()
    assert "Put back from the copies stored before it: a.txt." in recovery.reason
    assert "Removed what it had created: half.txt." in recovery.reason
    assert "outside this folder" in recovery.reason  # what is not restored is said, not claimed

    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    assert model.count == 2, "the command was not run again; the model was asked once more"
    told = model.conversations[1].messages[-1]["content"]
    assert "The command was interrupted" in told and "a.txt" in told and "half.txt" in told, told
    call_ = ModelToolCall.objects.get(step=step)
    assert call_.is_error and "not run again" in call_.observation
    assert StepExecution.objects.get(pk=step.pk).status == "fed_back"
    assert_audit_clean()
