"""A run from queue to completed (or an honest failure), executed in-process by the real engine."""

from __future__ import annotations

import pytest
from django_q.models import OrmQ, Schedule

from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.dispatch import dispatch_claim, run_create
from tasks.engine.executor import run_execute
from tasks.models import StepExecution, Task, TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, test_handlers, verify_step  # noqa: F401

S = TaskRun.State


def _events(run):
    return list(run.events.order_by("seq").values_list("seq", "kind", "title"))


@pytest.mark.usefixtures("test_handlers")
def test_run_completes_only_after_verification(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "site")
    task = make_task(
        owner, ws, [step("write", ActionType.WRITE_FILE, path="ledger.txt"), verify_step(command="test -s ledger.txt")]
    )
    run = run_create(task=task)
    assert run.state == S.QUEUED
    assert OrmQ.objects.exists(), "the dispatch job is enqueued in the same transaction"
    assert Schedule.objects.filter(func="tasks.jobs.recover_runs").count() == 1

    result = jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED, (result, run.state_reason, _events(run))
    assert (tmp_path / "site" / "ledger.txt").read_text().count("attempt=1") == 1
    seqs = [e[0] for e in _events(run)]
    assert seqs == list(range(1, len(seqs) + 1))
    kinds = [e[1] for e in _events(run)]
    assert kinds[0] == "run.queued" and kinds[-1] == "run.state"
    verify = StepExecution.objects.get(run=run, step_id="verify")
    assert verify.result["report"]["exit_code"] == 0
    assert verify.commands.get().exit_code == 0
    assert Task.objects.get(pk=task.pk).status == Task.Status.COMPLETED


@pytest.mark.usefixtures("test_handlers")
def test_failed_verification_fails_the_run(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "site")
    task = make_task(owner, ws, [step("write", ActionType.WRITE_FILE), verify_step(command="test -e missing.html")])
    run = run_create(task=task)
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.FAILED
    assert "Verification failed" in run.state_reason
    assert not run.events.filter(title__icontains="completed").exists()


@pytest.mark.usefixtures("test_handlers")
def test_plan_without_verification_is_never_completed(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "site")
    run = run_create(task=make_task(owner, ws, [step("write", ActionType.WRITE_FILE)]))
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.FAILED
    assert "no verification step" in run.state_reason


def test_a_step_this_build_cannot_do_fails_at_once_and_says_so(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "site")
    gen = step("gen", ActionType.GENERATE_OUTPUT, "Rewrite the app", category="project_edit")
    gen.inputs["title"] = "Rewrite the app"
    run = run_create(task=make_task(owner, ws, [gen, verify_step()]))
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.FAILED
    gen = StepExecution.objects.get(run=run, step_id="gen")
    assert gen.attempts == 1 and gen.error_class == "GenerationError"
    assert "no generator" in run.state_reason


@pytest.mark.usefixtures("test_handlers")
def test_duplicate_delivery_of_a_leased_run_is_a_noop(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "site")
    run = run_create(task=make_task(owner, ws, [step("write", ActionType.WRITE_FILE), verify_step()]))
    claim = dispatch_claim(worker_id="w1")
    assert claim is not None and claim.run.pk == run.pk
    assert "no-op" in jobs.run_execute(run.pk)
    assert dispatch_claim(worker_id="w2") is None
    run.refresh_from_db()
    assert (run.attempt, run.worker_id) == (1, "w1")
    assert run_execute(claim=claim) == S.COMPLETED


@pytest.mark.usefixtures("test_handlers")
def test_a_long_run_hands_itself_back_between_steps(owner, tmp_path, settings):
    settings.Q_TIMEOUT = 0  # every step boundary is past the job's budget
    ws = make_workspace(owner, tmp_path / "site")
    task = make_task(
        owner, ws, [step("a", ActionType.GENERATE_OUTPUT), step("b", ActionType.GENERATE_OUTPUT), verify_step()]
    )
    run = run_create(task=task)
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.QUEUED and run.blocking_reason == "continuing shortly"
    assert list(StepExecution.objects.filter(run=run).values_list("status", flat=True)) == [
        "succeeded",
        "pending",
        "pending",
    ]
    for _ in range(3):
        jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED and run.attempt == 3


def test_a_command_only_plan_completes_on_exit_code_zero(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "site")
    (tmp_path / "site" / "sub").mkdir()
    task = make_task(owner, ws, [step("c1", ActionType.RUN_COMMAND, command="pwd > where.txt", cwd="sub")])
    run = run_create(task=task)
    assert "Every command must exit with code 0" in run.events.get(seq=1).explanation
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED, run.state_reason
    assert (tmp_path / "site" / "sub" / "where.txt").read_text().strip() == str((tmp_path / "site" / "sub").resolve())


@pytest.mark.usefixtures("test_handlers")
def test_a_self_checking_run_passes_through_verifying_with_an_event_for_each_state(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "site")
    run = run_create(task=make_task(owner, ws, [step("c1", ActionType.RUN_COMMAND, command="true")]))
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED, run.state_reason
    events = list(run.events.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1)) and run.event_seq == len(events)
    moves = [(e.payload["from"], e.payload["to"]) for e in events if e.kind == "run.state"]
    assert moves == [(S.QUEUED, S.RUNNING), (S.RUNNING, S.VERIFYING), (S.VERIFYING, S.COMPLETED)]
    checking, completed = events[-2:]
    assert checking.title == "Checking the verification gate" and checking.status == "info"
    assert completed.title == f"{run.reference} completed" and completed.status == "success"
    assert run.task.status == Task.Status.COMPLETED and run.finished_at is not None


def test_a_command_cannot_leave_the_workspace_through_cwd(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "site")
    run = run_create(task=make_task(owner, ws, [step("c1", ActionType.RUN_COMMAND, command="touch x", cwd="../")]))
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.FAILED and "outside the workspace" in run.state_reason
    assert not (tmp_path / "x").exists()
