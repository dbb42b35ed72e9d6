"""The approval gate: the one call the execution engine makes before each step.

    decision = approval_gate_check(run=run, step_execution=step, plan_step=plan_step, facts=facts)

and then, by `decision.outcome`:
    proceed — run the step; when `decision.announcement` is set (memory decided), write it as a
              workstream event with a link to `decision.change_url`;
    wait    — stop the run in waiting_approval ("waiting for your approval"), free the worker, and
              show `decision.request` (its dialog is at `decision.request.get_absolute_url()`);
    skip    — the operator (or a remembered "never allow") denied it: skip the step, re-plan or skip
              the steps that depend on it, end honestly if nothing useful remains;
    replan  — the operator sent instructions (`decision.refine_text`): make a new plan revision;
    refuse  — outside the workspace: never runs, whatever is remembered.

Calling it again for the same step is safe: a pending request with the same action is returned as
is; an allowed one lets the step proceed; a changed action (different hash) asks again.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalPreference, ApprovalRequest
from approvals.policy import (
    WORKSPACE_ONLY,
    ActionFacts,
    Category,
    Classification,
    Default,
    allowlist_covers,
    classify,
    facts_for_step,
)
from approvals.services.memory import approval_preference_touch
from command_site.sandbox import network_reach, sandbox_status
from providers.contracts import PlanStep, RiskLevel
from tasks.engine.sql import ID, CompiledQuery, Mark, fetch_all

EXPIRY_SCHEDULE_NAME = "Expire overdue approval requests"
EXPIRY_JOB = "approvals.jobs.expire_overdue_approvals"


def approval_ttl() -> timedelta:
    return timedelta(seconds=settings.COMMAND_APPROVAL_TTL_SECONDS)


def approval_expiry_schedule_ensure() -> None:
    """Make sure the periodic expiry job exists (idempotent; created with the first pending request)."""
    from django_q.models import Schedule

    if not Schedule.objects.filter(name=EXPIRY_SCHEDULE_NAME).exists():
        Schedule.objects.create(
            name=EXPIRY_SCHEDULE_NAME, func=EXPIRY_JOB, schedule_type=Schedule.MINUTES, minutes=5, repeats=-1
        )


class Outcome(StrEnum):
    PROCEED = "proceed"
    WAIT = "wait"
    SKIP = "skip"
    REPLAN = "replan"
    REFUSE = "refuse"


@dataclass(frozen=True)
class GateDecision:
    outcome: Outcome
    reason: str
    classification: Classification
    request: ApprovalRequest | None = None
    auto_approved_by: ApprovalPreference | None = None
    announcement: str = ""
    change_url: str = ""
    refine_text: str = ""


def preference_change_url(preference: ApprovalPreference) -> str:
    return f"{reverse('approvals:memory')}#approval-pref-{preference.pk}"


def _announcement(preference: ApprovalPreference) -> str:
    if preference.decision == ApprovalPreference.Decision.ALLOW:
        return f"Auto-approved: {preference.sentence}."
    return f"Skipped without asking: {preference.sentence}."


def preference_matching(*, owner, classification: Classification, workspace) -> ApprovalPreference | None:
    """The remembered decision that covers this action, the workspace's own before an everywhere one.

    A command preference with a typed list covers only the listed commands; one without a list covers
    a workspace's ordinary commands. A remembered "allow" never answers for a high-risk command
    (deleting, truncating, permissions, history, outside paths, administrator rights) — only the
    workspace's own network preference answers for a command whose only finding is the network —
    and never for a command that would run unsandboxed. A remembered "never allow" still applies.
    """
    everywhere = classification.category not in WORKSPACE_ONLY
    if workspace is None and not everywhere:
        return None  # no scope can answer
    # One query for both scopes (the workspace's own first, each in its stored order), compiled once
    # per process (the gate asks it for every step that asks); a workspace preference quotes the
    # run's workspace, the one it was found by, in the sentence an auto-decision quotes.
    query = _preferences_query(workspace is not None, everywhere)
    values = [owner.pk, classification.category] + ([workspace.pk] if workspace is not None else [])
    found = list(ApprovalPreference.objects.raw(*query.sql_params(*values)))
    for pref in found:
        if workspace is not None and pref.workspace_id == workspace.pk:
            pref.workspace = workspace
    ordered = [p for p in found if p.scope == ApprovalPreference.Scope.WORKSPACE] + [
        p for p in found if p.scope == ApprovalPreference.Scope.EVERYWHERE
    ]
    is_command = classification.category in (Category.RUN_COMMAND, Category.NETWORK)
    for pref in ordered:
        allow = pref.decision == ApprovalPreference.Decision.ALLOW
        if is_command and allow:
            if classification.action.get("sandboxed") is False:
                continue
            if classification.category == Category.RUN_COMMAND and classification.risk_level == RiskLevel.HIGH:
                continue
        command = classification.action.get("command", "")
        if (
            classification.category == Category.RUN_COMMAND
            and pref.command_allowlist
            and not allowlist_covers(pref.command_allowlist, command)
        ):
            continue
        return pref
    return None


@functools.cache
def _preferences_query(in_workspace: bool, everywhere: bool) -> CompiledQuery:
    """preference_matching's query for one shape of scopes: marks owner, category[, workspace]."""
    category = Mark(ApprovalPreference, "category", "stand-in category 7f3a")
    workspace = Mark(ApprovalPreference, "workspace", uuid.UUID("7f3a0000-0000-4000-8000-0000000057ac"))

    def build():
        scopes = Q(pk__in=[])
        if in_workspace:
            scopes |= Q(scope=ApprovalPreference.Scope.WORKSPACE, workspace=workspace.value)
        if everywhere:
            scopes |= Q(scope=ApprovalPreference.Scope.EVERYWHERE)
        return ApprovalPreference.objects.filter(scopes, owner_id=ID.value, category=category.value).order_by(
            "created_at", "pk"
        )

    return CompiledQuery(build, ID, category, *([workspace] if in_workspace else []))


def _summary(*, run, plan_step: PlanStep, classification: Classification) -> dict[str, str]:
    revision = run.plan_revision
    understood = (
        (revision.brief or {}).get("goal")
        or (revision.understanding or {}).get("normalised_prompt")
        or run.task.raw_prompt
    )
    what = plan_step.explanation.what
    action = classification.action
    if action.get("command"):
        what = f"{what} It would run: {action['command']}"
    elif action.get("paths"):
        shown = ", ".join(action["paths"][:5]) + (" …" if len(action["paths"]) > 5 else "")
        what = f"{what} Files it would change: {shown}"
    why = f"This step {classification.reason}. {plan_step.explanation.why}"
    return {"understood": str(understood), "next_action": what, "why_it_matters": why}


def _facts_with_workspace(facts: ActionFacts, workspace) -> ActionFacts:
    if workspace is None or facts.workspace_root is not None:
        return facts
    return dataclasses.replace(facts, workspace_root=Path(workspace.path), workspace_name=workspace.name)


def approval_gate_check(*, run, step_execution, plan_step: PlanStep, facts: ActionFacts) -> GateDecision:
    """Decide whether a planned step may run now, and record why.

    Promises: a pending request is opened only when the policy asks and nothing remembered answers;
    every decision a preference makes is stored as an ApprovalRequest naming that preference and is
    announced; an earlier decision binds only the exact same action (same hash).
    Refuses: actions outside the workspace (outcome `refuse`; nothing is stored).
    """
    workspace = run.workspace
    facts = _facts_with_workspace(facts, workspace)
    if facts.command and facts.sandboxed is None:
        sandboxed = sandbox_status().sandboxed
        reach = network_reach() if sandboxed else "everything this machine's account can reach"
        facts = dataclasses.replace(facts, sandboxed=sandboxed, network_reach=reach)
    classification = classify(plan_step, facts)
    if classification.default == Default.REFUSE:
        return GateDecision(Outcome.REFUSE, f"Refused: this step {classification.reason}.", classification)

    if classification.default == Default.PROCEED and not fetch_all(*_ANY_REQUEST.sql_params(run.pk, plan_step.id)):
        # Never asked about this step, and nothing to ask: no row to lock or write.
        return GateDecision(Outcome.PROCEED, f"Proceeding: this step {classification.reason}.", classification)
    with transaction.atomic():
        latest = next(iter(ApprovalRequest.objects.raw(*_LATEST_REQUEST.sql_params(run.pk, plan_step.id))), None)
        changed_note = ""
        if latest is not None:
            decided = _earlier_decision(latest, run=run, classification=classification)
            if decided is not None:
                return decided
            if latest.action_hash != classification.action_hash and latest.status != ApprovalRequest.Status.EXPIRED:
                changed_note = "The action changed since you were last asked, so Command asks again. "

        if classification.default == Default.PROCEED:
            return GateDecision(Outcome.PROCEED, f"Proceeding: this step {classification.reason}.", classification)

        preference = None
        if not classification.ambiguous:
            preference = preference_matching(owner=run.owner, classification=classification, workspace=workspace)

        now = timezone.now()
        fields = {
            "owner": run.owner,
            "run": run,
            "step_execution": step_execution,
            "step_id": plan_step.id,
            "plan_revision_id": run.plan_revision_id,
            "workspace": workspace,
            "category": classification.category,
            "risk_level": classification.risk_level,
            "risk_reason": classification.reason[:500],
            "ambiguous": classification.ambiguous,
            "action": classification.action,
            "action_hash": classification.action_hash,
            "title": plan_step.title[:200],
            **_summary(run=run, plan_step=plan_step, classification=classification),
        }
        if preference is not None:
            allow = preference.decision == ApprovalPreference.Decision.ALLOW
            request = ApprovalRequest.objects.create(
                **fields,
                status=ApprovalRequest.Status.ALLOWED if allow else ApprovalRequest.Status.DENIED,
                decided_at=now,
                auto_decided_by=preference,
            )
            _supersede(latest, request)
            approval_preference_touch(preference=preference)
            return GateDecision(
                Outcome.PROCEED if allow else Outcome.SKIP,
                _announcement(preference),
                classification,
                request=request,
                auto_approved_by=preference,
                announcement=_announcement(preference),
                change_url=preference_change_url(preference),
            )

        try:
            with transaction.atomic():
                if latest is not None and latest.status == ApprovalRequest.Status.PENDING:
                    # Free the one-pending-per-step slot before opening the new request.
                    closed = ApprovalRequest.Status.EXPIRED if latest.is_overdue else ApprovalRequest.Status.SUPERSEDED
                    ApprovalRequest.objects.filter(pk=latest.pk).update(status=closed)
                    latest.status = closed
                request = ApprovalRequest.objects.create(**fields, expires_at=now + approval_ttl())
        except IntegrityError:
            # Another delivery of the same step opened it a moment ago: wait on that one.
            request = ApprovalRequest.objects.get(run=run, step_id=plan_step.id, status=ApprovalRequest.Status.PENDING)
        else:
            _supersede(latest, request)
            approval_expiry_schedule_ensure()
        return GateDecision(
            Outcome.WAIT,
            f"{changed_note}Waiting for your approval: this step {classification.reason}.",
            classification,
            request=request,
        )


# The step's latest request, locked: asked before every step, so compiled once (tasks.engine.sql).
_RUN_MARK, _STEP_MARK = ID, Mark(ApprovalRequest, "step_id", "stand-in step 7f3a")
_LATEST_REQUEST = CompiledQuery(
    lambda: (
        ApprovalRequest.objects.select_for_update()
        .filter(run_id=_RUN_MARK.value, step_id=_STEP_MARK.value)
        .order_by("-created_at")[:1]
    ),
    _RUN_MARK,
    _STEP_MARK,
)
_ANY_REQUEST = CompiledQuery(
    lambda: ApprovalRequest.objects.filter(run_id=_RUN_MARK.value, step_id=_STEP_MARK.value).values_list("pk")[:1],
    _RUN_MARK,
    _STEP_MARK,
)


def _earlier_decision(latest: ApprovalRequest, *, run, classification: Classification) -> GateDecision | None:
    """What an earlier request for this step already settles, if it is about the exact same action."""
    if latest.action_hash != classification.action_hash:
        return None
    status = latest.status
    if status == ApprovalRequest.Status.PENDING and not latest.is_overdue:
        return GateDecision(Outcome.WAIT, "Still waiting for your approval.", classification, request=latest)
    if status == ApprovalRequest.Status.ALLOWED:
        pref = latest.auto_decided_by
        if pref is not None:
            return GateDecision(
                Outcome.PROCEED,
                _announcement(pref),
                classification,
                request=latest,
                auto_approved_by=pref,
                announcement=_announcement(pref),
                change_url=preference_change_url(pref),
            )
        return GateDecision(Outcome.PROCEED, "You allowed this step.", classification, request=latest)
    if status == ApprovalRequest.Status.DENIED:
        return GateDecision(Outcome.SKIP, "You denied this step, so Command skips it.", classification, request=latest)
    if status == ApprovalRequest.Status.REFINED and latest.plan_revision_id == run.plan_revision_id:
        return GateDecision(
            Outcome.REPLAN,
            "You asked for a change; Command re-plans with your instructions.",
            classification,
            request=latest,
            refine_text=latest.decision_note,
        )
    return None


def _supersede(old: ApprovalRequest | None, new: ApprovalRequest) -> None:
    if old is None or old.pk == new.pk:
        return
    updates = {"superseded_by": new}
    if old.status == ApprovalRequest.Status.PENDING:
        updates["status"] = ApprovalRequest.Status.SUPERSEDED
    ApprovalRequest.objects.filter(pk=old.pk).update(**updates)


# --- The engine's hook -----------------------------------------------------------------------


@dataclass(frozen=True)
class EngineGateDecision:
    """The engine's vocabulary (tasks.engine.approval.GateDecision is read by attribute).

    `action` is proceed / wait / skip; `reason` is empty when nothing is worth a workstream line
    (an ordinary read or new file), otherwise the line to show; `approval_id` names the request.
    """

    action: str
    reason: str
    approval_id: str
    change_url: str
    decision: GateDecision


def _open_ambiguities(run) -> tuple[str, ...]:
    understanding = (run.plan_revision.understanding or {}) if run.plan_revision_id else {}
    questions = [a.get("question", "") for a in understanding.get("ambiguities", []) if isinstance(a, dict)]
    return tuple(q for q in questions if q)


def approval_gate_for_engine(ctx) -> EngineGateDecision:
    """The gate for `tasks.engine.approval.set_approval_gate`: ctx has run, step, plan_step, workspace_path.

    Facts come from the step's inputs and the real folder (existing files, a diff preview when the
    step carries the new content). Open questions in the understanding make the run's first changing
    step ask; once the operator allowed one such step, the rest of the run does not ask again for it.
    Outside-the-workspace steps are skipped with the refusal as the reason (the engine knows no
    "refuse"); a refined step keeps the run waiting until the re-plan replaces it.
    """
    run, plan_step = ctx.run, ctx.plan_step
    ambiguities: tuple[str, ...] = ()
    if plan_step.mutates:
        # The understanding is read from the run in hand; the database is asked only when it has questions.
        ambiguities = _open_ambiguities(run)
        if (
            ambiguities
            and ApprovalRequest.objects.filter(run=run, ambiguous=True, status=ApprovalRequest.Status.ALLOWED).exists()
        ):
            ambiguities = ()
    workspace = run.workspace
    facts = facts_for_step(
        plan_step,
        workspace_root=Path(ctx.workspace_path) if ctx.workspace_path else None,
        workspace_name=workspace.name if workspace else "",
        ambiguities=ambiguities,
    )
    decision = approval_gate_check(run=run, step_execution=ctx.step, plan_step=plan_step, facts=facts)
    approval_id = str(decision.request.pk) if decision.request else ""
    action, reason = {
        Outcome.PROCEED: ("proceed", decision.announcement or (decision.reason if decision.request else "")),
        Outcome.WAIT: ("wait", decision.reason),
        Outcome.SKIP: ("skip", decision.announcement or decision.reason),
        Outcome.REFUSE: ("skip", decision.reason),
        Outcome.REPLAN: ("wait", decision.reason),
    }[decision.outcome]
    return EngineGateDecision(action, reason, approval_id, decision.change_url, decision)
