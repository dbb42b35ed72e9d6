"""The reaper: turns runs whose worker stopped answering into an honest state.

A run whose lease expired is either resumed from its last safe point — the interrupted step is
known to be safe to repeat (its handler is idempotent by the step's key), had not started, or
was put back by its restorer (a file step from its pre-edit rollback point, a command from its
pre-command point) — or marked `recoverable` with the reason. Before that, a superseded worker
on this host is stopped (identified by pid and start time), and so is a command it left running
(elsewhere its lease watchdog has stopped it before the lease expired:
command_site.lease_watchdog); revoking the lease clears the worker
id, so a worker elsewhere that wakes up later is fenced out of every write, files included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tasks.engine.commands import command_orphans_stop, command_unfinished_close
from tasks.engine.dispatch import enqueue_dispatch
from tasks.engine.fencing import superseded_worker_stop, worker_host
from tasks.engine.retry import is_safe_to_repeat
from tasks.engine.state import run_transition
from tasks.models import StepExecution, TaskRun

logger = logging.getLogger(__name__)
S = TaskRun.State
SE = StepExecution.Status


@dataclass(frozen=True)
class Restoration:
    """What a restorer did for an interrupted step: `restored` only when the workspace is back
    at the state from before the step (e.g. its pre-command rollback point was reverted)."""

    restored: bool
    description: str
    # The folder's files were put back from stored bytes, though the point does not cover
    # everything (a command's effects outside the folder): a model-driven run goes on, telling
    # the model exactly that, instead of waiting for the person.
    folder_put_back: bool = False


Restorer = Callable[..., Restoration]
_RESTORERS: dict[str, Restorer] = {}


def register_restorer(action_type: str) -> Callable[[Restorer], Restorer]:
    """Register `fn(*, run, step) -> Restoration` for interrupted steps of `action_type` that are
    not safe to repeat as they are (e.g. the workspaces app reverting a pre-command rollback point).
    """

    def decorator(fn: Restorer) -> Restorer:
        _RESTORERS[str(action_type)] = fn
        return fn

    return decorator


@dataclass
class Recovery:
    run: TaskRun
    outcome: str  # "resumed" | "recoverable" | "cancelled" | "skipped"
    reason: str


def runs_with_expired_leases(now=None):
    now = now or timezone.now()
    return TaskRun.objects.filter(state__in=TaskRun.LEASED_STATES, lease_expires_at__lt=now)


def run_recover(*, run_id: int, now=None) -> Recovery:
    """Recover one run whose lease expired; a run whose lease is still valid is left alone.

    Promises: the old lease is revoked before anything else (so the old worker can write
    nothing more); the interrupted step is repeated only when that cannot apply it twice;
    recoveries are bounded by MAX_RETRIES so a step that kills its worker every time ends
    `recoverable` instead of looping; one event explains the outcome.
    """
    now = now or timezone.now()
    with transaction.atomic():
        run = TaskRun.objects.select_for_update().get(pk=run_id)
        if run.state not in TaskRun.LEASED_STATES or not run.lease_expires_at or run.lease_expires_at >= now:
            return Recovery(run, "skipped", "The run's lease is still valid or it is not running.")
        silent_for = int((now - (run.heartbeat_at or run.lease_expires_at)).total_seconds())
        lost = f"The worker running {run.reference} (attempt {run.attempt}) stopped answering {silent_for} s ago."
        interrupted = StepExecution.objects.filter(run=run, status=SE.RUNNING).order_by("position").first()
        # On this host the superseded worker is made to be gone before anything is put back or
        # resumed; elsewhere the write fence refuses its late writes (tasks.engine.fencing).
        gone, how = superseded_worker_stop(worker_id=run.worker_id)
        if not gone and run.worker_id.split(":", 1)[0] == worker_host():
            reason = f"{lost} {how} Command resumes a run only once its previous worker is gone."
            return _recoverable(run, interrupted, reason, now)
        lost += f" {how}"
        # A command runs in its own session, so it outlives a killed worker: stop it first.
        orphans = command_orphans_stop(run=run, worker_host=run.worker_id.split(":", 1)[0])
        if orphans:
            named = ", ".join(f"`{c.command}`" for c in orphans)
            lost += f" Its command {named} was still running and has been stopped with everything it started."
        # Elsewhere (or already dead here): its lease watchdog stopped it before the lease expired.
        ended = command_unfinished_close(run=run)
        if ended:
            named = ", ".join(f"`{c.command}`" for c in ended)
            lost += (
                f" Its command {named} no longer runs: a command's lease watchdog stops it before its "
                "worker's lease runs out."
            )

        if run.control_request == "stop":
            if interrupted:
                StepExecution.objects.filter(pk=interrupted.pk).update(status=SE.CANCELLED, finished_at=now)
            run_transition(
                run=run, to=S.CANCELLED, title=f"{run.reference} stopped", reason=f"{lost} You had asked to stop it."
            )
            return Recovery(run, "cancelled", lost)

        if run.recoveries >= settings.MAX_RETRIES:
            reason = f"{lost} It was already resumed {run.recoveries} times, so Command stopped resuming it on its own."
            return _recoverable(run, interrupted, reason, now)

        restored = None
        if interrupted is not None and not is_safe_to_repeat(interrupted.action_type):
            restored = _restore(run, interrupted)
            if not restored.restored and restored.folder_put_back and _model_asked_for(interrupted):
                return _told_to_model(run, interrupted, restored, lost, now)
            if not restored.restored:
                reason = (
                    f"{lost} It was in the middle of “{interrupted.title}”, which is not safe to repeat blindly "
                    f"(it may have partly applied). {restored.description} Check the workspace, then retry the run."
                )
                return _recoverable(run, interrupted, reason, now)

        if restored is not None:
            StepExecution.objects.filter(pk=interrupted.pk).update(status=SE.PENDING)
            where = f"“{interrupted.title}” was interrupted: {restored.description} It will run again from there."
        elif interrupted is not None:
            StepExecution.objects.filter(pk=interrupted.pk).update(status=SE.PENDING)
            where = (
                f"It will repeat “{interrupted.title}”, which is safe: its effect is recorded under "
                "its idempotency key and is not applied twice."
            )
        else:
            where = "No step was half-done; it continues with the next step."
        run_transition(
            run=run,
            to=S.QUEUED,
            title=f"{run.reference} will resume from its last safe point",
            reason=f"{lost} {where}",
            recoveries=run.recoveries + 1,
            blocking_reason="resuming after a worker stopped",
            payload={"recovered_attempt": run.attempt},
        )
        enqueue_dispatch()
        return Recovery(run, "resumed", f"{lost} {where}")


def _restore(run: TaskRun, step: StepExecution) -> Restoration:
    restorer = _RESTORERS.get(step.action_type)
    if restorer is None:
        return Restoration(False, "No rollback point can restore what it changed.")
    try:
        return restorer(run=run, step=step)
    except Exception as exc:  # noqa: BLE001 - a failed restore is reported, never assumed
        logger.exception("restoring %s step %s failed", run.reference, step.step_id)
        return Restoration(False, f"Restoring its rollback point failed: {exc}.")


def _model_asked_for(step: StepExecution) -> bool:
    from tasks.engine.loop.observations import step_for_model

    return step.action_type == "run_command" and step_for_model(step)


def _told_to_model(run: TaskRun, step: StepExecution, restored: Restoration, lost: str, now) -> Recovery:
    """A model-driven run's command was interrupted and its folder put back: the command is not
    run again blindly; the model is told (its call's observation) in its next turn, which the
    run goes on to."""
    from tasks.engine.loop.observations import observe_settled

    told = (
        "The command was interrupted: the worker running it stopped, and Command stopped the command. "
        f"{restored.description} The command was not run again; run it again if it is still needed."
    )
    StepExecution.objects.filter(pk=step.pk).update(
        status=SE.FED_BACK, finished_at=now, error_class="WorkerLost", error_message=told
    )
    step.refresh_from_db()
    observe_settled(step, run=run)
    where = (
        f"“{step.title}” was interrupted: {restored.description} The model is told in its next turn, "
        "and the run goes on."
    )
    run_transition(
        run=run,
        to=S.QUEUED,
        title=f"{run.reference} will resume from its last safe point",
        reason=f"{lost} {where}",
        recoveries=run.recoveries + 1,
        blocking_reason="resuming after a worker stopped",
        payload={"recovered_attempt": run.attempt, "command_interrupted": step.step_id},
    )
    enqueue_dispatch()
    return Recovery(run, "resumed", f"{lost} {where}")


def _recoverable(run: TaskRun, interrupted: StepExecution | None, reason: str, now) -> Recovery:
    if interrupted is not None:
        StepExecution.objects.filter(pk=interrupted.pk).update(
            status=SE.FAILED, finished_at=now, error_class="WorkerLost", error_message=reason
        )
    run_transition(run=run, to=S.RECOVERABLE, title=f"{run.reference} needs you", reason=reason)
    return Recovery(run, "recoverable", reason)


def recover_expired_runs(*, now=None) -> list[Recovery]:
    """Recover every run whose lease expired (the reaper job and `manage.py recover_runs`)."""
    results = []
    for run_id in runs_with_expired_leases(now).values_list("id", flat=True):
        try:
            results.append(run_recover(run_id=run_id, now=now))
        except Exception:  # noqa: BLE001 - one broken run must not stop the others' recovery
            logger.exception("could not recover RUN-%03d", run_id)
    return results
