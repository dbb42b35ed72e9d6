"""The built-in, rule-based planner: offline, deterministic, and honest about its limits."""

from __future__ import annotations

import re

from providers.contracts import (
    Ambiguity,
    Deliverable,
    OutputCategory,
    PlannerResult,
    UnderstandingSnapshot,
)
from providers.planner.base import PlanningRequest
from providers.planner.builtin import commands as cmd
from providers.planner.builtin.briefs import deliverable_segments, read_brief, too_vague
from providers.planner.builtin.detection import COMPATIBLE, FORMAT_NAMES, Detection, FoundDeliverable, detect
from providers.planner.builtin.entities import extract
from providers.planner.builtin.plans import build_brief, build_plan
from providers.planner.builtin.spelling import correct

BUILTIN_LABEL = "built-in (rule-based)"

_VAGUE_IMPROVE = re.compile(
    r"\b(?:make|get)\s+(?:it|this|that|things|everything)\s+(?:look\s+)?(?:better|nicer|good|great|pop|cleaner|"
    r"prettier|faster|more \w+)\b|\bimprove\s+(?:it|this|that|things|everything)\b|\bpolish\s+(?:it|this|that)\b|"
    r"\bclean\s+(?:it|this|that)\s+up\b|\bfix\s+(?:it|this|that)\b|\bmake it work\b|\bdo (?:your|the) magic\b",
    re.IGNORECASE,
)
_EDIT_TARGET_NOUN = re.compile(r"\b(?:my|our|existing|this|the|current)\s+(?:\w+\s+)?$")
_NO_WORKSPACE_ANSWER = re.compile(r"^\s*(?:none|no\b|new|make something new)", re.IGNORECASE)
_BOTH = re.compile(r"\bboth\b", re.IGNORECASE)

DELIVERABLE_SUGGESTIONS = ["A landing page", "A PDF document", "A presentation", "A spreadsheet", "An image"]


class BuiltinPlanner:
    """Implements providers.planner.base.Planner without any network; well under 100 ms."""

    label = BUILTIN_LABEL

    def plan(self, request: PlanningRequest) -> PlannerResult:
        remembered = {k: v for k, v in request.remembered_answers.items() if k not in request.answers}
        answers = {**remembered, **request.answers}
        raw = request.prompt
        spelling = correct(raw)
        normalised = spelling.normalised

        detection_text = normalised
        if answers.get("deliverable"):
            detection_text += ". " + correct(answers["deliverable"]).normalised
        detection = detect(detection_text)

        named = cmd.named_commands(raw)
        unnamed = cmd.unnamed_command(raw)
        if unnamed and answers.get("command"):
            named.append(cmd.named_commands(f"run `{answers['command'].strip()}`")[0])
            unnamed = None

        declined_workspace = bool(_NO_WORKSPACE_ANSWER.match(answers.get("workspace", "")))
        project_edit = cmd.wants_project_edit(raw, mode=request.mode) and not declined_workspace
        vague = bool(_VAGUE_IMPROVE.search(raw)) and not detection.deliverables and not cmd.FILE_PATH.search(raw)
        if vague and answers.get("improve_target"):
            project_edit, vague = not declined_workspace, False

        found = [
            d
            for d in detection.deliverables
            if not (project_edit and d.category == OutputCategory.WEBSITE and _is_edit_target(d))
        ]
        found = _apply_format_answers(found, answers)
        themes = [answers["theme"].strip().lower()] if answers.get("theme") else detection.themes

        deliverables, assumptions = _deliverables(found, detection, request.format_defaults)
        entities = extract(raw, normalised)
        # A subject is this request's own: a remembered answer never stands in for it.
        deliverables, vague_ones = _with_briefs(deliverables, normalised, raw, entities, detection, request.answers)
        if project_edit:
            deliverables.append(
                Deliverable(
                    id=f"d{len(deliverables) + 1}",
                    category=OutputCategory.PROJECT_EDIT,
                    title="Change to your project",
                    description=answers.get("improve_target") or normalised,
                )
            )

        questions: list[Ambiguity] = []
        if not deliverables and not named and not unnamed and not vague and request.mode != "explain":
            questions.append(
                Ambiguity(
                    id="deliverable",
                    question="What should Command make? The request does not name an output it recognises.",
                    suggested_answers=DELIVERABLE_SUGGESTIONS,
                    reason="No deliverable (site, document, slides, sheet, image, audio or video) was found.",
                )
            )
        if vague:
            questions.append(
                Ambiguity(
                    id="improve_target",
                    question="What should be improved, and what would “better” look like?",
                    suggested_answers=["The visual design", "The wording and copy", "The structure and layout"],
                    reason="“Make it better” names no target, and Command will not guess what to change.",
                )
            )
        if unnamed:
            questions.append(
                Ambiguity(
                    id="command",
                    question=f"Which exact command runs the {unnamed}?",
                    suggested_answers=["npm test", "pytest", "make test"],
                    reason="Command only runs commands exactly as you name them; it will not invent one.",
                )
            )
        if (project_edit or named or unnamed) and not request.has_workspace and not declined_workspace:
            questions.append(
                Ambiguity(
                    id="workspace",
                    question="Which project folder should Command work in?",
                    suggested_answers=["Choose one of my workspaces", "None — make something new instead"],
                    reason="Changing files or running commands needs a workspace, and none was chosen.",
                )
            )
        for item, deliverable in zip(found, deliverables, strict=False):
            if item.conflicting:
                names = [FORMAT_NAMES.get(f, f) for f in dict.fromkeys(item.formats)]
                questions.append(
                    Ambiguity(
                        id=f"format-{deliverable.id}",
                        question=f"Which format should the {deliverable.title.lower()} be: {' or '.join(names)}?",
                        suggested_answers=[*names, "Both"],
                        reason=f"The request mentions {' and '.join(repr(t) for t in item.format_texts)}.",
                    )
                )
        if len(themes) > 1:
            questions.append(
                Ambiguity(
                    id="theme",
                    question="Dark or light theme? The request mentions both.",
                    suggested_answers=["Dark", "Light"],
                    reason="Both a dark and a light theme were mentioned.",
                )
            )
        # One question at a time: the subject is asked once nothing else blocks, and never for
        # work a model provider has to do anyway.
        if questions or cmd.wants_transformation(raw) or project_edit:
            vague_ones = []
        for deliverable in vague_ones:
            thing = deliverable.title.lower()
            questions.append(
                Ambiguity(
                    id=f"subject-{deliverable.id}",
                    question=f"What should the {thing} be about, and who is it for?",
                    suggested_answers=[],
                    reason=f"The request names a {thing} but not its subject, and Command will not invent one.",
                )
            )

        for qid, answer in answers.items():
            if qid in remembered:
                assumptions.append(f"Reused your remembered answer for “{qid}”: {answer}.")
            else:
                assumptions.append(f"You answered “{qid}”: {answer}.")
        format_hints = list(detection.format_hints)
        if answers.get("theme"):
            format_hints = [h for h in format_hints if h.kind != "theme"]
            format_hints.append(_theme_hint(themes[0], answers["theme"]))

        transformation = cmd.wants_transformation(raw)
        needs_provider = bool(project_edit or transformation or (request.mode == "explain" and not deliverables))
        reason = ""
        if transformation and not project_edit:
            reason = (
                f"To {transformation} something, Command has to read and understand it. The built-in, "
                "rule-based planner only fills templates and will not pretend otherwise. Next step: add an "
                "OpenAI-compatible or Anthropic connection under Providers, make it the default, then ask "
                "Command to plan this request again."
            )
        elif needs_provider:
            reason = (
                "This asks for changes to existing work (or an explanation of it). The built-in, rule-based "
                "planner cannot write or reason about code it has not been given, and it will not fake it. "
                "Next step: add an OpenAI-compatible or Anthropic connection under Providers, make it the "
                "default, then ask Command to plan this request again."
            )
        understanding = UnderstandingSnapshot(
            raw_prompt=raw,
            normalised_prompt=normalised,
            corrections=spelling.corrections,
            format_hints=format_hints,
            deliverables=deliverables,
            entities=entities,
            assumptions=assumptions,
            ambiguities=questions,
            risk_notes=cmd.risk_notes(raw, named),
            needs_provider=needs_provider,
            needs_provider_reason=reason,
            planner=BUILTIN_LABEL,
        )
        plan = build_plan(understanding, named, tone=request.tone)
        return PlannerResult(understanding=understanding, brief=build_brief(understanding, plan, named), plan=plan)


def _with_briefs(deliverables, normalised, raw, entities, detection, answers):
    """Each deliverable with the brief read from its part of the request, and the ones whose
    subject nobody has said yet (a clarifying question each)."""
    segments = deliverable_segments(normalised, deliverables)
    only_one = len(deliverables) == 1
    result, vague = [], []
    for d in deliverables:
        brief = read_brief(
            d,
            segment=segments.get(d.id, normalised),
            raw=raw,
            entities=entities,
            detection=detection,
            only_one=only_one,
            subject_answer=answers.get(f"subject-{d.id}", ""),
            whole=normalised,
        )
        d = d.model_copy(update={"brief": brief})
        if too_vague(d, brief, only_one=only_one):
            vague.append(d)
        result.append(d)
    return result, vague


def _is_edit_target(item: FoundDeliverable) -> bool:
    index = item.clause.find(item.noun)
    return index >= 0 and bool(_EDIT_TARGET_NOUN.search(item.clause[:index]))


def _theme_hint(value: str, answer: str):
    from providers.contracts import FormatHint

    return FormatHint(text=answer, kind="theme", value=value)


def _apply_format_answers(found: list[FoundDeliverable], answers: dict[str, str]) -> list[FoundDeliverable]:
    result: list[FoundDeliverable] = []
    for n, item in enumerate(found, start=1):
        answer = answers.get(f"format-d{n}")
        if not answer or not item.conflicting:
            result.append(item)
            continue
        choices = list(dict.fromkeys(item.formats))
        if _BOTH.search(answer):
            chosen = choices
        else:
            lowered = answer.lower()
            chosen = [f for f in choices if f in lowered or FORMAT_NAMES.get(f, f).lower() in lowered][:1] or choices[
                :1
            ]
        for value in chosen:
            result.append(
                FoundDeliverable(
                    category=item.category,
                    title=item.title,
                    kind=item.kind,
                    noun=item.noun,
                    formats=[value],
                    format_texts=[value],
                    clause=item.clause,
                )
            )
    return result


def _deliverables(
    found: list[FoundDeliverable], detection: Detection, format_defaults: dict[str, str]
) -> tuple[list[Deliverable], list[str]]:
    deliverables: list[Deliverable] = []
    assumptions: list[str] = []
    for item in found:
        remembered = format_defaults.get(item.category.value)
        if not item.formats and remembered and remembered in COMPATIBLE.get(item.kind, set()):
            item.formats.append(remembered)
            item.format_texts.append("remembered")
            assumptions.append(
                f"Used your remembered format for {item.category.value} outputs: {FORMAT_NAMES[remembered]}."
            )
    titles = [f.title for f in found]
    for n, item in enumerate(found, start=1):
        title = item.title
        if titles.count(title) > 1:
            title = f"{title} ({FORMAT_NAMES.get(item.format, item.format)})"
        details: dict[str, str] = {}
        for length in detection.lengths:
            if length.split()[0] in item.clause and length.split()[1] in item.clause:
                details["length"] = length
        if not item.formats and item.kind == "doc":
            assumptions.append(
                f"No format was named for the {item.title.lower()}, so Command assumed "
                f"{FORMAT_NAMES[item.format]}; say so if you want another."
            )
        deliverables.append(
            Deliverable(
                id=f"d{n}",
                category=item.final_category,
                title=title,
                format=item.format,
                description=item.clause.strip(),
                details=details,
            )
        )
    return deliverables, assumptions
