"""Executing a claimed run, one step at a time, until it finishes, waits or is handed back.

Every write the worker makes is fenced by its lease: once the reaper or an operator supersedes
the lease, the worker's next write raises LeaseLost and it stops without changing anything.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from command_site.worker import STOP_FILE_ENV
from command_site.write_fence import write_fence
from providers.contracts import ActionType, PlanStep
from tasks.engine.approval import approval_gate
from tasks.engine.dispatch import (
    Claim,
    dispatch_claim,
    dispatch_claimable,
    dispatch_pending,
    enqueue_dispatch,
    planning_job_waiting,
    run_heartbeat,
    schedule_dispatch_at,
)
from tasks.engine.errors import IllegalTransition, LeaseLost, StepFailed, StepPaused
from tasks.engine.fencing import LeaseWatch, lease_lost_notify, step_write_fence
from tasks.engine.handlers import StepContext, StepResult, handler_for
from tasks.engine.loop.observations import observation_to_store, observe_settled, step_for_model
from tasks.engine.loop.turns import check_failed_next_turn
from tasks.engine.remediation import remediation_propose
from tasks.engine.retry import policy_for
from tasks.engine.sql import instances, pipeline, send, update_where
from tasks.engine.state import Lease, Via, run_lock, run_steps, run_transition, verification_passed
from tasks.models import StepExecution, TaskRun

logger = logging.getLogger(__name__)
S = TaskRun.State
SE = StepExecution.Status


class _Heartbeat(threading.Thread):
    """Extends the lease every third of its length while the step works; notes a lost lease.

    A lease it cannot renew for a whole lease length counts as lost too (the reaper may have
    recovered the run meanwhile): the step's writes are then refused by the write fence, and
    the lease-lost hooks run (tasks.engine.fencing.on_lease_lost)."""

    def __init__(self, run_id: int, lease: Lease, lost: threading.Event):
        super().__init__(daemon=True, name=f"heartbeat-run-{run_id}")
        self.run_id, self.lease, self.lost = run_id, lease, lost
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(0.5, settings.COMMAND_LEASE_SECONDS / 3)
        watch = LeaseWatch(settings.COMMAND_LEASE_SECONDS, self.lost)
        try:
            while not self.stopped.wait(interval):
                try:
                    run_heartbeat(run_id=self.run_id, lease=self.lease)
                    watch.renewed()
                except LeaseLost:
                    self.lost.set()
                    lease_lost_notify(run_id=self.run_id, lease=self.lease)
                    return
                except Exception:  # noqa: BLE001 - a busy database must not kill the heartbeat
                    logger.warning("heartbeat for RUN-%03d failed", self.run_id, exc_info=True)
                    if watch.renewal_failed():
                        logger.warning("RUN-%03d: lease not renewed for a whole lease; stopping", self.run_id)
                        lease_lost_notify(run_id=self.run_id, lease=self.lease)
                        return
        finally:
            close_old_connections()
            from django.db import connection

            connection.close()


def _sentence(text: str) -> str:
    """`text` ending like a sentence, so another sentence can follow it."""
    text = text.strip()
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


def _stopped(run: TaskRun, lease: Lease) -> str:
    """The operator's stop, as the worker holding the run records it."""
    run_transition(
        run=run, to=S.CANCELLED, lease=lease, title=f"{run.reference} stopped", reason="Stopped at your request."
    )
    return S.CANCELLED


def _step_update(
    run: TaskRun,
    lease: Lease,
    step: StepExecution,
    run_fields: dict | None = None,
    take_seq: bool = False,
    read: tuple[str, ...] = (),
    **values,
) -> tuple | None:
    """Inside a transaction: fence (lock the run row if this lease still holds it, else
    LeaseLost), then update the step. With `take_seq` the fence also takes the seq of the event
    the caller writes next in this transaction, and returns it for ctx.emit(advanced=…), followed
    by the run's fields named in `read`."""
    # No savepoint: nothing catches a failure of this block inside an enclosing transaction, so
    # it only ever rolls back together with it.
    with transaction.atomic(savepoint=False):
        advanced = run_heartbeat(run_id=run.pk, lease=lease, take_seq=take_seq, read=read, **(run_fields or {}))
        update_where(StepExecution, {"pk": step.pk}, **values)
        for key, value in values.items():
            setattr(step, key, value)
    return advanced


class _StepWrite(NamedTuple):
    ctx: StepContext
    run_fields: dict
    values: dict

    def emit(self, *, before: dict | None = None, **event) -> None:
        """The step's update and this event (after the event `before`, when given), with the
        fence: _step_update then ctx.emit. On PostgreSQL one statement writes the run's fence and
        seqs, the step and the events, so it needs no transaction of its own
        (`atomic_for_step_write`)."""
        self.sent(before=before, **event)()

    def applied(self) -> _StepWrite:
        """This write, with the step in hand given its new values already."""
        for key, value in self.values.items():
            setattr(self.ctx.step, key, value)
        return self

    def sent(self, *, before: dict | None = None, **event) -> Callable[[], None]:
        """emit, with its statement sent (sql.send, so it may go in a sql.pipeline); returns what
        finishes it once the statement has run: LeaseLost when the fence refused it. The step in
        hand has the new values at once (what the caller computes from it is rolled back with the
        transaction if the fence refuses)."""
        ctx, step = self.ctx, self.ctx.step
        if connection.vendor != "postgresql":
            if before:
                ctx.emit(**before)
            advanced = _step_update(ctx.run, ctx.lease, step, run_fields=self.run_fields, take_seq=True, **self.values)
            ctx.emit(advanced=advanced, **event)
            return lambda: None
        finish = ctx.fenced_write_sent(
            events=[before, event] if before else [event],
            also=(StepExecution, step.pk, self.values),
            run_fields=self.run_fields,
        )
        self.applied()
        return finish


def _step_write(ctx: StepContext, run_fields: dict | None = None, **values) -> _StepWrite:
    """In the caller's transaction (`atomic_for_step_write`): `values` for ctx's step and `run_fields` for
    the run, written with the event its .emit(**event) names."""
    return _StepWrite(ctx, run_fields or {}, values)


def atomic_for_step_write():
    """The transaction around a step write that is all it holds: none on PostgreSQL, where the
    write is one statement and a statement is its own transaction (BEGIN and COMMIT would be two
    round trips more; on_commit hooks then run right after it, as they would after a COMMIT);
    transaction.atomic() elsewhere, where it is several."""
    return contextlib.nullcontext() if connection.vendor == "postgresql" else transaction.atomic()


def _workspace_path(run: TaskRun) -> Path | None:
    return Path(run.workspace.path) if run.workspace_id and run.workspace else None


class _RunNow(NamedTuple):
    """What the executor looks at between steps, read fresh."""

    attempt: int
    worker_id: str
    state: str
    control_request: str


def _run_now(run_id: int) -> tuple[_RunNow, StepExecution | None]:
    """The run as the executor looks at it between steps, and its next pending step (None when
    none is left), read fresh in one statement."""
    return _run_now_sent(run_id)()


def _run_now_sent(run_id: int) -> Callable[[], tuple[_RunNow, StepExecution | None]]:
    """_run_now with its statement sent (sql.send): returns what gives its answer once it has run."""
    sent = send(_boundary_sql(connection.vendor), [SE.PENDING, run_id])

    def answer() -> tuple[_RunNow, StepExecution | None]:
        if not sent.rows:
            raise TaskRun.DoesNotExist(f"RUN-{run_id:03d} does not exist.")
        (row,) = instances(StepExecution, sent.names, sent.rows)
        current = _RunNow(*(getattr(row, f"run_{name}") for name in _RunNow._fields))
        return current, (row if row.pk is not None else None)

    return answer


@functools.cache
def _boundary_sql(vendor: str) -> str:
    """The run's _RunNow fields beside every column of its first pending step in plan order (NULLs
    when there is none), from the models' own table and column names (no outside input)."""
    quote = connection.ops.quote_name
    run_meta, step_meta = TaskRun._meta, StepExecution._meta

    def run_column(name: str) -> str:
        return f"r.{quote(run_meta.get_field(name).column)}"

    def step_column(name: str, table: str = "s") -> str:
        return f"{table}.{quote(step_meta.get_field(name).column)}"

    step_columns = ", ".join(f"s.{quote(field.column)}" for field in step_meta.concrete_fields)
    run_columns = ", ".join(f"{run_column(name)} AS {quote('run_' + name)}" for name in _RunNow._fields)
    first_pending = (
        f"SELECT {step_column('id', 'p')} FROM {quote(step_meta.db_table)} p"  # noqa: S608 - names from the models
        f" WHERE {step_column('run', 'p')} = {run_column('id')} AND {step_column('status', 'p')} = %s"
        f" ORDER BY {step_column('position', 'p')} LIMIT 1"
    )
    return (
        f"SELECT {step_columns}, {run_columns} FROM {quote(run_meta.db_table)} r"  # noqa: S608 - names from the models
        f" LEFT JOIN {quote(step_meta.db_table)} s ON {step_column('id')} = ({first_pending})"
        f" WHERE {run_column('id')} = %s"
    )


def run_execute(*, claim: Claim, job_started: float | None = None, hand_on: bool = True) -> str:
    """Execute the claimed run until it finishes, waits, pauses or is handed back to the queue.

    Returns the state the run was left in ("lease_lost" when this worker was superseded and
    therefore stopped writing). Never raises for a step failure: failures become states.
    `job_started` (time.monotonic() when the django-q2 job began; now by default) is where the
    job's budget is counted from: past it the run hands itself back at the next step boundary.
    With `hand_on` a run that let go of its worker enqueues a dispatch for whatever it may have
    unblocked; a draining job (queue_drain) passes False because it claims again itself.
    """
    run, lease = claim.run, claim.lease
    lost = threading.Event()
    beat = _Heartbeat(run.pk, lease, lost)
    beat.start()
    try:
        outcome = _execute_steps(run, lease, lost, time.monotonic() if job_started is None else job_started)
    except LeaseLost as exc:
        logger.warning("%s", exc)
        outcome = "lease_lost"
    finally:
        beat.stopped.set()
        beat.join(timeout=5)
    if hand_on and outcome != "lease_lost" and dispatch_pending():
        # The run let go of its worker (and maybe its workspace): let the next one start.
        enqueue_dispatch()
    return outcome


def _job_budget_seconds() -> float:
    # django-q2 kills a job at Q_TIMEOUT; a long plan hands itself back to the queue at a step
    # boundary well before that, instead of being killed mid-step.
    return float(getattr(settings, "Q_TIMEOUT", 1800)) * 0.5


def _drain_turn_seconds() -> float:
    """A draining job claims no further run after this long (COMMAND_DRAIN_TURN_SECONDS), so
    other background jobs (planning with a provider, the reaper) get a worker slot at least this
    often even with one worker; past it, a run under way steps aside for a waiting planning job."""
    return min(float(settings.COMMAND_DRAIN_TURN_SECONDS), _job_budget_seconds())


def worker_stopping() -> bool:
    """Whether this worker has been asked to stop (command_site.worker touches the file its
    cluster was started with): take no new run, and hand back the one under way between steps."""
    path = os.environ.get(STOP_FILE_ENV)
    return bool(path) and os.path.exists(path)


class HandBack(NamedTuple):
    title: str  # with {run} for the run's reference
    reason: str
    blocking_reason: str


def _hand_back_why(started: float, *, first: bool) -> HandBack | None:
    """Why a run under way should go back to the queue at this step boundary, or None to carry on.

    Past half of Q_TIMEOUT, always: django-q2 would kill the job mid-step. Past the drain turn,
    when a planning job is in the queue: someone is waiting for their request to be read, and
    with every worker slot on long runs it would wait until they end. The run continues from
    its next step when a dispatch job comes round again (behind that job, on one worker).
    When the worker is stopping, at once, even before the job's first step. Otherwise never
    before the job has done a step (`first`), so every job makes progress."""
    if worker_stopping():
        return HandBack(
            "{run} goes back to the queue: the worker is stopping",
            "The worker was asked to stop, so this run went back to the queue between steps, "
            "with nothing half-done. It continues from its next step when a worker runs again.",
            "waiting for a worker",
        )
    if first:
        return None
    elapsed = time.monotonic() - started
    if elapsed > _job_budget_seconds():
        return HandBack(
            "{run} continues in a fresh worker slot",
            "Long runs are handed back to the queue between steps so no worker is cut off mid-step.",
            "continuing shortly",
        )
    if elapsed > _drain_turn_seconds() and planning_job_waiting():
        return HandBack(
            "{run} steps aside for a request being planned",
            "A new request is in the queue to be planned. This run went back to the queue "
            "between steps so that request is not held up behind it; it continues from its "
            "next step when the queue comes back to it.",
            "continuing shortly",
        )
    return None


@dataclass
class Drained:
    """What one draining job did: (run reference, state it was left in) per run, and whether it
    stopped at its time budget with runs still waiting (then it enqueued a dispatch for them)."""

    runs: list[tuple[str, str]] = field(default_factory=list)
    handed_back: bool = False
    stopping: bool = False  # it stopped claiming because the worker is stopping


def queue_drain(*, job_started: float | None = None) -> Drained:
    """Claim and execute runs one after another in this worker slot until none is claimable or
    the job's turn is over, so one django-q2 job can execute many runs.

    Promises: every run is claimed by dispatch_claim and executed by run_execute exactly as a
    single-run job would (lease, fencing, heartbeats, workspace and per-user limits unchanged);
    no run is claimed once the drain turn (COMMAND_DRAIN_TURN_SECONDS, at most half of
    Q_TIMEOUT) has passed since `job_started`, and a run under way hands itself back at a step
    boundary past half of Q_TIMEOUT, or past the turn while a planning job waits (_hand_back_why);
    the job always claims at least once. When it stops with a run still waiting that
    it may not leave behind, it enqueues one dispatch job: after its turn, any ready run; when
    it found nothing to claim, only a run nothing holds back (one locked by another claim that
    did not happen). Runs held by a workspace or the cap are dispatched when their holder ends.
    """
    started = time.monotonic() if job_started is None else job_started
    turn = _drain_turn_seconds()
    drained = Drained()
    while True:
        if worker_stopping():
            # No new run; the runs left behind get a dispatch job for the next worker.
            drained.stopping = True
            drained.handed_back = dispatch_pending()
            if drained.handed_back:
                enqueue_dispatch()
            return drained
        claim = dispatch_claim()
        if claim is None:
            if drained.runs and dispatch_claimable():
                enqueue_dispatch()
            return drained
        drained.runs.append((claim.run.reference, run_execute(claim=claim, job_started=started, hand_on=False)))
        if time.monotonic() - started >= turn:
            drained.handed_back = dispatch_pending()
            if drained.handed_back:
                enqueue_dispatch()
            return drained


def _execute_steps(run: TaskRun, lease: Lease, lost: threading.Event, started: float) -> str:
    workspace_path = _workspace_path(run)
    first = True
    ctx = None
    while True:
        if lost.is_set():
            raise LeaseLost(f"{run.reference}: lease lost between steps.")
        # A step that succeeded read this boundary already, at the end of its own transaction.
        boundary, ctx = getattr(ctx, "boundary", None), None
        current, step = boundary or _run_now(run.pk)
        if (current.attempt, current.worker_id) != lease.as_tuple():
            raise LeaseLost(f"{run.reference}: attempt {lease.attempt} superseded.")
        if current.control_request == "stop":
            return _stopped(run, lease)
        if current.control_request == "pause":
            run_transition(
                run=run,
                to=S.PAUSED,
                lease=lease,
                title=f"{run.reference} paused",
                reason="Paused at your request, between steps. Nothing is half-done.",
                control_request="",
                blocking_reason="paused by you",
            )
            return S.PAUSED
        if step is None:
            return _finish(run, lease)
        hand_back = None if current.control_request else _hand_back_why(started, first=first)
        if hand_back is not None:
            run_transition(
                run=run,
                to=S.QUEUED,
                lease=lease,
                title=hand_back.title.format(run=run.reference),
                reason=hand_back.reason,
                blocking_reason=hand_back.blocking_reason,
            )
            return S.QUEUED
        first = False
        plan_step = PlanStep.model_validate(step.spec)
        ctx = StepContext(run=run, step=step, plan_step=plan_step, workspace_path=workspace_path, lease=lease)
        ctx._lease_lost = lost

        # Steps whose dependencies did not succeed cannot run honestly (a step without any, such as
        # every step of a model-driven run, builds no query).
        blocked = (
            list(
                StepExecution.objects.filter(run=run, step_id__in=plan_step.depends_on)
                .exclude(status=SE.SUCCEEDED)
                .values_list("title", flat=True)
            )
            if plan_step.depends_on
            else []
        )
        if blocked:
            with transaction.atomic():
                _step_update(run, lease, step, status=SE.SKIPPED, finished_at=timezone.now())
                ctx.emit(
                    kind="step.skipped",
                    phase="execute",
                    status="muted",
                    title=f"Skipped “{step.title}”",
                    explanation=f"It depends on “{blocked[0]}”, which did not succeed.",
                )
            continue

        approval = (step.result or {}).get("approval", {})
        allowed = None  # the row saying a remembered preference allowed the step, written as it starts
        # An approval that names its request is confirmed right before the step runs: the gate binds
        # the exact action (for a file step, the file as shown), so a stale approval asks again.
        recheck = bool(approval.get("granted") and approval.get("approval_id"))
        if not approval.get("granted") or recheck:
            try:
                decision = approval_gate(ctx)
            except LeaseLost:
                raise
            except Exception as exc:  # noqa: BLE001 - a broken policy must not let a step through
                logger.exception("%s: the approval gate raised for step %s", run.reference, step.step_id)
                failure = StepFailed(
                    f"Command could not check whether “{step.title}” needs your approval ({exc}), "
                    "so it did not run it.",
                    error_type="ApprovalCheckFailed",
                    retryable=False,
                )
                outcome = _on_failure(run, lease, ctx, step, failure)
                if outcome is not None:
                    return outcome
                continue
            if decision.action == "wait":
                with transaction.atomic():
                    stale = {"result": {k: v for k, v in step.result.items() if k != "approval"}} if recheck else {}
                    _step_update(run, lease, step, status=SE.WAITING_APPROVAL, **stale)
                    run_transition(
                        run=run,
                        to=S.WAITING_APPROVAL,
                        lease=lease,
                        title=f"Waiting for your approval: “{step.title}”",
                        reason=decision.reason or "This step needs your approval before it runs.",
                        blocking_reason="waiting for your approval",
                        current_step_id=step.step_id,
                        payload={"step_id": step.step_id, "approval_id": decision.approval_id},
                    )
                return S.WAITING_APPROVAL
            if decision.action == "skip":
                with transaction.atomic():
                    _step_update(run, lease, step, status=SE.SKIPPED, finished_at=timezone.now())
                    ctx.emit(
                        kind="step.skipped",
                        phase="execute",
                        status="muted",
                        title=f"Skipped “{step.title}”",
                        explanation=decision.reason,
                        # A remembered "never" skipped it: where the operator changes that.
                        payload={"change_url": getattr(decision, "change_url", "")},
                    )
                continue
            if decision.reason and not recheck:
                allowed = {
                    "kind": "approval.auto",
                    "phase": "approve",
                    "status": "info",
                    "title": f"Allowed “{step.title}”",
                    "explanation": decision.reason,
                    # Where the operator changes the remembered preference that allowed it.
                    "payload": {"change_url": getattr(decision, "change_url", ""), "approval_id": decision.approval_id},
                }

        wanted = S.VERIFYING if step.action_type == ActionType.VERIFY else S.RUNNING
        if current.state != wanted:
            if allowed:
                ctx.emit(**allowed)
                allowed = None
            run_transition(
                run=run,
                to=wanted,
                lease=lease,
                title="Verifying the results" if wanted == S.VERIFYING else "Back to work",
                explanation=f"Next: “{step.title}”.",
            )
        outcome = _execute_one(run, lease, ctx, step, plan_step, allowed=allowed)
        if outcome is not None:
            return outcome


def _execute_one(
    run: TaskRun, lease: Lease, ctx: StepContext, step: StepExecution, plan_step: PlanStep, allowed: dict | None = None
) -> str | None:
    """Run one step. None means "go on with the next step"; a state name means the loop ends.
    `allowed`: the gate's approval.auto row, written first in the transaction that starts the step."""
    attempt_no = step.attempts + 1
    with atomic_for_step_write():
        _step_write(
            ctx,
            run_fields={"current_step_id": step.step_id},
            status=SE.RUNNING,
            attempts=attempt_no,
            started_at=timezone.now(),
            next_attempt_at=None,
        ).emit(
            before=allowed,
            kind="step.started",
            phase="verify" if step.action_type == ActionType.VERIFY else "execute",
            status="info",
            title=step.title if attempt_no == 1 else f"{step.title} (attempt {attempt_no})",
            explanation=f"{plan_step.explanation.what} Why: {plan_step.explanation.why}",
            payload={
                "action_type": step.action_type,
                "attempt": attempt_no,
                "expect_next": plan_step.explanation.expect_next,
            },
        )
    try:
        # Every write the handler makes to files, snapshots or outputs checks the lease first.
        with write_fence(step_write_fence(ctx)):
            result = handler_for(step.action_type)(ctx)
        if not isinstance(result, StepResult):
            raise StepFailed("The handler returned no result.", error_type="HandlerError", retryable=False)
    except LeaseLost:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes a state (_handler_failed)
        return _handler_failed(run, lease, ctx, step, exc)
    try:
        return _succeeded(run, lease, ctx, step, plan_step, result)
    except _SettleFailed as failed:  # the success was rolled back with it
        return _handler_failed(run, lease, ctx, step, failed.__cause__)


class _SettleFailed(Exception):
    """StepResult.settle raised (its exception is the cause): the step failed after all."""


def _handler_failed(run: TaskRun, lease: Lease, ctx: StepContext, step: StepExecution, exc: Exception) -> str | None:
    if isinstance(exc, StepPaused):
        return _paused(run, lease, ctx, step, exc)
    if isinstance(exc, StepFailed):
        return _on_failure(run, lease, ctx, step, exc)
    # An unexpected error is still a step failure, told plainly.
    logger.error("%s step %s raised", run.reference, step.step_id, exc_info=exc)
    return _on_failure(run, lease, ctx, step, StepFailed(str(exc) or type(exc).__name__, error_type=type(exc).__name__))


def _succeeded(
    run: TaskRun, lease: Lease, ctx: StepContext, step: StepExecution, plan_step: PlanStep, result: StepResult
) -> str | None:
    with transaction.atomic():
        if result.settle is not None:
            try:
                result.settle()
            except LeaseLost:
                raise
            except Exception as exc:  # noqa: BLE001 - handed to _handler_failed once rolled back
                raise _SettleFailed() from exc
        # The step's success (its fence takes the run's row lock), what it showed the model (for a
        # step a model asked for) and the next boundary, read under that lock and handed to the
        # loop: sent together, one round trip on PostgreSQL. A refused fence raises below, and the
        # transaction writes nothing. After the last step the gate and the run's end are in this
        # same transaction.
        write = _step_write(
            ctx,
            status=SE.SUCCEEDED,
            finished_at=timezone.now(),
            result={**(step.result or {}), **result.data, "summary": result.summary},
            error_class="",
            error_message="",
        ).applied()
        store_observation = observation_to_store(step, run=run)  # made from the step as it now is
        with pipeline():
            succeeded = write.sent(
                kind="step.succeeded",
                phase="verify" if step.action_type == ActionType.VERIFY else "execute",
                status="success",
                title=result.summary[:300],
                explanation=plan_step.explanation.expect_next,
                payload={
                    "action_type": step.action_type,
                    **({"report": result.data["report"]} if "report" in result.data else {}),
                    **_diff_link(run, result.data),
                },
            )
            if store_observation is not None:
                store_observation()
            boundary = _run_now_sent(run.pk)
        succeeded()
        ctx.boundary = boundary()
        current, next_step = ctx.boundary
        if next_step is None and not current.control_request:
            run.state, run.attempt, run.worker_id = current.state, current.attempt, current.worker_id
            run.control_request = ""
            return _finish_locked(run, lease)
    return None


def _diff_link(run: TaskRun, data: dict) -> dict:
    """Where the row of a step that changed a file links: that change's diff."""
    change_id = data.get("file_change_id")
    if not change_id or not run.workspace_id:
        return {}
    from django.urls import reverse

    return {"diff_url": reverse("workspaces:change", args=[run.workspace_id, change_id])}


def _paused(run: TaskRun, lease: Lease, ctx: StepContext, step: StepExecution, exc: StepPaused) -> str:
    """The step needs the operator first (a model run's budget, a model's question): the run
    pauses before it, and the step runs again from the start when the run is resumed."""
    with transaction.atomic():
        _step_update(run, lease, step, status=SE.PENDING, result={**(step.result or {}), "paused": exc.payload or True})
        run_transition(
            run=run,
            to=S.PAUSED,
            lease=lease,
            title=f"{run.reference} paused: {exc.blocking_reason}",
            reason=exc.reason,
            blocking_reason=exc.blocking_reason[:300],
            payload={"step_id": step.step_id, **exc.payload},
        )
    return S.PAUSED


def _fed_back(run: TaskRun, lease: Lease, ctx: StepContext, step: StepExecution, exc: StepFailed) -> None:
    """A step a model asked for failed: the failure is recorded and becomes what the model sees in
    its next turn, instead of failing the run (a failed check also queues that next turn)."""
    with transaction.atomic():
        _step_update(
            run,
            lease,
            step,
            status=SE.FED_BACK,
            finished_at=timezone.now(),
            error_class=exc.error_type[:120],
            error_message=exc.message,
            result={**(step.result or {}), **exc.data},
        )
        observe_settled(step, run=run)
        check_failed_next_turn(run=run, step=step)
        ctx.emit(
            kind="step.failed",
            phase="verify" if step.action_type == ActionType.VERIFY else "execute",
            status="warning",
            title=f"“{step.title}” failed; the model is told why",
            explanation=exc.message,
            payload={"error_type": exc.error_type, "fed_back": True},
        )


def _on_failure(run: TaskRun, lease: Lease, ctx: StepContext, step: StepExecution, exc: StepFailed) -> str | None:
    if ctx.should_stop() == "stop":
        with transaction.atomic():
            _step_update(
                run,
                lease,
                step,
                status=SE.CANCELLED,
                finished_at=timezone.now(),
                error_class="Stopped",
                error_message=exc.message,
            )
            _stopped(run, lease)
        return S.CANCELLED
    if step_for_model(step):
        _fed_back(run, lease, ctx, step, exc)
        return None
    policy = policy_for(step.action_type)
    retryable = exc.retryable if exc.retryable is not None else policy.is_retryable(exc.error_type)
    now = timezone.now()
    common = {
        "error_class": exc.error_type[:120],
        "error_message": exc.message,
        "result": {**(step.result or {}), **exc.data},
    }

    remedy = None
    if not step.remediation_for and not StepExecution.objects.filter(run=run, remediation_for=step.step_id).exists():
        remedy = remediation_propose(
            step_spec=step.spec, error_type=exc.error_type, data=exc.data, workspace_path=ctx.workspace_path
        )
    if remedy is not None:
        with transaction.atomic():
            _step_update(run, lease, step, status=SE.PENDING, **common)
            fix = StepExecution.objects.create(
                run=run,
                step_id=remedy.step.id,
                position=step.position - 1,
                action_type=str(remedy.step.action_type),
                title=remedy.step.title,
                idempotency_key=f"run-{run.pk}:{remedy.step.id}",
                spec=remedy.step.model_dump(mode="json"),
                remediation_for=step.step_id,
            )
            ctx.emit(
                kind="step.failed",
                phase="execute",
                status="danger",
                title=f"“{step.title}” failed",
                explanation=exc.message,
            )
            ctx.emit(
                kind="remediation.proposed",
                phase="heal",
                status="warning",
                title=f"Proposed fix: {fix.title.lower()}",
                explanation=f"{remedy.diagnosis} {remedy.step.explanation.what}",
                step_id=fix.step_id,
                payload={"kind": remedy.kind, "fixes": step.step_id},
            )
            ctx.emit(
                kind="step.retry_planned",
                phase="heal",
                status="info",
                title=f"Will retry “{step.title}” once after the fix",
                explanation="Only if the fix succeeds.",
            )
        return None

    if retryable and step.attempts < policy.maximum_attempts:
        when = policy.next_attempt_at(step.attempts, now)
        retry_no, retries = step.attempts, policy.maximum_attempts - 1
        at = timezone.localtime(when).strftime("%H:%M:%S")
        with transaction.atomic():
            _step_update(run, lease, step, status=SE.PENDING, next_attempt_at=when, **common)
            ctx.emit(
                kind="step.retry_scheduled",
                phase="retry",
                status="warning",
                title=f"“{step.title}” failed; retry {retry_no} of {retries} at {at}",
                explanation=(
                    f"What failed: {exc.message} Why a retry is safe: a {step.action_type.replace('_', ' ')} step "
                    "is repeatable without applying anything twice (its idempotency key is recorded)."
                ),
                payload={"error_type": exc.error_type, "retry": retry_no, "of": retries, "at": when.isoformat()},
            )
            run_transition(
                run=run,
                to=S.QUEUED,
                lease=lease,
                title=f"{run.reference} back in the queue for retry {retry_no} of {retries}",
                reason=f"Retrying “{step.title}” after a failure.",
                ready_at=when,
                blocking_reason=f"retry {retry_no} of {retries} at {at}",
            )
            schedule_dispatch_at(when)
        return S.QUEUED

    exhausted = retryable  # retryable but out of attempts: the run can be retried later
    with transaction.atomic():
        _step_update(run, lease, step, status=SE.FAILED, finished_at=now, **common)
        ctx.emit(
            kind="step.failed",
            phase="execute",
            status="danger",
            title=f"“{step.title}” failed",
            explanation=exc.message,
            payload={"error_type": exc.error_type, "attempts": step.attempts},
        )
        if exhausted:
            run_transition(
                run=run,
                to=S.RECOVERABLE,
                lease=lease,
                title=f"{run.reference} stopped after {step.attempts} attempts",
                reason=f"“{step.title}” kept failing: {_sentence(exc.message)} "
                "You can retry the run once the cause is fixed.",
            )
            return S.RECOVERABLE
        run_transition(
            run=run,
            to=S.FAILED,
            lease=lease,
            title=f"{run.reference} failed",
            reason=f"“{step.title}” failed and retrying cannot help: {exc.message}",
        )
        return S.FAILED


def _finish(run: TaskRun, lease: Lease) -> str:
    """The verification gate, then `verifying` → `completed`, in one transaction under the run's
    row lock, so the gate reads the steps exactly as the transition leaves them."""
    with transaction.atomic():
        current = run_lock(run.pk)  # a superseded lease is refused by the first transition below
        for name in ("state", "attempt", "worker_id", "started_at"):
            setattr(run, name, getattr(current, name))
        return _finish_locked(run, lease)


def _finish_locked(run: TaskRun, lease: Lease) -> str:
    """_finish's gate and end, in the caller's transaction, which holds the run's row lock and has
    set `run`'s state, attempt and worker id as read under it."""
    steps = run_steps(run)
    ok, why = verification_passed(run, steps)
    if not ok:
        denied = _denied_step_titles(run)
        if denied:
            # The person said no: that is a stop they chose, not a failed verification.
            names = ", ".join(f"“{t}”" for t in denied)
            run_transition(
                run=run,
                to=S.CANCELLED,
                lease=lease,
                locked=True,
                title=f"{run.reference} stopped: you denied {names}",
                reason=_denied_reason(names, steps),
            )
            return S.CANCELLED
        run_transition(
            run=run, to=S.FAILED, lease=lease, locked=True, title=f"{run.reference} not completed", reason=why
        )
        return S.FAILED
    # Through `verifying` (its own event) to `completed`, written as one transition.
    via = None if run.state == S.VERIFYING else Via(S.VERIFYING, "Checking the verification gate", _GATE_PASSED)
    try:
        run_transition(
            run=run,
            to=S.COMPLETED,
            lease=lease,
            locked=True,
            steps=steps,
            via=via,
            title=f"{run.reference} completed",
            reason=_completion_reason(steps, unchecked=_criteria_not_checked(run, steps)),
        )
    except IllegalTransition as exc:
        title = f"{run.reference} not completed"
        run_transition(run=run, to=S.FAILED, lease=lease, locked=True, title=title, reason=str(exc))
        return S.FAILED
    return S.COMPLETED


def _denied_step_titles(run: TaskRun) -> list[str]:
    """Titles of the steps the person denied (run_skip_step_after_denial records the refusal)."""
    return list(
        StepExecution.objects.filter(run=run, status=SE.SKIPPED, result__approval__granted=False)
        .order_by("position")
        .values_list("title", flat=True)
    )


def _denied_reason(names: str, steps: list[tuple[str, str, str]]) -> str:
    done = sum(1 for _action, status, _title in steps if status == SE.SUCCEEDED)
    skipped = sum(1 for _action, status, _title in steps if status == SE.SKIPPED)
    return (
        f"Stopped: you denied {names}. {skipped} of {len(steps)} step{'s' if len(steps) != 1 else ''} "
        f"skipped, {done} done; nothing left was checked, so the run is not called completed."
    )


_GATE_PASSED = "Every verification step passed."


def _criteria_not_checked(run: TaskRun, steps: list[tuple[str, str, str]]) -> int:
    """How many criteria the run's output verifications recorded as not checked (read at completion;
    `steps` as run_steps read them: without a verification that passed there is nothing to read)."""
    if not any(action == ActionType.VERIFY and status == SE.SUCCEEDED for action, status, _title in steps):
        return 0
    reports = StepExecution.objects.filter(
        run=run, action_type=ActionType.VERIFY, status=SE.SUCCEEDED, result__has_key="report"
    ).values_list("result", flat=True)
    return sum(int((result.get("report") or {}).get("not_checked") or 0) for result in reports)


def _completion_reason(steps: list[tuple[str, str, str]], *, unchecked: int = 0) -> str:
    skipped = [title for _action, status, title in steps if status == SE.SKIPPED]
    # "every verification passed" would also vouch for what no check could look at.
    passed = (
        "every check made passed"
        + f"; {unchecked} criteri{'on' if unchecked == 1 else 'a'} could not be checked (the result cards say which)"
        if unchecked
        else "every verification passed"
    )
    if not skipped:
        return f"Every step finished and {passed}."
    names = ", ".join(f"“{t}”" for t in skipped)
    return f"{passed[0].upper()}{passed[1:]}. Skipped, and not done: {names}."
