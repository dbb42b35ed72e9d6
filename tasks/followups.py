"""Iteration in the thread: a follow-up on the results, and Regenerate on one result.

Both make a new plan revision and a new run on the same task; their deliverables keep their ids,
so what they deliver files as the next version of the same asset, with the previous one as its
parent (outputs.services.asset_deliver). Nothing starts while a run of the task is unfinished.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from providers.contracts import Plan, PlannerResult, UnderstandingSnapshot
from providers.planner import BUILTIN_LABEL
from providers.planner.builtin.followup import read_follow_up
from tasks.models import PlanRevision, Task, TaskRun
from tasks.planning import PlanningRefused, _planning_connection, _store

UNFINISHED = {
    TaskRun.State.QUEUED,
    TaskRun.State.RUNNING,
    TaskRun.State.WAITING_APPROVAL,
    TaskRun.State.PAUSED,
    TaskRun.State.VERIFYING,
}
CONTEXT_CHARS = 4000
REGENERATE = "Regenerate “"


@dataclass(frozen=True)
class Iteration:
    """What a follow-up or a regenerate did: the revision and run it started (None when it could
    not start one, or while a provider plans), and the sentence the thread shows."""

    revision: PlanRevision | None
    run: TaskRun | None
    note: str


def _locked_ready(task: Task) -> tuple[Task, PlanRevision]:
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.runs.filter(state__in=UNFINISHED).exists():
        raise PlanningRefused("A run of this task is still going; follow up once it has finished.")
    revisions = list(task.plan_revisions.order_by("-number")[:50])
    if not revisions:
        raise PlanningRefused("This task has no plan yet, so there is nothing to follow up on.")
    # A regenerate's revision holds one deliverable's steps; the task's whole plan is the one before.
    whole = next((r for r in revisions if not r.change_note.startswith(REGENERATE)), revisions[0])
    return task, whole


def _previous_outputs_text(task: Task) -> str:
    """The latest version of each result as text, for a model planning the follow-up."""
    import tempfile
    from pathlib import Path

    from outputs.changes import text_of
    from outputs.services import asset_materialise

    parts = []
    for asset in task.assets.filter(is_latest=True).order_by("deliverable_key"):
        with tempfile.TemporaryDirectory(prefix="command-ctx") as tmp:
            try:
                local = asset_materialise(asset=asset, dest_dir=Path(tmp))
                text = text_of(asset.category, local.parent, local.name)
            except Exception:
                text = None
        body = text[:CONTEXT_CHARS] if text else f"(a {asset.get_category_display().lower()} with no text to show)"
        parts.append(
            f"“{asset.title}” v{asset.version} ({asset.category}, deliverable {asset.deliverable_key}):\n{body}"
        )
    return "\n\n".join(parts)


def _start(task: Task, revision: PlanRevision) -> TaskRun | None:
    from tasks.engine.dispatch import run_create

    task.status = Task.Status.PLANNED
    task.save(update_fields=["status", "updated_at"])
    previous = task.runs.order_by("-created_at").first()
    return run_create(task=task, plan_revision=revision, previous_run=previous)


@transaction.atomic
def task_follow_up(*, task: Task, text: str) -> Iteration:
    """Act on a follow-up typed under the results of a finished run.

    A provider's plan goes back to that provider, and a built-in plan to the owner's default
    provider when one is connected, with the follow-up and the previous outputs' text; its job
    stores the revision and starts the run. Otherwise the built-in follow-up reader changes the
    plan (palette and colours, format, counts); when it could read nothing, no revision is stored
    and the note says so. Refuses an empty follow-up, a task with a run still
    going, and a provider's plan whose provider is no longer connected.
    """
    words = " ".join(text.split())
    if not words:
        raise PlanningRefused("A follow-up needs some words: what should change in the results?")
    task, latest = _locked_ready(task)
    history = [*task.context.get("follow_ups", []), words][-20:]
    if latest.planner == BUILTIN_LABEL:
        from providers.selectors import provider_connection_default

        # A model connected since the built-in plan reads the follow-up in the person's own words.
        connection = provider_connection_default(owner=task.owner)
    else:
        connection = _planning_connection(task, latest.planner)
        if connection is None:
            raise PlanningRefused(
                f"{latest.planner} made this plan and is no longer connected, so it cannot act on your "
                "follow-up. Connect it again under Providers, then retry."
            )
    if connection is not None:
        from django.utils import timezone
        from django_q.tasks import async_task

        from tasks.engine.dispatch import PLANNING_JOB

        context = _previous_outputs_text(task)
        refinement = f"Follow-up on the delivered results: {words}"
        if context:
            refinement += f"\n\nThe previous outputs, as delivered:\n{context}"
        task.status = Task.Status.UNDERSTANDING
        task.context = {
            **task.context,
            "follow_ups": history,
            "provider_pending": {
                "connection_id": str(connection.id),
                "label": connection.planner_label,
                "after_revision": latest.number,
                "since": timezone.now().isoformat(),
                "refinement": refinement,
            },
        }
        task.save(update_fields=["status", "context", "updated_at"])
        async_task(
            PLANNING_JOB, str(task.id), str(connection.id), latest.number, task_name=f"follow-up {task.reference}"
        )
        return Iteration(
            None, None, f"Asked {connection.planner_label} to act on “{words}”, with the previous outputs."
        )

    reading = read_follow_up(words, plan=latest.plan, understanding=latest.understanding)
    if not reading.changed:
        return Iteration(
            None,
            None,
            f"The built-in, rule-based planner could not act on “{words}”: it can change colours and "
            "palette words, the file format and counts (“a fourth tier”), and your words named none of them, "
            "so nothing was run. Connect a model provider to follow up in your own words.",
        )
    note = f"Follow-up: “{words}”. Applied: {'; '.join(reading.applied)}."
    if reading.not_applied:
        note += f" Not applied (the built-in planner cannot act on it): “{'; '.join(reading.not_applied)}”."
    result = PlannerResult(
        understanding=UnderstandingSnapshot.model_validate(reading.understanding),
        brief=latest.brief,
        plan=Plan.model_validate(reading.plan),
    )
    revision = _store(task=task, result=result, planner=BUILTIN_LABEL, change_note=note)
    task.context = {**task.context, "follow_ups": history}
    task.save(update_fields=["context", "updated_at"])
    return Iteration(revision, _start(task, revision), note)


@transaction.atomic
def asset_regenerate(*, task: Task, asset) -> Iteration:
    """A new run of the steps that make ``asset``'s deliverable, from the latest plan.

    The new run's delivery is the next version of the asset. The built-in author writes the same
    file for the same brief, so a built-in regenerate may well match the previous version byte for
    byte; the new version's card says so (outputs.changes) rather than claiming a change.
    """
    if asset.task_id != task.pk:
        raise PlanningRefused("That result belongs to another task.")
    task, latest = _locked_ready(task)
    steps = [s for s in latest.plan.get("steps", []) if s.get("deliverable_id") == asset.deliverable_key]
    if not steps:
        raise PlanningRefused(f"The latest plan no longer makes “{asset.title}”, so it cannot be regenerated.")
    plan = {**latest.plan, "steps": steps}
    note = f"{REGENERATE}{asset.title}” (v{asset.version}): a new run of its {len(steps)} steps only."
    if latest.planner == BUILTIN_LABEL:
        note += " The built-in author writes the same content for the same brief, so the new version may be identical."
    result = PlannerResult(
        understanding=UnderstandingSnapshot.model_validate(latest.understanding),
        brief=latest.brief,
        plan=Plan.model_validate(plan),
    )
    revision = _store(task=task, result=result, planner=latest.planner, change_note=note)
    return Iteration(revision, _start(task, revision), note)
