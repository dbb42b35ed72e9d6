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
    """Re-plan with the operator's refinement and continue in a new run linked to this one.

    The stopped run keeps its history; the new run starts from the new plan revision, so any
    step that is still risky is asked about again (its action hash is new).
    """
    from tasks.engine import controls
    from tasks.engine.dispatch import run_create
    from tasks.engine.events import event_emit
    from tasks.planning import plan_refine

    revision = plan_refine(task=run.task, refinement=text, step_id=step_id)
    event_emit(
        run=run,
        kind="plan.revised",
        phase="plan",
        status="info",
        title=f"Plan revised (revision {revision.number}) after your refinement",
        explanation=revision.change_note,
        step_id=step_id,
        payload={"revision": revision.number},
    )
    controls.run_stop(run=run)
    return run_create(task=run.task, plan_revision=revision, previous_run=run)
