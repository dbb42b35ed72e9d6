"""The plan of a model-driven run: with a provider connected, a change to a project (free-form
code work) is planned as its first model turn, carrying the request, the workspace and the check.

Only a request that is purely a project edit, in a chosen workspace, with nothing left to ask, is
planned this way; anything else keeps the one-pass plan. The check is the last command the person
named ("… then run pytest -q", or their answer to "which exact command runs the tests?"); without
one, the model proposes one when it finishes and the person approves it like any command.
"""

from __future__ import annotations

from providers.contracts import ExecutionBrief, OutputCategory, Plan, PlannerResult
from providers.planner import BuiltinPlanner, PlanningRequest
from providers.planner.builtin.commands import named_commands
from tasks.engine.loop.turns import turn_plan_step


def model_run_plan(*, request: PlanningRequest, connection) -> PlannerResult | None:
    """The plan revision of a model-driven run for `request`, or None when it is not a project edit
    a model can take on now (other deliverables, open questions, no workspace)."""
    first = BuiltinPlanner().plan(request)
    understanding = first.understanding
    categories = {d.category for d in understanding.deliverables}
    if categories != {OutputCategory.PROJECT_EDIT} or not request.has_workspace:
        return None
    if any(a.blocking for a in understanding.ambiguities):
        return None
    commands = [c.command for c in named_commands(request.prompt)]
    if str(request.answers.get("command") or "").strip():  # "Which exact command runs the tests?"
        commands.append(request.answers["command"].strip())
    return model_run_result(reading=first, connection=connection, check=commands[-1] if commands else "")


def model_run_result(*, reading: PlannerResult, connection, check: str) -> PlannerResult:
    """The built-in `reading` of a project edit turned into a model-driven plan with `check`."""
    understanding = reading.understanding
    how = (
        "The model reads, searches, edits and runs commands in turns; each action is a step you can see, "
        "and edits, deletions and commands ask you first unless you allowed them."
    )
    understanding = understanding.model_copy(
        update={
            "needs_provider": False,
            "needs_provider_reason": "",
            "planner": connection.planner_label,
            "assumptions": [*understanding.assumptions, how],
        }
    )
    done = (
        f"`{check}` exits 0 after the change (the check you named)"
        if check
        else "A check the model proposes when it finishes, which you approve like any command, exits 0"
    )
    brief = ExecutionBrief(
        goal=f"Change the project as asked: {understanding.normalised_prompt}",
        in_scope=["Reading, searching and changing files in the workspace; running the commands the work needs"],
        out_of_scope=["Anything outside the workspace folder"],
        expected_outcomes=[done],
        needs_approval=["Each edit of an existing file, each deletion and each command, when the model proposes it"],
    )
    plan = Plan(steps=[turn_plan_step(number=1, connection_id=str(connection.id), check=check)])
    return PlannerResult(understanding=understanding, brief=brief, plan=plan)
