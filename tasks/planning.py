"""Understanding and planning a task: run a planner, store a PlanRevision, set the task's status.

The built-in planner answers within the request that created the task. When the owner has a
default provider connection, a django-q2 job asks the provider too and the task visibly waits in
`understanding` until it answers (or until Command falls back, saying why). Every change to the
plan is a new revision with a "what changed and why" note; old revisions stay readable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from approvals.selectors import format_defaults_for, remembered_answers_for
from approvals.services import clarification_remember, memory_touch
from providers.contracts import ExecutionBrief, Plan, PlannerResult, UnderstandingSnapshot
from providers.planner import BUILTIN_LABEL, BuiltinPlanner, PlanningRequest
from providers.planner.builtin.planner import remembered_that_apply
from providers.selectors import provider_connection_default
from tasks.models import PlanRevision, Task
from workspaces.models import Workspace

log = logging.getLogger(__name__)

# Statuses in which the understanding may still change without touching a run.
PRE_RUN_STATUSES = frozenset(
    {
        Task.Status.RECEIVED,
        Task.Status.UNDERSTANDING,
        Task.Status.NEEDS_CLARIFICATION,
        Task.Status.NEEDS_PROVIDER,
        Task.Status.PLANNED,
    }
)


_GONE = "The provider connection was revoked or removed before it answered; the built-in reading stands."


class PlanningRefused(Exception):
    """A planning change Command will not make; the message says why."""


def _planning_request(
    task: Task, *, answers: dict[str, str], prompt: str | None = None, for_model: bool = False
) -> PlanningRequest:
    """What a planner is given. Remembered answers are only those that answer a question this very
    request raises (remembered_that_apply): no other request, and no provider, ever sees the rest.
    An asset brought in with “Use in a new request” is read too (tasks.imports): the built-in
    planner plans what the request turns it into, a model is given the asset's text."""
    if task.context.get("imported_assets"):
        from tasks.imports import imported_prompt

        prompt = imported_prompt(task, prompt=prompt, for_model=for_model)
    request = PlanningRequest(
        prompt=task.raw_prompt if prompt is None else prompt,
        mode=task.mode,
        tone=task.tone,
        expertise=task.expertise,
        workspace_name=task.workspace.name if task.workspace_id else None,
        upload_names=tuple(task.uploads.values_list("original_name", flat=True)),
        answers=answers,
        remembered_answers=dict(remembered_answers_for(owner=task.owner)),
        format_defaults=dict(format_defaults_for(owner=task.owner)),
    )
    applicable = remembered_that_apply(request)
    return replace(request, remembered_answers={key: answer for key, (_q, answer) in applicable.items()})


def _count_remembered_use(task: Task, request: PlanningRequest) -> None:
    """Record on the memory page that the task used its remembered answers: once per task, however
    often it is planned again (the count is of requests helped, not of readings)."""
    counted = set(task.context.get("remembered_used", []))
    new = sorted(set(request.remembered_answers) - counted)
    if new:
        memory_touch(owner=task.owner, clarification_keys=new)
        task.context = {**task.context, "remembered_used": sorted(counted | set(new))}


def _status_for(result: PlannerResult) -> str:
    understanding = result.understanding
    if any(a.blocking for a in understanding.ambiguities):
        return Task.Status.NEEDS_CLARIFICATION
    if understanding.needs_provider:
        return Task.Status.NEEDS_PROVIDER
    return Task.Status.PLANNED


def _store(*, task: Task, result: PlannerResult, planner: str, change_note: str) -> PlanRevision:
    number = (task.plan_revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    return PlanRevision.objects.create(
        task=task,
        number=number,
        schema_version=result.understanding.schema_version,
        planner=planner[:100],
        understanding=result.understanding.model_dump(mode="json"),
        brief=result.brief.model_dump(mode="json"),
        plan=result.plan.model_dump(mode="json"),
        change_note=change_note,
    )


def _describe_change(before: PlanRevision | None, after: PlannerResult) -> str:
    if before is None:
        return ""
    parts = []
    old = {d["title"] for d in before.understanding.get("deliverables", [])}
    new = {d.title for d in after.understanding.deliverables}
    if new - old:
        parts.append("now making " + ", ".join(sorted(new - old)))
    if old - new:
        parts.append("no longer making " + ", ".join(sorted(old - new)))
    old_q = {a["id"] for a in before.understanding.get("ambiguities", [])}
    new_q = {a.id for a in after.understanding.ambiguities}
    if old_q - new_q:
        parts.append(f"{len(old_q - new_q)} question(s) settled")
    if new_q:
        parts.append(f"{len(new_q)} question(s) still open")
    old_steps, new_steps = len(before.plan.get("steps", [])), len(after.plan.steps)
    if old_steps != new_steps:
        parts.append(f"the plan went from {old_steps} to {new_steps} steps")
    if not parts:
        return "The plan is unchanged."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _plan_now(*, task: Task, answers: dict[str, str], change_note: str) -> PlanRevision:
    """Built-in reading, stored; then the provider is asked when the owner has a default one."""
    request = _planning_request(task, answers=answers)
    result = BuiltinPlanner().plan(request)
    revision = _store(task=task, result=result, planner=BUILTIN_LABEL, change_note=change_note)
    task.status = _status_for(result)
    _count_remembered_use(task, request)
    connection = provider_connection_default(owner=task.owner)
    if connection is not None:
        task.status = Task.Status.UNDERSTANDING
        task.context = {
            **task.context,
            "provider_pending": {
                "connection_id": str(connection.id),
                "label": connection.planner_label,
                "after_revision": revision.number,
                "since": timezone.now().isoformat(),
            },
        }
    else:
        task.context = {k: v for k, v in task.context.items() if k != "provider_pending"}
    task.save(update_fields=["status", "context", "updated_at"])
    if connection is not None:
        from django_q.tasks import async_task

        # ORM broker: the job row is written in this transaction, so it exists iff the revision does.
        from tasks.engine.dispatch import PLANNING_JOB

        async_task(
            PLANNING_JOB,
            str(task.id),
            str(connection.id),
            revision.number,
            task_name=f"understand {task.reference} r{revision.number}",
        )
    return revision


@transaction.atomic
def task_understand(*, task: Task) -> PlanRevision:
    """Read the request with the built-in planner and store revision 1 (or the next one).

    Promises: a revision exists when this returns, and Task.status says what happens next
    (needs_clarification / needs_provider / planned, or understanding while a provider is asked).
    Refuses a task that has already started running.
    """
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.status not in PRE_RUN_STATUSES:
        raise PlanningRefused("This task has already started; its plan changes only through plan_revise.")
    first = not task.plan_revisions.exists()
    note = (
        "First reading, by the built-in, rule-based planner."
        if first
        else "Planned again on request, with the answers given so far."
    )
    return _plan_now(task=task, answers=dict(task.context.get("answers", {})), change_note=note)


@transaction.atomic
def task_answer_clarifications(
    *, task: Task, answers: dict[str, str], remember: set[str] = frozenset()
) -> PlanRevision:
    """Apply the operator's answers to the open questions and store a new revision saying what changed.

    A "workspace" answer may be the id of one of the owner's workspaces, which is then attached
    to the task. Refuses answers to questions that are not open, empty answers, another user's
    workspace, and tasks that have started running. `remember` names the questions whose answers
    should be reused next time; when the memory feature is not live, the change note says so.
    """
    task = Task.objects.select_for_update(of=("self",)).select_related("workspace").get(pk=task.pk)
    if task.status not in PRE_RUN_STATUSES:
        raise PlanningRefused("This task has already started; its questions can no longer be answered here.")
    latest = task.plan_revisions.order_by("-number").first()
    questions = {a["id"]: a["question"] for a in (latest.understanding.get("ambiguities", []) if latest else [])}
    open_ids = set(questions)
    cleaned = {k: " ".join(str(v).split()) for k, v in answers.items() if str(v).strip()}
    if not cleaned:
        raise PlanningRefused("Answer at least one question: nothing was changed.")
    unknown = sorted(set(cleaned) - open_ids)
    if unknown:
        raise PlanningRefused(f"These questions are not open on this task: {', '.join(unknown)}.")
    if "workspace" in cleaned and not cleaned["workspace"].lower().startswith("none"):
        workspace = Workspace.objects.filter(owner=task.owner, pk=_as_uuid(cleaned["workspace"])).first()
        if workspace is None:
            raise PlanningRefused("Choose one of your own workspaces, or “None — make something new instead”.")
        task.workspace = workspace
        task.save(update_fields=["workspace", "updated_at"])
        cleaned["workspace"] = workspace.name
    all_answers = {**task.context.get("answers", {}), **cleaned}
    task.context = {**task.context, "answers": all_answers}
    task.save(update_fields=["context", "updated_at"])
    remembered_note = _remember(task, {k: cleaned[k] for k in remember if k in cleaned}, questions)

    preview = BuiltinPlanner().plan(_planning_request(task, answers=all_answers))
    answered = "; ".join(f"“{questions[k]}” {v}" for k, v in cleaned.items())  # the question, not its id
    note = f"You answered ({answered}). {_describe_change(latest, preview)}{remembered_note}"
    return _plan_now(task=task, answers=all_answers, change_note=note)


def _as_uuid(value: str):
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _remember(task: Task, answers: dict[str, str], questions: dict[str, str]) -> str:
    for question_id, answer in answers.items():
        clarification_remember(
            owner=task.owner,
            question_key=question_id,
            question=questions.get(question_id, question_id),
            answer=answer,
            learned_from_task=task,
        )
    asked = "; ".join(f"“{questions.get(k, k)}” → {answers[k]}" for k in sorted(answers))
    return f" Remembered for the next request that asks the same: {asked}." if answers else ""


@transaction.atomic
def plan_revise(
    *,
    task: Task,
    reason: str,
    plan: Plan | None = None,
    understanding: UnderstandingSnapshot | None = None,
    planner: str | None = None,
    brief: ExecutionBrief | None = None,
) -> PlanRevision:
    """Store a new revision after new information (a denial, a refinement, a failed step, a model
    turn that changed the planned work).

    Copies the latest revision and replaces the plan, understanding and/or brief given; `reason` is the
    "what changed and why" note and must not be empty. Does not change Task.status: the caller
    (the engine) owns that. Refuses a task with no revision yet.
    """
    if not reason.strip():
        raise PlanningRefused("A plan revision needs a reason: what changed and why.")
    task = Task.objects.select_for_update().get(pk=task.pk)
    latest = task.plan_revisions.order_by("-number").first()
    if latest is None:
        raise PlanningRefused("This task has no plan yet; understand it first.")
    result = PlannerResult(
        understanding=understanding or UnderstandingSnapshot.model_validate(latest.understanding),
        brief=brief or latest.brief,
        plan=plan or Plan.model_validate(latest.plan),
    )
    return _store(task=task, result=result, planner=planner or latest.planner, change_note=reason.strip())


@dataclass(frozen=True)
class Refinement:
    """What a refinement did. `revision` is the new plan revision when the plan changed (None when
    it could not change, or while `provider` — the provider that planned the task — plans again);
    `note` says in words what could and could not be changed."""

    revision: PlanRevision | None
    note: str
    provider: str = ""


# What the built-in planner can act on in a refinement; anything else it cannot follow.
_BUILTIN_REFINES = "what to make, formats, themes, colours and named commands"


def _plan_signature(plan: dict) -> list:
    # A step's "brief" carries the request's own words to the generators; it is not a plan change.
    return [
        (s.get("action_type"), s.get("title"), {k: v for k, v in s.get("inputs", {}).items() if k != "brief"})
        for s in plan.get("steps", [])
    ]


def _planning_connection(task: Task, planner: str):
    """The owner's usable connection whose label is `planner` (the one that planned the revision)."""
    from providers.models import ProviderConnection

    connections = ProviderConnection.objects.filter(owner=task.owner).exclude(status=ProviderConnection.Status.REVOKED)
    return next((c for c in connections if c.planner_label == planner), None)


@transaction.atomic
def plan_refine(*, task: Task, refinement: str, step_id: str = "") -> Refinement:
    """Plan again with the operator's refinement, by the planner that made the current plan.

    A provider's plan goes back to that provider (queued like any provider planning; the task is
    `understanding` meanwhile, and the job stores its revision). A built-in plan is read again by the
    built-in planner with the refinement added: a revision is stored only when the plan really
    changed; otherwise the note says that it could not act on those words and nothing is stored.
    `raw_prompt` stays as typed. Does not touch runs (the engine owns them). Refuses an empty
    refinement, and a provider's plan whose provider is no longer connected.
    """
    text = " ".join(refinement.split())
    if not text:
        raise PlanningRefused("A refinement needs some words: what should Command do differently?")
    task = Task.objects.select_for_update().get(pk=task.pk)
    latest = task.plan_revisions.order_by("-number").first()
    where = f" at step “{step_id}”" if step_id else ""
    if latest is not None and latest.planner != BUILTIN_LABEL:
        connection = _planning_connection(task, latest.planner)
        if connection is None:
            raise PlanningRefused(
                f"{latest.planner} made this plan and is no longer connected, so it cannot plan again with "
                "your words; the built-in planner cannot change a plan it did not make. Connect it again "
                "under Providers, then retry."
            )
        from django_q.tasks import async_task

        from tasks.engine.dispatch import PLANNING_JOB

        task.status = Task.Status.UNDERSTANDING
        task.context = {
            **task.context,
            "provider_pending": {
                "connection_id": str(connection.id),
                "label": connection.planner_label,
                "after_revision": latest.number,
                "since": timezone.now().isoformat(),
                "refinement": text,
                "step_id": step_id,
            },
        }
        task.save(update_fields=["status", "context", "updated_at"])
        async_task(PLANNING_JOB, str(task.id), str(connection.id), latest.number, task_name=f"refine {task.reference}")
        return Refinement(
            None,
            f"Asked {connection.planner_label} to plan again{where} with your words “{text}”.",
            provider=connection.planner_label,
        )

    # The refinement is read as a sentence of its own, so the request's last phrase ("for Acme")
    # does not run on into it ("for Acme use fewer words" read as the subject).
    said = task.raw_prompt.rstrip()
    said = said if said.endswith((".", "!", "?")) else f"{said}."
    request = _planning_request(task, answers=dict(task.context.get("answers", {})), prompt=f"{said}\n{text}")
    result = BuiltinPlanner().plan(request)
    changed = bool(result.plan.steps) and (
        latest is None or _plan_signature(result.plan.model_dump(mode="json")) != _plan_signature(latest.plan)
    )
    if not changed:
        return Refinement(
            None,
            f"The built-in, rule-based planner could not act on “{text}”: it can change {_BUILTIN_REFINES}, "
            "and your words changed none of them, so the plan is unchanged. To refine in your own words, "
            "connect a model provider.",
        )
    note = (
        f"You refined the plan{where}: “{text}”. {_describe_change(latest, result)} The built-in planner "
        f"acts only on {_BUILTIN_REFINES}; anything else in your words was not applied."
    )
    return Refinement(_store(task=task, result=result, planner=BUILTIN_LABEL, change_note=note), note)


def task_understand_with_provider(*, task_id, connection_id, after_revision: int) -> PlanRevision | None:
    """Ask the provider (outside any transaction), then store its validated plan or an honest fallback.

    A no-op (returns None) when the task has moved on since the job was queued: answered again,
    started running, or the connection was revoked or removed (then the pending flag is cleared
    and the built-in reading stands, with a note saying so).
    """
    from providers.adapters import ProviderOutcome, planner_for
    from providers.crypto import SecretError
    from providers.models import ProviderConnection
    from providers.services import provider_connection_record_failure

    task = Task.objects.select_related("workspace").filter(pk=task_id).first()
    if task is None or task.context.get("provider_pending", {}).get("after_revision") != after_revision:
        return None
    connection = (
        ProviderConnection.objects.filter(pk=connection_id, owner_id=task.owner_id)
        .exclude(status=ProviderConnection.Status.REVOKED)
        .first()
    )
    refinement = task.context.get("provider_pending", {}).get("refinement", "")
    request = _planning_request(
        task,
        answers=dict(task.context.get("answers", {})),
        prompt=f"{task.raw_prompt}\n{refinement}" if refinement else None,
        for_model=True,
    )
    if connection is None:
        outcome_result, planner, note, failure = (
            None,
            BUILTIN_LABEL,
            _GONE,
            "",
        )
    else:
        content_note = ""
        try:
            from tasks.engine.loop.plan import model_run_plan

            loop = model_run_plan(request=request, connection=connection)
            if loop is not None:
                # A project edit: the model plans it turn by turn while it works (tasks.engine.loop).
                outcome = ProviderOutcome(
                    result=loop,
                    planner=connection.planner_label,
                    note="A model-driven run: the model works in turns, and the check decides.",
                    fell_back=False,
                )
            else:
                from tasks.engine.loop.content import content_authored

                outcome = planner_for(connection).plan_with_outcome(request)
                # Outputs: the model writes their content through content tools (tasks.engine.loop.content).
                authored, content_note = content_authored(outcome.result, connection=connection)
                outcome = replace(outcome, result=authored)
            outcome_result, planner, note = outcome.result, outcome.planner, outcome.note
            failure = outcome.note if outcome.fell_back else ""
            if not outcome.fell_back:
                note = f"Planned by {planner}." + (f" {note}" if note else "")
            note = " ".join(filter(None, (note, content_note)))
        except SecretError as exc:
            outcome_result, planner, failure = None, BUILTIN_LABEL, str(exc)
            note = f"{connection.planner_label}: {exc} Used the built-in planner."
        except Exception as exc:  # the job must never leave the task waiting forever
            log.exception("provider planning failed for task %s", task_id)
            outcome_result, planner, failure = None, BUILTIN_LABEL, f"unexpected error ({type(exc).__name__})"
            note = (
                f"{connection.planner_label}: the provider step failed unexpectedly ({type(exc).__name__}); "
                "used the built-in planner."
            )
    if refinement:
        note = f"You refined the plan: “{refinement}”. {note}"
    if failure and connection is not None:
        provider_connection_record_failure(connection=connection, error=failure)
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task.pk)
        if task.context.get("provider_pending", {}).get("after_revision") != after_revision:
            return None
        if outcome_result is None:
            outcome_result = BuiltinPlanner().plan(request)
        revision = _store(task=task, result=outcome_result, planner=planner, change_note=note)
        task.status = _status_for(outcome_result)
        task.context = {k: v for k, v in task.context.items() if k != "provider_pending"}
        task.save(update_fields=["status", "context", "updated_at"])
        return revision
