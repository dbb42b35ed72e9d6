"""Workstream events: every engine fact, written first, then published after commit.

The database is the source of truth; the channel layer is only delivery, so a publishing
failure is logged and never fatal. Pushes carry ids only: consumers check ownership and render
the row from the database themselves.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from django.db import transaction
from django.db.models import F

from tasks.engine.errors import LeaseLost
from tasks.models import TaskRun, WorkstreamEvent

logger = logging.getLogger(__name__)


def run_group(run_id: int) -> str:
    return f"run-{run_id}"


def user_group(user_id) -> str:
    return f"user-{user_id}"


def event_emit(
    *,
    run: TaskRun,
    kind: str,
    title: str,
    phase: str = "",
    status: str = "",
    explanation: str = "",
    step_id: str = "",
    file_path: str = "",
    command: str = "",
    payload: dict | None = None,
    lease: tuple[int, str] | None = None,
) -> WorkstreamEvent:
    """Persist one workstream event with the run's next gapless `seq`, publish it after commit.

    The seq counter on the run row is incremented in the same transaction as the insert, so a
    rolled-back event leaves no gap and two writers never share a number. With `lease`
    (attempt, worker_id) the write is fenced: a worker whose lease was superseded gets LeaseLost
    and writes nothing.
    """
    with transaction.atomic():
        counter = TaskRun.objects.filter(pk=run.pk)
        if lease is not None:
            counter = counter.filter(attempt=lease[0], worker_id=lease[1], state__in=TaskRun.LEASED_STATES)
        if not counter.update(event_seq=F("event_seq") + 1):
            raise LeaseLost(f"{run.reference}: this worker's lease was superseded; event not written.")
        seq, attempt = TaskRun.objects.filter(pk=run.pk).values_list("event_seq", "attempt").get()
        event = WorkstreamEvent.objects.create(
            run_id=run.pk,
            seq=seq,
            attempt=attempt,
            kind=kind,
            phase=phase,
            status=status,
            title=title[:300],
            explanation=explanation,
            step_id=step_id,
            file_path=file_path,
            command=command,
            payload=payload or {},
        )
        run.event_seq = seq
        owner_id = run.owner_id
        transaction.on_commit(lambda: event_publish(run_id=run.pk, owner_id=owner_id, event_id=event.pk, seq=seq))
    return event


def event_publish(*, run_id: int, owner_id, event_id: int, seq: int) -> None:
    """Tell listeners that an event exists. Never raises: the database already has the event."""
    try:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": "workstream.event", "run_id": run_id, "event_id": event_id, "seq": seq}
        send = async_to_sync(layer.group_send)
        send(run_group(run_id), message)
        send(user_group(owner_id), message)
    except Exception:  # noqa: BLE001 - delivery is best effort; the event is persisted
        logger.warning("Could not publish workstream event %s of run %s", event_id, run_id, exc_info=True)
