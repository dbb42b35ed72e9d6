"""Plan revisions from model turns: a turn whose calls change the planned work stores a plan
revision saying what changed and why (the model's words, as its words), and the thread gets a row
that lists the change.

What counts as a change to the planned work of a model-driven run (its revision's brief and check):
a command that is not the check and that the plan does not list yet, a file deletion the plan does
not list yet, and a check the model proposes instead of the one the person named (recorded, not
applied: the named check still decides). Reading, searching and editing are the planned work itself.
Each change is added to the revision's brief (in scope) once, so the same command run again is not a
new revision. Nothing here lets a call skip the approval gate: it is still asked about as a step.
"""

from __future__ import annotations

from tasks.engine.handlers import StepContext
from tasks.engine.loop.tools import call_problem
from tasks.models import ModelTurn


def turn_changes(*, turn: ModelTurn, check: str, in_scope: list[str]) -> list[str]:
    """What the calls of `turn` add to the planned work, one sentence each, in call order; [] when
    they stay inside it (`check`: the named check; `in_scope`: the brief's in-scope lines)."""
    planned = " ".join(in_scope)
    changes: list[str] = []
    for call in turn.tool_calls:
        name, args = str(call.get("name") or ""), call.get("arguments") or {}
        if call_problem(name, args, call.get("arguments_error") or ""):
            continue  # never became a step: it changes nothing
        if name == "run_command":
            command = args["command"].strip()
            if command and command != check and f"`{command[:200]}`" not in planned:
                changes.append(f"Run `{command[:200]}`")
        elif name == "delete_file":
            path = args["path"].strip()
            if path and f"Delete {path[:200]}" not in planned:
                changes.append(f"Delete {path[:200]}")
        elif name == "finish" and check:
            proposed = str(args.get("check") or "").strip()
            if proposed and proposed != check:
                changes.append(
                    f"Check with `{proposed[:200]}` instead of `{check[:200]}` (proposed, not applied: "
                    "the check you named decides)"
                )
    out: list[str] = []
    for change in changes:
        if change not in out:
            out.append(change)
    return out


def plan_revise_from_turn(ctx: StepContext, turn: ModelTurn, *, check: str):
    """Inside the turn's fenced transaction: when `turn` changes the planned work, a new plan
    revision (the brief's scope gains each change; the reason is what changed and the model's
    words) and a `plan.revised` row listing the change. Returns the revision, or None when nothing
    changed (or the task has no valid revision to revise, which the row then still tells)."""
    from providers.contracts import ExecutionBrief
    from tasks.planning import PlanningRefused, plan_revise

    # Without any scope the changes can only be more: when even those are none, the revision is not read.
    if not turn_changes(turn=turn, check=check, in_scope=[]):
        return None
    latest = ctx.run.task.plan_revisions.order_by("-number").first()
    brief = dict((latest.brief if latest else None) or {})
    changes = turn_changes(turn=turn, check=check, in_scope=list(brief.get("in_scope") or []))
    if not changes:
        return None
    words = turn.reply_text.strip()
    why = f"Why, in the model's words: “{words[:1500]}”" if words else "The model gave no reason in words."
    note = (
        f"The model's turn {turn.number} changed the planned work: {'; '.join(changes)}. {why} "
        "Each action is still a step of the run, asked about like any other."
    )
    brief["in_scope"] = [*brief.get("in_scope", []), *(f"{c} (the model, turn {turn.number})" for c in changes)]
    try:
        revision = plan_revise(task=ctx.run.task, reason=note, brief=ExecutionBrief.model_validate(brief))
    except (PlanningRefused, ValueError):  # no (valid) revision to revise: the row below still tells
        revision = None
    ctx.emit(
        kind="plan.revised",
        phase="plan",
        status="info",
        title=(f"Plan revision {revision.number}: " if revision else "")
        + f"the model changed the planned work in turn {turn.number}",
        explanation=why,
        payload={
            "revision": revision.number if revision else None,
            "changes": changes,
            "model_words": words[:4000],
            "proposed_by": "model",
        },
    )
    return revision
