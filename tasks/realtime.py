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
    """Rows as one htmx out-of-band swap appended to the run's workstream container, plus the
    run's step list (live plan-step status) and an empty narration line: a real event replaces
    any fallback narration at once."""
    from approvals.selectors import approvals_for_run
    from tasks.selectors import run_status, run_steps

    run = TaskRun.objects.select_related("task").get(pk=run_id)
    approvals = None
    if run.state == TaskRun.State.WAITING_APPROVAL or any(e.kind.startswith("approval") for e in events):
        approvals = list(approvals_for_run(owner=run.owner_id, run_id=run_id).order_by("created_at"))
    context = {
        "approvals": approvals,
        "run_id": run_id,
        "run": run,
        "events": events,
        "tone": run.task.tone,
        "steps": run_steps(run=run),
        "status": run_status(run=run),
        "oob": True,
    }
    html = render_to_string("tasks/partials/workstream_oob.html", context)
    return Delivery(html=html, last_seq=events[-1].seq)


# --- The task switcher over the user's group ---------------------------------------------------


def switcher_signature(*, user) -> tuple:
    from tasks.selectors import switcher_signature as signature

    return signature(owner=user)


def render_switcher_oob(*, user) -> str:
    """The whole switcher as an out-of-band swap: new runs appear, finished ones move down, and
    the single notice replaces the previous one instead of stacking."""
    from tasks.selectors import switcher_entries, switcher_notice

    context = {"switcher": switcher_entries(owner=user), "notice": switcher_notice(owner=user), "oob": True}
    return render_to_string("tasks/partials/switcher.html", context)


# --- Fallback narration ----------------------------------------------------------------------


def narration_for(*, run_id: int, quiet_seconds: float) -> str:
    """One calm line when a working run's stream has been quiet for `quiet_seconds`, built only
    from persisted state: the current step's number, total and title, and how long it has been
    going. "" when the run is not working or the stream is not quiet. Never names a file, a
    command or a result: those only come from real events."""
    from django.utils import timezone

    from tasks.models import StepExecution

    run = TaskRun.objects.filter(pk=run_id).only("state", "current_step_id", "updated_at").first()
    if run is None or run.state not in TaskRun.LEASED_STATES:
        return ""
    now = timezone.now()
    last = WorkstreamEvent.objects.filter(run_id=run_id).order_by("-seq").values_list("created_at", flat=True).first()
    if last is not None and (now - last).total_seconds() < quiet_seconds:
        return ""
    steps = list(
        StepExecution.objects.filter(run_id=run_id).order_by("position").values("step_id", "title", "started_at")
    )
    index = next((i for i, s in enumerate(steps) if s["step_id"] == run.current_step_id), None)
    since = (steps[index]["started_at"] if index is not None else None) or last
    elapsed = f" — {_duration((now - since).total_seconds())}" if since else ""
    if run.state == TaskRun.State.VERIFYING and index is None:
        return f"Still verifying the results{elapsed}."
    if index is None:
        return f"Still working{elapsed}."
    return f"Still on step {index + 1} of {len(steps)}: {steps[index]['title']}{elapsed}."


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def render_narration_oob(*, run_id: int, text: str) -> str:
    return render_to_string("tasks/partials/narration.html", {"run_id": run_id, "text": text, "oob": True})
