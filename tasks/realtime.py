"""Realtime delivery of the workstream: the database is the log, the socket only delivers it.

The consumer keeps a per-run cursor (the last `seq` the browser has) and always reads what comes
after it from the database, so a push, a replay after reconnect and the embedded-mode table tail
all go through the same path: rows arrive once, in order, without gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string

from tasks.models import TaskRun, WorkstreamEvent

REPLAY_BATCH = 200


def run_group(run_id: int) -> str:
    return f"run-{run_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def run_is_visible_to(*, run_id: int, user) -> bool:
    """Ownership check for a socket subscription (404-equivalent: simply not visible)."""
    return TaskRun.objects.filter(pk=run_id, owner_id=user.pk).exists()


def events_after(*, run_id: int, after: int, limit: int = REPLAY_BATCH) -> list[WorkstreamEvent]:
    return list(WorkstreamEvent.objects.filter(run_id=run_id, seq__gt=after).order_by("seq")[:limit])


def latest_seq(*, run_ids: list[int]) -> dict[int, int]:
    """The newest seq per run, in one query (the cheap check the table tail makes)."""
    from django.db.models import Max

    rows = WorkstreamEvent.objects.filter(run_id__in=run_ids).values("run_id").annotate(last=Max("seq"))
    return {row["run_id"]: row["last"] for row in rows}


@dataclass(frozen=True)
class Delivery:
    html: str
    last_seq: int


def render_rows_oob(*, run_id: int, events: list[WorkstreamEvent]) -> Delivery:
    """Rows as one htmx out-of-band swap appended to the run's workstream container."""
    html = render_to_string("tasks/partials/workstream_oob.html", {"run_id": run_id, "events": events})
    return Delivery(html=html, last_seq=events[-1].seq)
