"""The run state machine. Every transition is one function call that checks legality, persists
conditionally (the lease's attempt and worker id are the fencing token), mirrors the state on
the task, and emits a workstream event — all in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tasks.engine.errors import ConditionNotMet, IllegalTransition, LeaseLost
from tasks.engine.events import event_rows, events_write, events_written
from tasks.engine.sql import ID, CompiledQuery, Condition, fetch_all, fetch_one, update_where, update_with_rows
from tasks.models import StepExecution, Task, TaskRun

S = TaskRun.State

TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.RUNNING, S.PAUSED, S.CANCELLED}),
    S.RUNNING: frozenset({S.VERIFYING, S.WAITING_APPROVAL, S.PAUSED, S.QUEUED, S.FAILED, S.RECOVERABLE, S.CANCELLED}),
    S.VERIFYING: frozenset(
        {S.RUNNING, S.COMPLETED, S.WAITING_APPROVAL, S.PAUSED, S.QUEUED, S.FAILED, S.RECOVERABLE, S.CANCELLED}
    ),
    S.WAITING_APPROVAL: frozenset({S.QUEUED, S.FAILED, S.RECOVERABLE, S.CANCELLED}),
    S.PAUSED: frozenset({S.QUEUED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.RECOVERABLE: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)

# How each run state reads on the task it belongs to.
TASK_STATUS = {state: state for state in S.values}

_EVENT_STATUS = {
    S.COMPLETED: "success",
    S.FAILED: "danger",
    S.RECOVERABLE: "warning",
    S.CANCELLED: "muted",
    S.WAITING_APPROVAL: "warning",
    S.PAUSED: "muted",
}


@dataclass(frozen=True)
class Lease:
    """The fencing token a worker holds while it executes a run."""

    attempt: int
    worker_id: str

    def as_tuple(self) -> tuple[int, str]:
        return (self.attempt, self.worker_id)


# Steps whose own success is their check: a command's recorded exit code 0, a read.
SELF_CHECKING_ACTIONS = frozenset({"run_command", "read_file"})


def run_steps(run: TaskRun) -> list[tuple[str, str, str]]:
    """The run's steps as (action_type, status, title), in plan order: what the gate looks at."""
    return [tuple(row) for row in fetch_all(*_RUN_STEPS.sql_params(run.pk))]


_RUN_ID = ID
_RUN_STEPS = CompiledQuery(
    lambda: (
        StepExecution.objects.filter(run_id=_RUN_ID.value)
        .order_by("position")
        .values_list("action_type", "status", "title")
    ),
    _RUN_ID,
)


# A step a model asked for that failed and whose failure the model was told counts as settled:
# the run went on from it (tasks.engine.loop), and a check still had to pass after it.
_SETTLED = (StepExecution.Status.SUCCEEDED, StepExecution.Status.SKIPPED, StepExecution.Status.FED_BACK)


def _passed_later(steps: list[tuple[str, str, str]], index: int) -> bool:
    return any(s[0] == "verify" and s[1] == StepExecution.Status.SUCCEEDED for s in steps[index + 1 :])


def verification_passed(run: TaskRun, steps: list[tuple[str, str, str]] | None = None) -> tuple[bool, str]:
    """Whether the run's verification gate holds: every verify step passed, and no step was left
    unfinished or failed. A plan without verify steps passes only when every step checks itself
    (a command that exited 0, a read); anything else unverified is never called completed.
    `steps` is run_steps(run) when the caller has just read it. Returns (ok, reason when not)."""
    steps = run_steps(run) if steps is None else steps
    verify = [s for s in steps if s[0] == "verify"]
    unchecked = [s for s in steps if s[0] not in SELF_CHECKING_ACTIONS and s[0] != "verify"]
    if not verify and (unchecked or not steps):
        return False, "The plan has no verification step, so Command cannot show that the work is right."
    # A check of a model-driven run that failed and went back to the model is settled only by a
    # later check that passed; the last check must always have passed.
    failed = [
        s
        for i, s in enumerate(steps)
        if s[0] == "verify"
        and s[1] != StepExecution.Status.SUCCEEDED
        and not (s[1] == StepExecution.Status.FED_BACK and _passed_later(steps, i))
    ]
    if failed:
        return False, f"Verification did not pass: “{failed[0][2]}”."
    unfinished = [s for s in steps if s[1] not in _SETTLED]
    if unfinished:
        return False, f"Step “{unfinished[0][2]}” did not finish."
    return True, ""


def _check_transition(run: TaskRun, current: TaskRun, to: str, lease: Lease | None, steps=None, via=None) -> None:
    if lease is not None and (current.attempt, current.worker_id) != lease.as_tuple():
        raise LeaseLost(f"{run.reference}: attempt {lease.attempt} was superseded; nothing written.")
    if via is not None and via.state not in TRANSITIONS[current.state]:
        raise IllegalTransition(f"{run.reference} cannot go from {current.state} to {via.state}.")
    source = current.state if via is None else via.state
    if to not in TRANSITIONS[source]:
        raise IllegalTransition(f"{run.reference} cannot go from {source} to {to}.")
    if to == S.COMPLETED:
        ok, why = verification_passed(current, steps)
        if not ok:
            raise IllegalTransition(f"{run.reference} cannot be completed: {why}")


@dataclass(frozen=True)
class Via:
    """A state a transition passes through on its way (its own event, no fields of its own)."""

    state: str
    title: str
    explanation: str = ""


def run_transition(
    *,
    run: TaskRun,
    to: str,
    title: str,
    reason: str = "",
    explanation: str = "",
    lease: Lease | None = None,
    payload: dict | None = None,
    locked: bool = False,
    steps: list[tuple[str, str, str]] | None = None,
    via: Via | None = None,
    condition: Condition | None = None,
    **fields,
) -> TaskRun:
    """Move `run` to state `to`, or raise.

    Promises: the transition is legal from the state currently in the database (else
    IllegalTransition); with `lease`, it happens only while that lease is still current (else
    LeaseLost, and nothing is written); `completed` only when the verification gate holds;
    the task mirrors the run state; one workstream event says what happened. Extra `fields`
    (e.g. ready_at, blocking_reason) are written in the same UPDATE. With `locked` the caller
    already holds the run's row lock in the current transaction and `run` is the row as read (or
    last transitioned) under that lock, so it is not read again; then `steps` may be the run's
    steps as run_steps read them under that lock, for the gate of `completed`.
    With `via` the run passes through that state first (e.g. `verifying` on the way to `completed`):
    both moves must be legal, each gets its event (the via state's first), and both are written
    by the same statements as one transition (one UPDATE taking both seqs, one INSERT).
    With `condition` the run's UPDATE also requires it (e.g. a count the claim's cap sets, read by
    that same statement); when it does not hold, ConditionNotMet and nothing is written.
    """
    if locked:
        current = _as_read(run)
        _check_transition(run, current, to, lease, steps, via)  # refusals write nothing: no savepoint needed
    # Under the caller's lock the block below only raises when the whole transaction must go.
    with transaction.atomic(savepoint=not locked):
        if not locked:
            current = run_lock(run.pk)
            _check_transition(run, current, to, lease, via=via)
        now = timezone.now()
        values = {"state": to, "state_reason": reason, **fields}
        if to in TERMINAL:
            values.setdefault("finished_at", now)
            values.setdefault("blocking_reason", "")
            values.setdefault("control_request", "")
        if to not in TaskRun.LEASED_STATES:
            # Leaving a leased state ends the lease: a late write with the old token is fenced.
            values.update(worker_id="", heartbeat_at=None, lease_expires_at=None)
        if to == S.RUNNING and current.started_at is None:
            values["started_at"] = now
        conditions = {"pk": run.pk, "state": current.state, "attempt": current.attempt}
        if lease is not None:
            conditions["worker_id"] = lease.worker_id
        events = []
        if via is not None:
            events.append(
                {
                    "kind": "run.state",
                    "phase": "run",
                    "status": _EVENT_STATUS.get(via.state, "info"),
                    "title": via.title,
                    "explanation": via.explanation,
                    "payload": {"from": current.state, "to": via.state},
                }
            )
        events.append(
            {
                "kind": "run.state",
                "phase": "run",
                "status": _EVENT_STATUS.get(to, "info"),
                "title": title,
                "explanation": explanation or reason,
                "payload": {"from": current.state if via is None else via.state, "to": to, **(payload or {})},
            }
        )
        task_values = {"status": TASK_STATUS[to], "updated_at": now}
        if connection.vendor == "postgresql":
            # The run's UPDATE (taking the events' seqs), the task's and the events' INSERT in one
            # statement: one round trip instead of three.
            rows = event_rows(run=run, events=events)
            also = (Task, current.task_id, task_values)
            advanced = update_with_rows(
                TaskRun,
                conditions,
                counter="event_seq",
                also=also,
                rows=rows,
                condition=condition,
                updated_at=now,
                **values,
            )
            _refused_unless(advanced, run, condition)
            events_written(run=run, rows=rows, advanced=advanced)
        else:
            # The events' seqs are taken from the run's counter in this same UPDATE.
            advanced = update_where(
                TaskRun,
                conditions,
                increment=("event_seq",) * len(events),
                returning=("event_seq", "attempt"),
                condition=condition,
                updated_at=now,
                **values,
            )
            _refused_unless(advanced, run, condition)
            update_where(Task, {"pk": current.task_id}, **task_values)
            events_write(run=run, events=events, advanced=advanced)
        for key, value in values.items():
            setattr(run, key, value)
        run.attempt = values.get("attempt", current.attempt)
    return run


def _refused_unless(advanced, run: TaskRun, condition: Condition | None) -> None:
    """Raise when the run's UPDATE wrote nothing. The row is locked by this transaction and its
    state, attempt and worker were checked under that lock, so with a `condition` it is the
    condition that did not hold."""
    if advanced is not None:
        return
    if condition is not None:
        raise ConditionNotMet(f"{run.reference}: the transition's condition did not hold; nothing written.")
    raise LeaseLost(f"{run.reference} changed under this transition; nothing written.")


_LOCKED_FIELDS = ("task_id", "state", "attempt", "worker_id", "started_at", "control_request")


def _as_read(run: TaskRun) -> TaskRun:
    return TaskRun(pk=run.pk, **{name: getattr(run, name) for name in _LOCKED_FIELDS})


def run_lock(run_id: int) -> TaskRun:
    """Lock the run's row for the current transaction and read what a transition checks (the
    fields in _LOCKED_FIELDS, on an unsaved TaskRun); TaskRun.DoesNotExist when it is gone."""
    row = fetch_one(*_RUN_LOCK.sql_params(run_id))
    if row is None:
        raise TaskRun.DoesNotExist(f"RUN-{run_id:03d} does not exist.")
    current = TaskRun(pk=run_id, **dict(zip(_LOCKED_FIELDS, row, strict=True)))
    # A plain cursor skips the ORM's converters: the task's UUID and the start time as the ORM reads them.
    current.task_id = TaskRun._meta.get_field("task").target_field.to_python(current.task_id)
    current.started_at = _aware(current.started_at)
    return current


def _aware(value):
    if isinstance(value, str):
        value = parse_datetime(value)
    return timezone.make_aware(value, UTC) if value is not None and timezone.is_naive(value) else value


_RUN_LOCK = CompiledQuery(
    lambda: TaskRun.objects.select_for_update().filter(pk=_RUN_ID.value).values_list(*_LOCKED_FIELDS)[:1], _RUN_ID
)
