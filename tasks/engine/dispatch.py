"""Creating runs, the queue order, claims, leases and heartbeats.

Order: higher priority first, then older, then lower id; `ready_at` respected. A run that
mutates a workspace is claimed only while no other run holds that workspace (enforced by the
partial unique constraint `run_one_mutating_per_workspace`), and only while its owner has fewer
than settings.COMMAND_MAX_RUNS_PER_USER runs under way. On PostgreSQL candidates are locked
with SELECT … FOR UPDATE SKIP LOCKED so that concurrent dispatchers never wait on each other.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from providers.contracts import ActionType, Plan
from tasks.engine.errors import ConditionNotMet, LeaseLost
from tasks.engine.events import event_emit
from tasks.engine.fencing import lease_renewed
from tasks.engine.sql import (
    COUNT,
    ID,
    CompiledQuery,
    Condition,
    Mark,
    fetch_all,
    fetch_one,
    insert_row,
    insert_rows,
    model_from_row,
    update_where,
)
from tasks.engine.state import SELF_CHECKING_ACTIONS, Lease, run_transition
from tasks.models import PlanRevision, StepExecution, Task, TaskRun

logger = logging.getLogger(__name__)
S = TaskRun.State

DISPATCH_JOB = "tasks.jobs.dispatch_next"
# A job a person is waiting on (their request read by a model provider): a long draining run
# steps aside for it between steps (tasks.engine.executor).
PLANNING_JOB = "tasks.jobs.understand_with_provider"
REAPER_JOB = "tasks.jobs.recover_runs"
REAPER_SCHEDULE_NAME = "command: recover runs"
POSITION_GAP = 10  # step positions leave room for remediation steps


def worker_identity() -> str:
    """Unique per claim: host, process, its start time and a random suffix (tasks.engine.fencing)."""
    from tasks.engine.fencing import worker_identity as identity

    return identity()


class _DispatchEnqueued:
    """Marks, in the transaction's on-commit list, one dispatch job this transaction enqueued.

    The marker lives exactly as long as the job's queue row: both are dropped when the savepoint
    around them rolls back, so counting markers never counts a job that will not exist.
    """

    def __call__(self) -> None:
        pass


def _dispatch_jobs_in_this_transaction(enough: int) -> int:
    """How many dispatch jobs this transaction enqueued, counted up to `enough` (the markers are
    near the start of a long batch's on-commit list, so the count stops there)."""
    found = 0
    for _, func, _ in connection.run_on_commit:
        if isinstance(func, _DispatchEnqueued):
            found += 1
            if found >= enough:
                break
    return found


def enqueue_dispatch() -> None:
    """Ask a worker to claim eligible runs. With the ORM broker this row is written in the
    caller's transaction, so it exists exactly when the caller's changes do.

    One transaction enqueues at most COMMAND_WORKERS dispatch jobs, however many runs it queues.
    Why that leaves no run without a dispatch that will see it:
    * the job rows commit together with every run of the transaction, and no job can start
      before that commit, so each of these jobs sees all of them on its first claim;
    * a dispatch job drains: it claims and executes runs until none is claimable (queue_drain);
    * what it cannot claim is held back by a leased run (its workspace or its owner's cap, the
      only holds that outlast a claim) or a run waiting for approval; a leased run that ends
      claims again in the same job or enqueues a dispatch when its job stops (run_execute,
      queue_drain), and every control that requeues a run enqueues one;
    * a job that finds nothing committed yet belongs to an older transaction, never this one.
    Other transactions' jobs are never counted: one of them may already have made its last
    claim before this transaction commits. The 30 s reaper stays the safety net only.
    Outside a transaction (autocommit) and in django-q2's sync mode (the job runs inline, before
    the commit) every call enqueues.
    """
    from django_q.conf import Conf
    from django_q.tasks import async_task

    in_transaction = connection.in_atomic_block and not Conf.SYNC
    if in_transaction and _dispatch_jobs_in_this_transaction(settings.COMMAND_WORKERS) >= settings.COMMAND_WORKERS:
        return
    async_task(DISPATCH_JOB, task_name=f"dispatch-{uuid.uuid4().hex[:12]}")
    if in_transaction:
        transaction.on_commit(_DispatchEnqueued())


class _SchedulesEnsured:
    """Marks, in the transaction's on-commit list, that this transaction already made sure the
    schedules exist (dropped with the savepoint around it, as _DispatchEnqueued is)."""

    def __call__(self) -> None:
        pass


def ensure_schedules() -> None:
    """Create the reaper's schedule and the hourly cleaning of output scratch folders, once each
    (idempotent; catch_up is off cluster-wide). Inside a transaction it looks once: a batch
    queueing many runs does not ask again for each.

    django-q2 schedules have minute resolution, so the minutely job books one extra run 30 s
    later itself (see tasks.jobs.recover_runs): the reaper looks every 30 s.
    """
    from django_q.models import Schedule

    from outputs.jobs import SCRATCH_JOB, SCRATCH_SCHEDULE_NAME

    if connection.in_atomic_block:
        if any(isinstance(func, _SchedulesEnsured) for _, func, _ in connection.run_on_commit):
            return
        transaction.on_commit(_SchedulesEnsured())
    names = [REAPER_SCHEDULE_NAME, SCRATCH_SCHEDULE_NAME]
    have = set(Schedule.objects.filter(name__in=names).values_list("name", flat=True))
    if REAPER_SCHEDULE_NAME not in have:
        Schedule.objects.create(
            name=REAPER_SCHEDULE_NAME, func=REAPER_JOB, schedule_type=Schedule.MINUTES, minutes=1, repeats=-1
        )
    if SCRATCH_SCHEDULE_NAME not in have:
        Schedule.objects.create(name=SCRATCH_SCHEDULE_NAME, func=SCRATCH_JOB, schedule_type=Schedule.HOURLY, repeats=-1)


def schedule_half_minute_reaper() -> None:
    from django_q.models import Schedule

    name = f"{REAPER_SCHEDULE_NAME} (half minute)"
    if not Schedule.objects.filter(name=name).exists():
        Schedule.objects.create(
            name=name,
            func=REAPER_JOB,
            kwargs="{'follow_up': False}",
            schedule_type=Schedule.ONCE,
            repeats=-1,
            next_run=timezone.now() + timedelta(seconds=30),
        )


def schedule_dispatch_at(when) -> None:
    """A dispatch job that a worker can take from `when` on (retry back-off), so a retry starts at
    the time it announced. The ORM broker hands out only rows whose lock lies in the past, so the
    row is written (in the caller's transaction) with its lock at `when`: a worker polling every
    Q_CLUSTER["poll"] takes it within that. (A django-q2 Schedule would wait for the scheduler,
    which looks only every 30 s: retries started up to 30 s late.)"""
    from django_q.brokers.orm import ORM
    from django_q.tasks import async_task

    class NotBefore(ORM):
        def enqueue(self, task):
            return self.get_connection().create(key=self.list_key, payload=task, lock=when).pk

    async_task(DISPATCH_JOB, broker=NotBefore(), task_name=f"dispatch at {when.isoformat()}")


def run_create(
    *,
    task: Task,
    plan_revision: PlanRevision | None = None,
    priority: int = 0,
    previous_run: TaskRun | None = None,
) -> TaskRun:
    """Queue a new run of `task`'s plan and enqueue its dispatch in the same transaction.

    Uses the latest plan revision unless one is given. Refuses (ValueError) a task without a
    plan, a plan that does not validate, or a revision of another task, before it writes
    anything. One StepExecution per plan step is created up front, each with its own
    idempotency key.
    """
    if plan_revision is None:
        plan_revision = task.plan_revisions.order_by("-number").first()
        if plan_revision is None:
            raise ValueError(f"{task.reference} has no plan yet, so there is nothing to run.")
    if plan_revision.task_id != task.pk:
        raise ValueError("That plan revision belongs to another task.")
    plan = Plan.model_validate(plan_revision.plan)
    if not plan.steps:
        raise ValueError("The plan has no steps, so there is nothing to run.")
    # Inside a caller's transaction no savepoint (two statements fewer per run): the refusals
    # above come before any write, and a database error here dooms the caller's transaction
    # whichever way.
    with transaction.atomic(savepoint=False):
        return _run_insert(task, plan_revision, plan, priority, previous_run)


def _run_insert(task: Task, plan_revision: PlanRevision, plan: Plan, priority: int, previous_run) -> TaskRun:
    # A new run's first event is its `run.queued` (seq 1), written below: the counter starts there,
    # so the event needs no UPDATE of the row just inserted to take its seq.
    # Written by the engine's statement helpers (tasks.engine.sql), as the ORM would write them
    # without compiling each statement per run: a batch queues many runs in one transaction.
    run = insert_row(
        TaskRun(
            task=task,
            owner_id=task.owner_id,
            plan_revision=plan_revision,
            workspace_id=task.workspace_id,
            previous_run=previous_run,
            priority=priority,
            mutates=any(step.mutates for step in plan.steps),
            event_seq=1,
        )
    )
    insert_rows(
        [
            StepExecution(
                run=run,
                step_id=step.id,
                position=(i + 1) * POSITION_GAP,
                action_type=str(step.action_type),
                title=step.title,
                idempotency_key=f"run-{run.pk}:{step.id}",
                spec=step.model_dump(mode="json"),
            )
            for i, step in enumerate(plan.steps)
        ]
    )
    update_where(Task, {"pk": task.pk}, status=Task.Status.QUEUED)
    verify_count = sum(1 for s in plan.steps if s.action_type == ActionType.VERIFY)
    event_emit(
        run=run,
        kind="run.queued",
        phase="queue",
        status="info",
        title=f"{run.reference} queued with {len(plan.steps)} step{'s' if len(plan.steps) != 1 else ''}",
        explanation=(
            f"Plan revision {plan_revision.number} from {plan_revision.planner}. "
            + (f"Continues {previous_run.reference}. " if previous_run else "")
            + (
                "The model works in turns, each action a step of its own; the check must pass before it can finish."
                if any(s.action_type == ActionType.MODEL_TURN for s in plan.steps)
                else f"{verify_count} verification step{'s' if verify_count != 1 else ''} must pass before it can "
                "finish."
                if verify_count
                else (
                    "Every command must exit with code 0 before it can finish."
                    if all(str(s.action_type) in SELF_CHECKING_ACTIONS for s in plan.steps)
                    else "The plan has no verification step, so this run cannot be called completed."
                )
            )
        ),
        payload={"steps": len(plan.steps), "priority": priority, "plan_revision": plan_revision.number},
        advanced=(1, run.attempt),
    )
    ensure_schedules()
    enqueue_dispatch()
    return run


# --- Eligibility and the queue -------------------------------------------------------------


def _queue_order():
    return ["-priority", "created_at", "id"]


def _eligible(now):
    return TaskRun.objects.filter(state=S.QUEUED).filter(Q(ready_at__isnull=True) | Q(ready_at__lte=now))


def _workspace_holder(run: TaskRun) -> TaskRun | None:
    if not run.mutates or run.workspace_id is None:
        return None
    return (
        TaskRun.objects.filter(workspace_id=run.workspace_id, mutates=True, state__in=TaskRun.WORKSPACE_HOLDING_STATES)
        .exclude(pk=run.pk)
        .only("id", "state")
        .first()
    )


def _active_count(owner_id) -> int:
    return TaskRun.objects.filter(owner_id=owner_id, state__in=TaskRun.LEASED_STATES).count()


def blocking_reason_for(run: TaskRun, now=None) -> str:
    """Why a queued run is not running yet, in plain words ("" when nothing blocks it)."""
    from tasks.engine.queue_reasons import blocking_reason_from

    return blocking_reason_from(
        run,
        now=now or timezone.now(),
        holder=lambda: _workspace_holder(run),
        active=lambda: _active_count(run.owner_id),
        position=lambda: queue_position(run),
    )


def queue_position(run: TaskRun) -> int:
    """1-based place among queued runs in dispatch order; 0 when the run is not queued."""
    if run.state != S.QUEUED:
        return 0
    ahead = TaskRun.objects.filter(state=S.QUEUED).filter(
        Q(priority__gt=run.priority)
        | Q(priority=run.priority, created_at__lt=run.created_at)
        | Q(priority=run.priority, created_at=run.created_at, id__lt=run.pk)
    )
    return ahead.count() + 1


def queue_refresh_reasons(limit: int = 200) -> int:
    """Store the current blocking reason on queued runs (only where it changed)."""
    now = timezone.now()
    changed = 0
    for run in TaskRun.objects.filter(state=S.QUEUED).order_by(*_queue_order())[:limit]:
        if run.ready_at and run.ready_at > now:
            continue  # keeps its retry explanation
        reason = blocking_reason_for(run, now)
        if reason != run.blocking_reason:
            changed += TaskRun.objects.filter(pk=run.pk, state=S.QUEUED).update(blocking_reason=reason[:300])
    return changed


# --- Claims, leases, heartbeats --------------------------------------------------------------


@dataclass
class Claim:
    run: TaskRun
    lease: Lease


def _lease_delta() -> timedelta:
    return timedelta(seconds=settings.COMMAND_LEASE_SECONDS)


def _claimable(now, cap: int | None = None):
    """Queued, ready runs that nothing holds back: no other run holds their workspace and their
    owner is under the cap (settings.COMMAND_MAX_RUNS_PER_USER unless `cap` is given)."""
    cap = settings.COMMAND_MAX_RUNS_PER_USER if cap is None else cap
    held = TaskRun.objects.filter(
        state__in=TaskRun.WORKSPACE_HOLDING_STATES, mutates=True, workspace__isnull=False
    ).values("workspace_id")
    at_cap = (
        TaskRun.objects.filter(state__in=TaskRun.LEASED_STATES)
        .values("owner_id")
        .annotate(n=Count("id"))
        .filter(n__gte=cap)
        .values("owner_id")
    )
    return _eligible(now).exclude(mutates=True, workspace_id__in=held).exclude(owner_id__in=at_cap)


# The claim's statements, compiled once (tasks.engine.sql): the candidate list alone took 1.8 ms
# of CPU to compile per claim, against 0.13 ms for PostgreSQL to answer it.
_NOW, _CAP, _ID = Mark(TaskRun, "ready_at", datetime(2001, 2, 3, 4, 5, 6, 789, tzinfo=UTC)), COUNT, ID


@functools.cache
def _candidates_query(scan: int) -> CompiledQuery:
    def candidates():
        rows = _claimable(_NOW.value, cap=_CAP.value).order_by(*_queue_order())
        return rows.values_list("id", "workspace_id", "owner_id", "mutates")[:scan]

    # The states written out: the runs under way and the held workspaces are then read from their
    # partial indexes, not by scanning every run ever made (tasks.engine.sql._written_out).
    return CompiledQuery(candidates, _NOW, _CAP, literals=tuple(S.values))


@functools.cache
def _claim_read_sql(vendor: str, lock: bool) -> str:
    """Every column of the queued run (%s: its id), from the models' own table and column names (no
    outside input). With `lock` the run's row is locked unless another transaction holds it (then
    no row), and its owner's row is locked, waited for: that lock serialises one owner's claims,
    so the cap holds under concurrency."""
    quote = connection.ops.quote_name
    run_meta, owner_meta = TaskRun._meta, get_user_model()._meta

    def column(meta, name: str, table: str) -> str:
        return f"{table}.{quote(meta.get_field(name).column)}"

    run_columns = ", ".join(f"r.{quote(f.column)}" for f in run_meta.concrete_fields)
    sql = (
        f"SELECT {run_columns} FROM {quote(run_meta.db_table)} r"  # noqa: S608 - names from the models
        f" JOIN {quote(owner_meta.db_table)} u ON u.{quote(owner_meta.pk.column)} = {column(run_meta, 'owner', 'r')}"
        f" WHERE {column(run_meta, 'id', 'r')} = %s AND {column(run_meta, 'state', 'r')} = %s"
    )
    # The run's row first, skipped when taken, then the owner's: one statement, one round trip.
    return sql + " FOR UPDATE OF r SKIP LOCKED FOR UPDATE OF u" if lock else sql


def _claim_read(run_id: int) -> TaskRun | None:
    """The queued run, locked for the claim with its owner (_claim_read_sql); None when the run is
    no longer queued or another dispatcher holds its row."""
    features = connection.features
    lock = features.has_select_for_update_skip_locked and features.has_select_for_update_of
    row = fetch_one(_claim_read_sql(connection.vendor, lock), [run_id, S.QUEUED])
    return None if row is None else model_from_row(TaskRun, row)


@functools.cache
def _under_cap_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    table = quote(TaskRun._meta.db_table)
    owner, state = (quote(TaskRun._meta.get_field(name).column) for name in ("owner", "state"))
    # The leased states written out, not as parameters: the statement is prepared once per
    # connection, and only with the very condition of the partial index `run_leased_owner` can its
    # generic plan count from that index (with parameters it scanned the whole table per claim).
    states = ", ".join(f"'{s}'" for s in TaskRun.LEASED_STATES)
    return f"(SELECT COUNT(*) FROM {table} o WHERE o.{owner} = %s AND o.{state} IN ({states})) < %s"  # noqa: S608 - names and constants from the model


def _under_cap(owner_id, keep_free: int) -> Condition:
    """The claim's UPDATE's condition that the owner's runs under way, plus `keep_free` slots, stay
    under the cap. Counted by the UPDATE itself: a statement that starts after the owner's lock
    was granted sees every claim of that owner committed before it."""
    room = settings.COMMAND_MAX_RUNS_PER_USER - keep_free
    return Condition(_under_cap_sql(connection.vendor), (owner_id, room))


_RUN_STATE = CompiledQuery(lambda: TaskRun.objects.filter(pk=_ID.value).values_list("state"), _ID)


# Pauses before looking again when every claimable run was locked by another dispatcher's claim
# (a claim transaction lasts milliseconds).
_CONTENDED_PAUSES = (0.005, 0.02, 0.05)


def dispatch_claim(*, worker_id: str | None = None, run_id: int | None = None, scan: int = 50) -> Claim | None:
    """Claim the first eligible run (or exactly `run_id`) for this worker, or return None.

    Promises: the claimed run was queued and ready; its workspace was free (the database
    constraint decides races) and its owner under the cap; its attempt was incremented and a
    lease of COMMAND_LEASE_SECONDS granted; one event says which attempt started. A run that is
    already leased is never claimed twice (a duplicate delivery is a logged no-op). When the
    only runs it could claim were locked by another dispatcher's claim, it looks again a few
    times before it returns None, so two workers draining one owner's runs do not give up on
    each other.
    """
    worker_id = worker_id or worker_identity()
    if run_id is not None:
        claim = _claim_pass(worker_id, run_id, scan)
        return claim if isinstance(claim, Claim) else None
    for pause in (*_CONTENDED_PAUSES, None):
        claim = _claim_pass(worker_id, None, scan)
        if claim != "contended" or pause is None:
            return claim if isinstance(claim, Claim) else None
        time.sleep(pause)
    return None


def _claim_pass(worker_id: str, run_id: int | None, scan: int) -> Claim | str | None:
    """One look at the queue: the claim, "contended" (a candidate was locked by another
    dispatcher and nothing was claimed), or None."""
    now = timezone.now()
    if run_id is not None:
        rows = list(_eligible(now).filter(pk=run_id).values_list("id", "workspace_id", "owner_id", "mutates"))
        if not rows:
            logger.info("RUN-%03d is not claimable (already leased, finished or not ready): no-op", run_id)
            return None
    else:
        # Leave out runs that cannot start now, so a long blocked queue never hides a free one.
        rows = fetch_all(*_candidates_query(scan).sql_params(now, settings.COMMAND_MAX_RUNS_PER_USER))
    return _claim_first(rows, worker_id, now)


def _claim_first(rows: list, worker_id: str, now) -> Claim | str | None:
    """Claim the first of `rows` (candidates in queue order) that may start, as _claim_pass answers."""
    # A run passed over (workspace held, owner at the cap) holds back the runs behind it on the
    # same workspace and of the same owner: skipping ahead would break the queue order those runs
    # are owed. A run another dispatcher is claiming right now ("locked") holds back its
    # workspace, and keeps one of its owner's slots under the cap free for itself: a later run of
    # the same owner may start alongside it, never in its place.
    held_workspaces: set = set()
    held_owners: set = set()
    being_claimed: Counter = Counter()
    for candidate_id, workspace_id, owner_id, mutates in rows:
        if owner_id in held_owners or (mutates and workspace_id is not None and workspace_id in held_workspaces):
            continue
        try:
            with transaction.atomic():
                claim = _try_claim(candidate_id, worker_id, now, keep_free=being_claimed[owner_id])
        except IntegrityError:
            # Another run took the workspace between our check and our write: the database said no.
            logger.info("RUN-%03d: workspace taken concurrently; trying the next run", candidate_id)
            claim = "workspace"
        if isinstance(claim, Claim):
            return claim
        if claim == "locked":
            being_claimed[owner_id] += 1
        if claim == "cap":
            held_owners.add(owner_id)
        if claim in ("locked", "workspace") and mutates and workspace_id is not None:
            held_workspaces.add(workspace_id)
    return "contended" if being_claimed else None


def _try_claim(candidate_id: int, worker_id: str, now, keep_free: int = 0) -> Claim | str:
    """The claim, or why not: "locked" (another dispatcher is claiming it), "taken" (no longer
    queued: claimed, paused or stopped since the candidates were read), "workspace", or "cap"
    (the owner's runs under way, plus `keep_free` slots, reach the cap)."""
    run = _claim_read(candidate_id)
    if run is None:
        # SKIP LOCKED returns nothing for a row another transaction holds, and for a row that is
        # no longer queued; a plain read (it never waits) tells the two apart.
        state = fetch_one(*_RUN_STATE.sql_params(candidate_id))
        return "locked" if state is not None and state[0] == S.QUEUED else "taken"
    if _workspace_holder(run) is not None:
        return "workspace"
    if keep_free >= settings.COMMAND_MAX_RUNS_PER_USER:
        return "cap"
    attempt = run.attempt + 1
    # A run never claimed before has only pending steps (they are created pending).
    resumed = (
        run.attempt > 0 and StepExecution.objects.filter(run=run).exclude(status=StepExecution.Status.PENDING).exists()
    )
    try:
        _claim_write(run, worker_id, now, attempt, resumed, _under_cap(run.owner_id, keep_free))
    except ConditionNotMet:
        return "cap"
    return Claim(run=run, lease=Lease(attempt=attempt, worker_id=worker_id))


def _claim_write(run: TaskRun, worker_id: str, now, attempt: int, resumed: bool, cap: Condition) -> None:
    run_transition(
        run=run,
        locked=True,  # _claim_read's SELECT … FOR UPDATE
        condition=cap,
        to=S.RUNNING,
        title=(f"Attempt {attempt} resumed {run.reference}" if resumed else f"{run.reference} started"),
        explanation="Picked up by a worker" + (" and continuing from the last completed step." if resumed else "."),
        payload={"attempt": attempt},
        attempt=attempt,
        worker_id=worker_id,
        heartbeat_at=now,
        lease_expires_at=now + _lease_delta(),
        ready_at=None,
        blocking_reason="",
    )


def lease_fence_values(*, run_id: int, lease: Lease) -> tuple[dict, dict]:
    """(the WHERE that holds only while `lease` holds the run, the lease's renewal from now): what
    every fenced write of the run's row is made of."""
    now = timezone.now()
    fence = {"pk": run_id, "attempt": lease.attempt, "worker_id": lease.worker_id, "state__in": TaskRun.LEASED_STATES}
    return fence, {"heartbeat_at": now, "lease_expires_at": now + _lease_delta()}


def run_heartbeat(
    *, run_id: int, lease: Lease, take_seq: bool = False, read: tuple[str, ...] = (), **fields
) -> tuple | None:
    """Extend the lease; LeaseLost when the run is no longer held with this lease. Extra `fields`
    (e.g. current_step_id) are written in the same fenced UPDATE. With `take_seq` the same UPDATE
    also takes the next event seq and returns (seq, attempt) for event_emit(advanced=…), followed
    by the run's fields named in `read` as the UPDATE left them."""
    started = time.monotonic()
    fence, renewed = lease_fence_values(run_id=run_id, lease=lease)
    seq = {"increment": ("event_seq",), "returning": ("event_seq", "attempt", *read)} if take_seq else {}
    updated = update_where(TaskRun, fence, **renewed, **seq, **fields)
    if not updated:
        raise LeaseLost(f"RUN-{run_id:03d}: lease {lease.attempt} is no longer held.")
    # The run's running commands live on until a margin before this renewal's expiry. (Inside a
    # transaction only between steps, when no command of the run is running.)
    lease_renewed(run_id, started)
    return updated if take_seq else None


def dispatch_pending() -> bool:
    """Whether a queued run is ready now (so another dispatch job is worth enqueueing)."""
    return _eligible(timezone.now()).exists()


def planning_job_waiting() -> bool:
    """Whether a planning job (PLANNING_JOB) is in django-q2's queue: enqueued, or taken by a
    worker and not yet done. The queue holds a few rows at most; the signed payloads say which job
    each is (a row that cannot be read is not counted)."""
    from django_q.conf import Conf
    from django_q.models import OrmQ

    rows = OrmQ.objects.filter(key=Conf.CLUSTER_NAME).only("payload")[:200]
    return any(row.task.get("func") == PLANNING_JOB for row in rows)


def dispatch_claimable() -> bool:
    """Whether a queued, ready run is held back by nothing (no busy workspace, owner under the cap)."""
    return _claimable(timezone.now()).exists()
