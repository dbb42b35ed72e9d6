"""Plan templates per deliverable, and the execution brief that frames them."""

from __future__ import annotations

from providers.contracts import (
    ActionType,
    CheckpointKind,
    Deliverable,
    ExecutionBrief,
    Plan,
    PlanStep,
    RiskLevel,
    UnderstandingSnapshot,
)
from providers.planner.builtin.commands import NamedCommand
from providers.planner.builtin.copy import CHECKS, explain
from providers.planner.builtin.detection import FORMAT_NAMES


def _thing(deliverable: Deliverable) -> str:
    name = FORMAT_NAMES.get(deliverable.format, deliverable.format.upper())
    return f"{deliverable.title.lower()} ({name})" if name else deliverable.title.lower()


def build_plan(understanding: UnderstandingSnapshot, commands: list[NamedCommand], *, tone: str) -> Plan:
    """Ordered, real steps: commands first (as named), then make → verify → deliver per deliverable.

    A request that still has blocking questions, or that needs a model provider, gets no steps:
    the built-in planner does not guess at work it has not understood.
    """
    if understanding.needs_provider or any(a.blocking for a in understanding.ambiguities):
        return Plan(steps=[])
    steps: list[PlanStep] = []
    for n, command in enumerate(commands, start=1):
        # The run_command handler itself fails the step on a non-zero exit; a separate verify
        # step would have to run the command a second time.
        run_id = f"c{n}-run"
        steps.append(
            PlanStep(
                id=run_id,
                title=_clip(f"Run `{command.command}`", 200),
                action_type=ActionType.RUN_COMMAND,
                inputs={"command": command.command, "cwd": "."},
                depends_on=[steps[-1].id] if steps else [],
                checkpoint=CheckpointKind.PRE_COMMAND,
                expected_outcome="The command exits with status 0; its output is kept.",
                risk_level=command.risk,
                risk_reason=command.risk_reason,
                explanation=explain("run_command", tone, command=command.command),
            )
        )
    entities = understanding.entities
    theme = next((h.value for h in understanding.format_hints if h.kind == "theme"), "")
    for deliverable in understanding.deliverables:
        checks, check_text = CHECKS[deliverable.category]
        title = deliverable.title.lower()
        context = f" ({entities.brand})" if entities.brand else ""
        make_id, verify_id, deliver_id = (
            f"{deliverable.id}-make",
            f"{deliverable.id}-verify",
            f"{deliverable.id}-deliver",
        )
        inputs = {
            "category": str(deliverable.category),
            "format": deliverable.format,
            "title": deliverable.title,
            "brief": understanding.normalised_prompt,
        }
        optional = {
            "brand": entities.brand,
            "audience": entities.audience,
            "industry": entities.industry,
            "tone": entities.tone,
            "theme": theme,
            "colours": entities.colours,
            "length": deliverable.details.get("length"),
        }
        inputs.update({k: v for k, v in optional.items() if v})
        if not deliverable.brief.is_empty:
            inputs["deliverable_brief"] = deliverable.brief.model_dump(exclude_defaults=True)
        steps.append(
            PlanStep(
                id=make_id,
                title=f"Make the {title}",
                action_type=ActionType.GENERATE_OUTPUT,
                inputs=inputs,
                checkpoint=CheckpointKind.NONE,
                expected_outcome=f"A {_thing(deliverable)} file in Command's output storage.",
                risk_level=RiskLevel.LOW,
                risk_reason="Writes only to Command's own output storage, not to your folders.",
                deliverable_id=deliverable.id,
                explanation=explain("generate", tone, thing=_thing(deliverable), context=context, check=check_text),
            )
        )
        steps.append(
            PlanStep(
                id=verify_id,
                title=f"Verify the {title}",
                action_type=ActionType.VERIFY,
                inputs={"deliverable_id": deliverable.id, "category": str(deliverable.category), "checks": checks},
                depends_on=[make_id],
                expected_outcome=f"A stored check report saying {check_text}.",
                deliverable_id=deliverable.id,
                explanation=explain("verify", tone, check=check_text, title=title),
            )
        )
        steps.append(
            PlanStep(
                id=deliver_id,
                title=f"Deliver the {title}",
                action_type=ActionType.DELIVER,
                inputs={"deliverable_id": deliverable.id},
                depends_on=[verify_id],
                checkpoint=CheckpointKind.DELIVERY_SAFE,
                expected_outcome="An asset with preview, download and lineage.",
                deliverable_id=deliverable.id,
                explanation=explain("deliver", tone, title=title),
            )
        )
    return Plan(steps=steps)


def build_brief(understanding: UnderstandingSnapshot, plan: Plan, commands: list[NamedCommand]) -> ExecutionBrief:
    brand = understanding.entities.brand
    titles = [d.title for d in understanding.deliverables]
    if understanding.needs_provider:
        goal = "Change existing work in a project, as described: this needs a model provider."
    elif titles:
        lowered = [t[0].lower() + t[1:] for t in titles]
        joined = ", ".join(lowered[:-1]) + (" and " if len(lowered) > 1 else "") + lowered[-1]
        goal = f"Produce the {joined}" + (f" for {brand}" if brand else "") + "."
    elif commands:
        goal = "Run " + ", ".join(f"`{c.command}`" for c in commands) + " in the workspace and report how it went."
    else:
        goal = "Work out what to make: Command needs an answer before it can plan."
    in_scope = [f"{d.title} as {FORMAT_NAMES.get(d.format, d.format)}" for d in understanding.deliverables]
    in_scope += [f"Running `{c.command}` in the workspace" for c in commands]
    out_of_scope = [
        "Changing anything outside Command's output storage" + (" and the chosen workspace" if commands else "")
    ]
    if any(n.kind == "external_call" for n in understanding.risk_notes):
        out_of_scope.append("Publishing, deploying or sending anything outside Command")
    outcomes = []
    for d in understanding.deliverables:
        _, check_text = CHECKS[d.category]
        outcome = f"{d.title}: a verified {FORMAT_NAMES.get(d.format, d.format)} asset ({check_text})"
        criteria = [c.text[:1].lower() + c.text[1:] for c in d.brief.criteria() if c.kind != "audience"]
        if criteria:  # the brief's criteria are checked too; the understanding card lists them in full
            outcome += " that meets what was asked: " + "; ".join(criteria)
        outcomes.append(outcome)
    outcomes += [f"`{c.command}` ran and its exit status and output are stored" for c in commands]
    needs_approval = [f"{s.title} ({s.risk_level} risk: {s.risk_reason})" for s in plan.steps if s.mutates]
    return ExecutionBrief(
        goal=goal,
        in_scope=in_scope,
        out_of_scope=out_of_scope,
        expected_outcomes=outcomes,
        needs_approval=needs_approval,
    )


def _clip(text: str, limit: int) -> str:
    """A title that fits its field; the step's inputs keep the whole command."""
    return text if len(text) <= limit else text[: limit - 2] + "…`"
