"""Operator controls (each safe to click twice, each saying what it did) and the approval hook."""

from __future__ import annotations

import pytest

from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.approval import GateDecision, set_approval_gate
from tasks.engine.controls import (
    run_pause,
    run_resume,
    run_resume_after_approval,
    run_retry,
    run_set_priority,
    run_skip_step_after_denial,
    run_stop,
)
from tasks.engine.dispatch import dispatch_claim, run_create
from tasks.engine.executor import run_execute
from tasks.models import StepExecution, TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, test_handlers, verify_step  # noqa: F401

S = TaskRun.State
SE = StepExecution.Status
pytestmark = pytest.mark.usefixtures("test_handlers")


@pytest.fixture
def run(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    return run_create(
        task=make_task(
            owner, ws, [step("a", ActionType.WRITE_FILE), step("b", ActionType.GENERATE_OUTPUT), verify_step()]
        )
    )


@pytest.fixture
def gate():
    yield set_approval_gate
    set_approval_gate(None)


def test_pause_and_resume_a_queued_run_twice(run):
    first, second = run_pause(run=run), run_pause(run=run)
    assert first.changed and "Paused" in first.message
    assert not second.changed and "already paused" in second.message
    assert dispatch_claim(worker_id="w") is None, "a paused run is not dispatched"
    assert run_resume(run=run).changed
    assert not run_resume(run=run).changed
    assert TaskRun.objects.get(pk=run.pk).state == S.QUEUED


def test_pause_of_a_running_run_waits_for_the_step_boundary(run):
    claim = dispatch_claim(worker_id="w")
    outcome = run_pause(run=run)
    assert outcome.changed and "after the current step" in outcome.message
    assert not run_pause(run=run).changed
    assert TaskRun.objects.get(pk=run.pk).state == S.RUNNING
    assert run_execute(claim=claim) == S.PAUSED
    steps = dict(StepExecution.objects.filter(run=run).values_list("step_id", "status"))
    assert steps["a"] == SE.PENDING, "paused before the first step, nothing half-done"
    run_resume(run=run)
    jobs.dispatch_next()
    assert TaskRun.objects.get(pk=run.pk).state == S.COMPLETED


def test_stop_a_queued_run_and_click_again(run):
    assert run_stop(run=run).changed
    again = run_stop(run=run)
    assert not again.changed and "already cancelled" in again.message


def test_retry_makes_one_linked_run_even_when_clicked_twice(run):
    run_stop(run=run)
    first = run_retry(run=run)
    second = run_retry(run=run)
    assert first.changed and first.run.previous_run_id == run.pk
    assert not second.changed and second.run.pk == first.run.pk
    assert not run_retry(run=first.run).changed, "a queued run cannot be retried"


def test_priority_change_moves_a_queued_run(run, owner, tmp_path):
    other = run_create(task=make_task(owner, make_workspace(owner, tmp_path / "o", name="o"), [verify_step()]))
    assert run_set_priority(run=other, priority=5).changed
    assert not run_set_priority(run=other, priority=5).changed
    assert dispatch_claim(worker_id="w").run.pk == other.pk


def test_approval_wait_frees_the_worker_then_resume_runs_the_step(run, gate):
    asked = []

    def policy(ctx):
        asked.append(ctx.step.step_id)
        if ctx.plan_step.action_type == ActionType.WRITE_FILE:
            return GateDecision.wait("Writing files needs your approval.", approval_id="A1")
        return GateDecision.proceed()

    gate(policy)
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.WAITING_APPROVAL and run.worker_id == ""
    assert run.blocking_reason == "waiting for your approval"
    assert StepExecution.objects.get(run=run, step_id="a").status == SE.WAITING_APPROVAL
    assert not run_resume_after_approval(run=run, step_id="b").changed
    assert run_resume_after_approval(run=run, step_id="a", note="Go ahead").changed
    assert not run_resume_after_approval(run=run, step_id="a").changed, "second click changes nothing"
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED, run.state_reason
    assert asked.count("a") == 1, "an approved step is not asked about again"


def test_denied_step_is_skipped_and_its_dependants_too(owner, tmp_path, gate):
    ws = make_workspace(owner, tmp_path / "ws")
    dependant = step("b", ActionType.GENERATE_OUTPUT)
    dependant.depends_on = ["a"]
    run = run_create(task=make_task(owner, ws, [step("a", ActionType.WRITE_FILE), dependant, verify_step()]))
    gate(lambda ctx: GateDecision.wait("ask") if ctx.step.step_id == "a" else GateDecision.proceed())
    jobs.dispatch_next()
    assert run_skip_step_after_denial(run=run, step_id="a", note="Not that file").changed
    jobs.dispatch_next()
    steps = dict(StepExecution.objects.filter(run=run).values_list("step_id", "status"))
    assert steps == {"a": SE.SKIPPED, "b": SE.SKIPPED, "verify": SE.SUCCEEDED}
    run.refresh_from_db()
    # Verification passed; the skipped steps are named, not glossed over.
    assert run.state == S.COMPLETED
    assert "Skipped, and not done: “write_file a”, “generate_output b”" in run.state_reason


def test_a_denied_run_says_you_stopped_it_and_counts_skipped_steps_as_skipped(owner, tmp_path, gate):
    from django.template.loader import render_to_string

    from tasks.selectors.runs import run_status

    ws = make_workspace(owner, tmp_path / "ws")
    check = verify_step()
    check.depends_on = ["a"]
    run = run_create(task=make_task(owner, ws, [step("a", ActionType.RUN_COMMAND, "Run the script"), check]))
    gate(lambda ctx: GateDecision.wait("ask") if ctx.step.step_id == "a" else GateDecision.proceed())
    jobs.dispatch_next()
    assert run_skip_step_after_denial(run=run, step_id="a").changed
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.CANCELLED, run.state_reason
    assert run.state_reason.startswith("Stopped: you denied “Run the script”.")
    assert "Verification did not pass" not in run.state_reason
    html = render_to_string("tasks/partials/run_status.html", {**run_status(run=run), "run": run})
    assert "0 of 2 steps done · 2 skipped" in html
    assert run.attempt > 1 and "Attempt" not in html, "an approval is not a retry"
    assert "Failed" not in html


def test_a_broken_approval_policy_never_lets_the_step_through(run, gate, tmp_path):
    def broken(ctx):
        raise RuntimeError("policy table missing")

    gate(broken)
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.FAILED
    assert "could not check whether" in run.state_reason and "policy table missing" in run.state_reason
    assert not (tmp_path / "ws" / "ledger.txt").exists()


# Real commits: a test-wide transaction would count every earlier job against this one's limit.
@pytest.mark.django_db(transaction=True)
def test_stopping_a_run_that_waits_for_approval_lets_the_next_run_on_its_workspace_start(owner, tmp_path, gate):
    from django_q.models import OrmQ

    from tasks.engine.dispatch import DISPATCH_JOB

    ws = make_workspace(owner, tmp_path / "shared")
    first = run_create(task=make_task(owner, ws, [step("a", ActionType.WRITE_FILE), verify_step()]))
    gate(
        lambda ctx: (
            GateDecision.wait("Writing files needs your approval.", approval_id="A1")
            if ctx.plan_step.action_type == ActionType.WRITE_FILE
            else GateDecision.proceed()
        )
    )
    jobs.dispatch_next()
    assert TaskRun.objects.get(pk=first.pk).state == S.WAITING_APPROVAL
    second = run_create(task=make_task(owner, ws, [step("b", ActionType.WRITE_FILE), verify_step()]))
    assert dispatch_claim(worker_id="w") is None, "the waiting run holds the workspace"
    OrmQ.objects.all().delete()

    assert run_stop(run=first).changed
    dispatches = [row for row in OrmQ.objects.all() if row.task["func"] == DISPATCH_JOB]
    assert dispatches, "the freed workspace is handed on at once, not at the next reaper pass"
    claim = dispatch_claim(worker_id="w")
    assert claim is not None and claim.run.pk == second.pk
