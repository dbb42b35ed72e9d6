"""Workstream events: every engine fact, written first, then published after commit.

The database is the source of truth; the channel layer is only delivery, so a publishing
failure is logged and never fatal. Pushes carry ids only: consumers check ownership and render
the row from the database themselves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading

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
    """Tell listeners that an event exists. Never raises: the database already has the event.

    The run's group gets it first (that is what delivers the row); the owner's group gets the same
    news for the task switcher of every page of the owner's that shows one.
    """
    try:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": "workstream.event", "run_id": run_id, "event_id": event_id, "seq": seq}

        async def send() -> None:
            # "group" lets a socket in both groups tell the copies apart: only the owner's copy
            # concerns the switcher.
            await layer.group_send(run_group(run_id), {**message, "group": "run"})
            await layer.group_send(user_group(owner_id), {**message, "group": "user"})

        if _is_in_memory(layer):
            # In-process layer: its queues belong to the serving event loop, which async_to_sync
            # reaches from a sync_to_async thread.
            async_to_sync(send)()
        else:
            _publisher.run(send())
    except Exception:  # noqa: BLE001 - delivery is best effort; the event is persisted
        logger.warning("Could not publish workstream event %s of run %s", event_id, run_id, exc_info=True)


def _is_in_memory(layer) -> bool:
    from channels.layers import InMemoryChannelLayer

    return isinstance(layer, InMemoryChannelLayer)


class _Publisher:
    """One event loop thread per process for publishing to a networked channel layer.

    async_to_sync from a plain thread (a worker, the bench) starts a new event loop per call, and
    channels-redis opens a new connection per loop: measured ~10 ms per published event, inside
    the live latency. This loop lives as long as the process, so the layer's connection does too.
    A forked child (django-q2 workers fork) has no such thread, so it starts its own on first use.
    """

    TIMEOUT = 10.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def reset_after_fork(self) -> None:
        self._lock, self._loop = threading.Lock(), None

    def run(self, coroutine) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        future.result(self.TIMEOUT)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="workstream-publisher", daemon=True).start()
            return self._loop


_publisher = _Publisher()
os.register_at_fork(after_in_child=_publisher.reset_after_fork)
