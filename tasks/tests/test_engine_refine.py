"""Refine at an approval (tasks.engine.capabilities.approval_steps): the planner that made the plan
plans again with the operator's words, and the run says honestly what that changed — never
"Stopped at your request" for a refinement, and never an HTTP 500 for a provider's plan."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_q.models import OrmQ

from approvals.models import ApprovalRequest
from approvals.policy import facts_for_step
from approvals.services import approval_gate_check
from providers.contracts import Plan, PlanStep
from tasks import jobs
from tasks.engine.approval import GateDecision, set_approval_gate
from tasks.engine.capabilities.approval_steps import run_replan_after_refinement
from tasks.engine.dispatch import run_create
from tasks.models import PlanRevision, StepExecution, Task, TaskRun, WorkstreamEvent
from tasks.planning import task_understand
from tasks.services import task_submit
from tasks.tests.engine_support import make_workspace

S = TaskRun.State
SE = StepExecution.Status


@pytest.fixture
def gate():
    set_approval_gate(
        lambda ctx: GateDecision.wait("ask") if ctx.step.action_type == "generate_output" else GateDecision.proceed()
    )
    yield
    set_approval_gate(None)


def _waiting_run(owner, prompt="a landing page for Acme"):
    task = task_submit(owner=owner, prompt=prompt)
    task_understand(task=task)
    run = run_create(task=task)
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.WAITING_APPROVAL
    step = StepExecution.objects.get(run=run, status=SE.WAITING_APPROVAL)
    return task, run, step


def test_a_refinement_the_built_in_planner_cannot_follow_says_so_and_asks_again(owner, gate):
    task, run, step = _waiting_run(owner)
    assert run_replan_after_refinement(run=run, step_id=step.step_id, text="use fewer, punchier words") is None
    run.refresh_from_db()
    assert run.state != S.CANCELLED and "Stopped at your request" not in run.state_reason
    assert task.plan_revisions.count() == 1, "nothing changed, so no new revision claims it did"
    row = WorkstreamEvent.objects.filter(run=run, kind="plan.unchanged").get()
    assert "could not act on “use fewer, punchier words”" in row.explanation
    assert "formats, themes, colours" in row.explanation
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.WAITING_APPROVAL and StepExecution.objects.get(pk=step.pk).status == SE.WAITING_APPROVAL


def test_a_refinement_that_changes_the_plan_continues_in_a_new_run_and_says_why_this_one_stopped(owner, gate):
    task, run, step = _waiting_run(owner)
    new = run_replan_after_refinement(run=run, step_id=step.step_id, text="and a pdf proposal too")
    run.refresh_from_db()
    assert run.state == S.CANCELLED
    assert run.state_reason == "Stopped: you refined the plan; a new run continues with revision 2."
    assert new.previous_run_id == run.pk and new.plan_revision.number == 2
    assert "Now making Proposal" in new.plan_revision.change_note
    assert "anything else in your words was not applied" in new.plan_revision.change_note


def test_refining_a_step_a_provider_planned_goes_back_to_that_provider(
    owner, owner_client, settings, tmp_path, django_capture_on_commit_callbacks
):
    from providers.services import provider_connection_create
    from providers.tests.provider_server import ProviderServer

    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    with ProviderServer() as server:
        connection = provider_connection_create(
            owner=owner, kind="openai_compatible", label="T", base_url=server.url + "/v1", model="gpt-x", api_key="k"
        )
    ws = make_workspace(owner, tmp_path / "shop")
    task = task_submit(owner=owner, prompt="refactor the payment module", mode=Task.Mode.EDIT, workspace=ws)
    edit = PlanStep.model_validate(
        {
            "id": "e1",
            "title": "Delete payment.py",
            "action_type": "delete_file",
            "inputs": {"path": "payment.py"},
            "explanation": {"what": "Edit it.", "why": "Asked.", "expect_next": "A diff."},
        }
    )
    revision = PlanRevision.objects.create(
        task=task, number=1, planner=connection.planner_label, plan=Plan(steps=[edit]).model_dump(mode="json")
    )
    run = run_create(task=task, plan_revision=revision)
    OrmQ.objects.all().delete()
    step = StepExecution.objects.get(run=run)
    TaskRun.objects.filter(pk=run.pk).update(state=S.WAITING_APPROVAL)
    StepExecution.objects.filter(pk=step.pk).update(status=SE.WAITING_APPROVAL)
    request = approval_gate_check(run=run, step_execution=step, plan_step=edit, facts=facts_for_step(edit)).request
    assert request is not None and request.status == ApprovalRequest.Status.PENDING

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("approvals:decide", args=[request.pk]),
            {"decision": "refine", "action_hash": request.action_hash, "refine_text": "only touch the refund path"},
        )
    assert response.status_code in (200, 302)
    run.refresh_from_db()
    task.refresh_from_db()
    assert run.state == S.CANCELLED and run.state_reason.startswith("Stopped: you refined the plan.")
    assert connection.planner_label in run.state_reason
    assert task.status == Task.Status.UNDERSTANDING
    assert task.context["provider_pending"]["refinement"] == "only touch the refund path"
    [queued] = OrmQ.objects.all()
    assert queued.task["func"] == "tasks.jobs.understand_with_provider"
    assert task.plan_revisions.count() == 1, "the built-in planner did not overwrite the provider's plan"
