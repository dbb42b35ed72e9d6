"""Approvals plugged into the engine: the risk gate before each step, and the operator's decisions.

allow → the waiting step runs; deny → it is skipped (and what depends on it); refine → the
planner reads the request again with the operator's words, a new plan revision records what
changed, and a new run (linked to this one) asks again about anything still risky — except for a
step a model asked for in a model-driven run: it is skipped and the words go to that model, which
proposes again in its next turn; an expired request pauses the run, saying why.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def connect() -> None:
    from approvals.services import approval_gate_for_engine
    from approvals.signals import approval_decided
    from tasks.engine.approval import set_approval_gate

    set_approval_gate(approval_gate_for_engine)
    approval_decided.connect(on_approval_decided, dispatch_uid="tasks-engine-approval-decided")


def on_approval_decided(sender, *, request_id, run_id, status, refine_text="", **kwargs) -> None:
    from approvals.models import ApprovalRequest
    from tasks.engine import controls
    from tasks.models import TaskRun

    request = ApprovalRequest.objects.filter(pk=request_id).first()
    run = TaskRun.objects.filter(pk=run_id).first()
    if request is None or run is None:
        return
    if status == ApprovalRequest.Status.ALLOWED:
        # recheck: before the step runs, the gate confirms the action is still the one approved (a file
        # that changed in between asks again with its new diff instead of applying a stale approval).
        controls.run_resume_after_approval(
            run=run, step_id=request.step_id, note=request.decision_note, approval_id=str(request.pk)
        )
    elif status == ApprovalRequest.Status.DENIED:
        note = "You denied this step" + (f": {request.decision_note}" if request.decision_note else ".")
        _skip(run, request.step_id, note)
    elif status == ApprovalRequest.Status.REFINED:
        text = refine_text or request.decision_note
        if _asked_for_by_a_model(run, request.step_id):
            # The model that proposed the step reads the person's words next turn and proposes again.
            _skip(run, request.step_id, f"You asked for something different instead: {text}")
        else:
            run_replan_after_refinement(run=run, step_id=request.step_id, text=text)
    elif status == ApprovalRequest.Status.EXPIRED:
        controls.run_pause(run=run)


@transaction.atomic
def _skip(run, step_id: str, note: str) -> None:
    """Skip the denied step; a check a model's finish led to goes back to that model instead (in the
    same transaction, so no worker sees the run without its next turn)."""
    from tasks.engine import controls
    from tasks.engine.loop.turns import check_denied

    outcome = controls.run_skip_step_after_denial(run=run, step_id=step_id, note=note)
    if outcome.changed and _asked_for_by_a_model(run, step_id):
        check_denied(run=run, step_id=step_id)


def _asked_for_by_a_model(run, step_id: str) -> bool:
    from tasks.engine.loop.observations import step_for_model
    from tasks.models import StepExecution

    step = StepExecution.objects.filter(run=run, step_id=step_id).first()
    return step is not None and step_for_model(step)


@transaction.atomic
def run_replan_after_refinement(*, run, step_id: str, text: str):
    """Plan again with the operator's refinement (tasks.planning.plan_refine), and say what it did.

    The plan changed → this run stops ("Stopped: you refined …") and a new run linked to it starts
    from the new revision, so any step still risky is asked about again (its action hash is new).
    The plan was a provider's → this run stops and that provider plans again; its plan starts a new
    run. Nothing could change (the built-in planner cannot follow the words) or the planner is
    gone → the run stays, and Command asks about the same step again, saying why. Returns the new
    run, or None.
    """
    from tasks.engine import controls
    from tasks.engine.dispatch import run_create
    from tasks.engine.events import event_emit
    from tasks.models import Task
    from tasks.planning import PlanningRefused, plan_refine

    try:
        refined = plan_refine(task=run.task, refinement=text, step_id=step_id)
    except PlanningRefused as exc:
        controls.run_ask_again_after_refinement(run=run, step_id=step_id, note=str(exc))
        return None
    if refined.revision is None and not refined.provider:
        controls.run_ask_again_after_refinement(run=run, step_id=step_id, note=refined.note)
        return None
    event_emit(
        run=run,
        kind="plan.revised",
        phase="plan",
        status="info",
        title=(
            f"Plan revised (revision {refined.revision.number}) after your refinement"
            if refined.revision
            else f"{refined.provider} is planning again with your refinement"
        ),
        explanation=refined.note,
        step_id=step_id,
        payload={"revision": refined.revision.number} if refined.revision else {},
    )
    if refined.revision is None:
        controls.run_stop(run=run, reason=f"Stopped: you refined the plan. {refined.note} Its plan starts a new run.")
        # The run's stop says "cancelled" on the task; the task is being planned again.
        Task.objects.filter(pk=run.task_id).update(status=Task.Status.UNDERSTANDING)
        return None
    controls.run_stop(
        run=run, reason=f"Stopped: you refined the plan; a new run continues with revision {refined.revision.number}."
    )
    return run_create(task=run.task, plan_revision=refined.revision, previous_run=run)
