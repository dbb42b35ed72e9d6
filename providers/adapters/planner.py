"""A model provider behind the Planner interface: ask, validate, repair once, else fall back.

What really produced a revision is always recorded: the provider's label when its reply
validated, the built-in planner's label (with the reason) when it did not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from providers.adapters.transport import ProviderError
from providers.contracts import LOOP_ONLY_ACTIONS, ActionType, PlannerResult
from providers.planner import BuiltinPlanner, PlanningRequest

SYSTEM_PROMPT = """You are the planner of Command, an execution workspace.
Turn the operator's request into JSON matching the given schema exactly: an understanding snapshot,
an execution brief and an ordered plan. Rules:
- Keep raw_prompt exactly as given. Record every spelling correction (original, corrected, confidence).
- Deliverable categories: website, image, video, audio, pdf, document, presentation, spreadsheet, project_edit.
- Never invent file names, commands or results. Use run_command only for commands the operator named.
- When something essential is unclear, add an ambiguity (a question with suggested answers) instead of guessing.
- Every deliverable needs generate_output (or edits), then verify, then deliver steps.
- depends_on may only name earlier steps.
- Explanations (what, why, expect_next) are plain language in the requested tone.
A rule-based first reading is included for reference; improve on it, do not copy its limits."""


class InvalidReply(Exception):
    pass


@dataclass(frozen=True)
class ProviderOutcome:
    result: PlannerResult
    planner: str
    note: str
    fell_back: bool


def _check_commands(result: PlannerResult, request: PlanningRequest) -> None:
    """A model may plan commands, but only ones the operator actually named (never invented)."""
    named = [request.prompt, *request.answers.values()]
    for step in result.plan.steps:
        if step.action_type in LOOP_ONLY_ACTIONS:
            raise InvalidReply(f"step {step.id!r} uses {step.action_type}, which only a model-driven run may use")
        if step.action_type not in (ActionType.RUN_COMMAND, ActionType.VERIFY):
            continue
        command = str(step.inputs.get("command", "")).strip()
        if step.action_type == ActionType.VERIFY and not command:
            continue  # verification of an output by its verifiers, not by a command
        # A check is a command too: the same rule, so a command refused as a step is not run as a check.
        if not command or not any(command in text for text in named):
            raise InvalidReply(f"step {step.id!r} runs `{command}`, a command the request does not name")


def _parse(text: str, request: PlanningRequest) -> PlannerResult:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidReply(f"the reply was not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
    try:
        result = PlannerResult.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in exc.errors()[:5])
        raise InvalidReply(f"the reply did not match the contract ({problems})")
    _check_commands(result, request)
    return result


class ProviderPlanner:
    """Implements Planner over an HTTP client (OpenAICompatibleClient or AnthropicClient)."""

    def __init__(self, *, client, label: str):
        self.client = client
        self.label = label
        self._builtin = BuiltinPlanner()

    def plan(self, request: PlanningRequest) -> PlannerResult:
        return self.plan_with_outcome(request).result

    def plan_with_outcome(self, request: PlanningRequest) -> ProviderOutcome:
        first_reading = self._builtin.plan(request)
        schema = PlannerResult.model_json_schema()
        user = json.dumps(
            {
                "request": request.prompt,
                "mode": request.mode,
                "tone": request.tone,
                "expertise": request.expertise,
                "workspace": request.workspace_name,
                "attached_files": list(request.upload_names),
                "answers_to_questions": request.answers,
                "remembered_answers": request.remembered_answers,
                "rule_based_first_reading": first_reading.model_dump(mode="json"),
            },
            ensure_ascii=False,
        )
        messages = [{"role": "user", "content": user}]
        try:
            text = self.client.complete_json(system=SYSTEM_PROMPT, messages=messages, schema=schema)
            try:
                result = _parse(text, request)
                note = ""
            except InvalidReply as first:
                messages += [
                    {"role": "assistant", "content": text[:20000]},
                    {
                        "role": "user",
                        "content": f"That reply was rejected: {first}. Reply again with JSON that matches the schema.",
                    },
                ]
                text = self.client.complete_json(system=SYSTEM_PROMPT, messages=messages, schema=schema)
                result = _parse(text, request)
                note = f"The provider's first reply was rejected ({first}); its repaired reply was used."
        except InvalidReply as exc:
            return self._fallback(first_reading, f"the provider's plan was invalid: {exc}")
        except ProviderError as exc:
            return self._fallback(first_reading, f"the provider could not be used: {exc.message}")
        understanding = result.understanding.model_copy(update={"planner": self.label, "raw_prompt": request.prompt})
        result = result.model_copy(update={"understanding": understanding})
        return ProviderOutcome(result=result, planner=self.label, note=note, fell_back=False)

    def _fallback(self, first_reading: PlannerResult, reason: str) -> ProviderOutcome:
        note = f"{self.label}: {reason}; used the built-in planner."
        understanding = first_reading.understanding.model_copy(
            update={"assumptions": [*first_reading.understanding.assumptions, note[0].upper() + note[1:]]}
        )
        result = first_reading.model_copy(update={"understanding": understanding})
        return ProviderOutcome(result=result, planner=first_reading.understanding.planner, note=note, fell_back=True)
