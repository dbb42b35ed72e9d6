"""Operator controls: pause, resume, stop, retry, change priority — and the approvals entry points.

Each is safe to click twice: it returns what it did (or that nothing needed doing) in words the
operator reads back, and never raises for a repeated click. A worker honours pause at the next
step boundary and stop at once (a running command's whole process group is killed).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tasks.engine.dispatch import dispatch_pending, enqueue_dispatch, run_create
from tasks.engine.events import event_emit
from tasks.engine.state import run_transition
from tasks.models import StepExecution, TaskRun

S = TaskRun.State
SE = StepExecution.Status


@dataclass
class ControlOutcome:
    run: TaskRun
    changed: bool
    message: str


def _locked(run: TaskRun) -> TaskRun:
    return TaskRun.objects.select_for_update().get(pk=run.pk)


@transaction.atomic
def run_pause(*, run: TaskRun) -> ControlOutcome:
    """Pause a queued run now, or a running one at its next step boundary."""
    current = _locked(run)
    if current.state == S.PAUSED:
        return ControlOutcome(current, False, f"{run.reference} is already paused.")
    if current.state == S.QUEUED:
        run_transition(
            run=current,
            to=S.PAUSED,
            title=f"{run.reference} paused",
            reason="Paused at your request before it started.",
            blocking_reason="paused by you",
        )
        return ControlOutcome(current, True, f"Paused {run.reference}. It will not start until you resume it.")
    if current.state in TaskRun.LEASED_STATES:
        if current.control_request == "pause":
            return ControlOutcome(
                current, False, f"{run.reference} will pause after the current step; already requested."
            )
        TaskRun.objects.filter(pk=run.pk).update(control_request="pause")
        event_emit(
            run=current,
            kind="run.control",
            phase="run",
            status="info",
            title="Pause requested",
            explanation="Command will pause after the current step finishes, so nothing is left half-done.",
        )
        return ControlOutcome(current, True, f"{run.reference} will pause after the current step.")
    return ControlOutcome(
        current, False, f"{run.reference} is {current.get_state_display().lower()}; there is nothing to pause."
    )


@transaction.atomic
def run_resume(*, run: TaskRun) -> ControlOutcome:
    """Put a paused run back in the queue (it keeps its place by priority and age)."""
    current = _locked(run)
    if current.state in TaskRun.LEASED_STATES and current.control_request == "pause":
        TaskRun.objects.filter(pk=run.pk).update(control_request="")
        event_emit(run=current, kind="run.control", phase="run", status="info", title="Pause cancelled")
        return ControlOutcome(current, True, f"{run.reference} will keep going; the pause was cancelled.")
    if current.state != S.PAUSED:
        return ControlOutcome(current, False, f"{run.reference} is {current.get_state_display().lower()}, not paused.")
    run_transition(
        run=current,
        to=S.QUEUED,
        title=f"{run.reference} resumed",
        reason="Resumed at your request.",
        blocking_reason="",
    )
    enqueue_dispatch()
    return ControlOutcome(current, True, f"Resumed {run.reference}; it is back in the queue.")


@transaction.atomic
def run_stop(*, run: TaskRun, reason: str = "Stopped at your request.") -> ControlOutcome:
    """Stop a run: at once when no worker holds it, else the worker kills any running command
    (its whole process group) and marks the run cancelled. `reason` is why, when the stop is not
    simply the operator's click (a refinement that replaced the plan)."""
    current = _locked(run)
    if current.state in (S.QUEUED, S.PAUSED, S.WAITING_APPROVAL):
        held_workspace = current.state in TaskRun.WORKSPACE_HOLDING_STATES
        StepExecution.objects.filter(run=current, status=SE.WAITING_APPROVAL).update(status=SE.CANCELLED)
        run_transition(run=current, to=S.CANCELLED, title=f"{run.reference} stopped", reason=reason)
        # A stopped run's open questions are closed, so nobody approves a step that will never run.
        from approvals.services import approvals_withdraw_for_run

        approvals_withdraw_for_run(run=current, reason="The run was stopped.")
        if held_workspace and dispatch_pending():
            # A run waiting for approval held its workspace: what queued behind it may start now.
            enqueue_dispatch()
        return ControlOutcome(current, True, f"Stopped {run.reference}. Nothing more will run.")
    if current.state in TaskRun.LEASED_STATES:
        if current.control_request == "stop":
            return ControlOutcome(current, False, f"{run.reference} is already stopping.")
        TaskRun.objects.filter(pk=run.pk).update(control_request="stop")
        event_emit(
            run=current,
            kind="run.control",
            phase="run",
            status="warning",
            title="Stop requested",
            explanation="Any running command is being stopped with everything it started.",
        )
        return ControlOutcome(
            current, True, f"Stopping {run.reference}; a running command is killed with its child processes."
        )
    return ControlOutcome(current, False, f"{run.reference} is already {current.get_state_display().lower()}.")


def run_retry(*, run: TaskRun, priority: int | None = None) -> ControlOutcome:
    """Start a new run linked to a failed, recoverable or cancelled one (the old run is kept).

    A second click returns the retry already made instead of making another.
    """
    with transaction.atomic():
        current = _locked(run)
        existing = current.next_runs.order_by("-created_at").first()
        if existing is not None and existing.state not in TaskRun.TERMINAL_STATES:
            return ControlOutcome(existing, False, f"{existing.reference} is already retrying {run.reference}.")
        if current.state not in (S.FAILED, S.RECOVERABLE, S.CANCELLED):
            return ControlOutcome(
                current,
                False,
                f"{run.reference} is {current.get_state_display().lower()}; "
                "only a finished run that did not complete can be retried.",
            )
        new = run_create(
            task=current.task,
            plan_revision=current.plan_revision,
            priority=current.priority if priority is None else priority,
            previous_run=current,
        )
        event_emit(run=current, kind="run.retried", phase="run", status="info", title=f"Retried as {new.reference}")
    return ControlOutcome(new, True, f"Started {new.reference} as a retry of {run.reference}.")


@transaction.atomic
def run_set_priority(*, run: TaskRun, priority: int) -> ControlOutcome:
    """Change the priority of a queued or paused run (higher runs first)."""
    current = _locked(run)
    if current.priority == priority:
        return ControlOutcome(current, False, f"{run.reference} already has priority {priority}.")
    if current.state not in (S.QUEUED, S.PAUSED):
        return ControlOutcome(
            current,
            False,
            f"{run.reference} is {current.get_state_display().lower()}; priority only matters while it waits.",
        )
    TaskRun.objects.filter(pk=run.pk).update(priority=priority, updated_at=timezone.now())
    current.priority = priority
    event_emit(run=current, kind="run.control", phase="queue", status="info", title=f"Priority set to {priority}")
    return ControlOutcome(current, True, f"{run.reference} now has priority {priority}.")


@transaction.atomic
def run_resume_after_approval(*, run: TaskRun, step_id: str, note: str = "", approval_id: str = "") -> ControlOutcome:
    """The approvals app's entry point after "allow": the waiting step may run; the run re-queues.

    With `approval_id` (the request that was allowed) the executor asks the gate once more right
    before the step runs, so an action that changed since it was approved asks again.
    A second call (or a call for a step that is not waiting) changes nothing.
    """
    current = _locked(run)
    step = StepExecution.objects.filter(run=current, step_id=step_id).first()
    if current.state != S.WAITING_APPROVAL or step is None or step.status != SE.WAITING_APPROVAL:
        return ControlOutcome(current, False, f"{run.reference} is not waiting for approval of that step.")
    approval = {"granted": True, "note": note, "at": timezone.now().isoformat()}
    if approval_id:
        approval["approval_id"] = approval_id
    result = {**(step.result or {}), "approval": approval}
    StepExecution.objects.filter(pk=step.pk).update(status=SE.PENDING, result=result)
    run_transition(
        run=current,
        to=S.QUEUED,
        title=f"Approved: “{step.title}”",
        reason=note or "You approved the step; the run continues.",
        blocking_reason="",
    )
    enqueue_dispatch()
    return ControlOutcome(current, True, f"Approved. {run.reference} continues with “{step.title}”.")


@transaction.atomic
def run_skip_step_after_denial(*, run: TaskRun, step_id: str, note: str = "") -> ControlOutcome:
    """The approvals app's entry point after "deny": the step is skipped (and steps depending on
    it will be too); the run re-queues. A skipped verification means the run cannot complete."""
    current = _locked(run)
    step = StepExecution.objects.filter(run=current, step_id=step_id).first()
    if current.state != S.WAITING_APPROVAL or step is None or step.status != SE.WAITING_APPROVAL:
        return ControlOutcome(current, False, f"{run.reference} is not waiting for approval of that step.")
    StepExecution.objects.filter(pk=step.pk).update(
        status=SE.SKIPPED,
        finished_at=timezone.now(),
        result={**(step.result or {}), "approval": {"granted": False, "note": note}},
    )
    event_emit(
        run=current,
        kind="step.skipped",
        phase="approve",
        status="muted",
        step_id=step.step_id,
        title=f"Skipped “{step.title}”",
        explanation=note or "You denied this step.",
    )
    run_transition(
        run=current,
        to=S.QUEUED,
        title=f"{run.reference} continues without “{step.title}”",
        reason=note or "You denied the step.",
        blocking_reason="",
    )
    enqueue_dispatch()
    return ControlOutcome(current, True, f"Skipped “{step.title}”. {run.reference} continues without it.")


@transaction.atomic
def run_ask_again_after_refinement(*, run: TaskRun, step_id: str, note: str) -> ControlOutcome:
    """After a refinement that could not change the plan: the run re-queues and the approval gate
    asks about the same step again, with `note` (what could not be changed) in the workstream."""
    current = _locked(run)
    step = StepExecution.objects.filter(run=current, step_id=step_id).first()
    if current.state != S.WAITING_APPROVAL or step is None or step.status != SE.WAITING_APPROVAL:
        return ControlOutcome(current, False, f"{run.reference} is not waiting for approval of that step.")
    StepExecution.objects.filter(pk=step.pk).update(status=SE.PENDING)
    event_emit(
        run=current,
        kind="plan.unchanged",
        phase="plan",
        status="warning",
        step_id=step.step_id,
        title="Your refinement could not change the plan",
        explanation=note,
    )
    run_transition(
        run=current,
        to=S.QUEUED,
        title=f"Asking again about “{step.title}”",
        reason=f"{note} Command asks you about “{step.title}” again.",
        blocking_reason="",
    )
    enqueue_dispatch()
    return ControlOutcome(current, True, f"The plan is unchanged; {run.reference} asks about “{step.title}” again.")
