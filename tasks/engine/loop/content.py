"""Content tools: with a provider connected, the model writes an output's content (document text,
sheet columns/rows/formulas, slides, a logo's SVG mark, site copy) through one typed tool per kind
of content spec (outputs.content), and the same generators render it.

How such a run is planned: whoever planned the task (a provider or, after a fallback, the built-in
planner), each `generate_output` step whose output a content spec can be rendered as is marked at
planning time with the connection that writes its content (`content_connection_id`). The step then
asks the model for the spec, offering only that deliverable's content tool; a spec that does not
validate (or cannot be rendered) goes back to the model as the tool's error with the validation
message, and so does a rendering that fails a criterion of the brief, a few replies at most. Each
reply is an ordinary model turn of the run (StoredReplies): stored with its usage and its workstream
row as it arrives, counted toward the run's budget (a spent budget pauses the run before the next
reply), and replayed, not paid for twice, when the step runs again after its worker died. The
verify and deliver steps that follow are unchanged: the output is checked against the deliverable's
brief like any output (the gate decides, not the model), and its card names the model as author.

Without a provider nothing changes: the step has no mark and the built-in author writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from outputs.content import content_spec_schema
from providers.adapters.turns import ToolSpec, tool_result

# Output categories a content spec renders as (outputs.content.RENDERS_AS, read the other way).
KIND_FOR_CATEGORY = {
    "document": "document",
    "pdf": "document",
    "spreadsheet": "sheet",
    "presentation": "slides",
    "website": "site",
    "image": "logo",  # only a logo: other images keep the built-in author (content_kind)
}
# Replies the model gets to write a spec that validates (the first one included).
CONTENT_ATTEMPTS = 3

SYSTEM_PROMPT = """You are the writer in a run of Command, an execution workspace. The person asked for an \
output; you write its content by calling the one content tool offered, with arguments that match its JSON \
schema exactly. Command validates what you write, renders the file with its own generators and checks it \
against the brief (each criterion is checked mechanically where it can be). Write real content about the \
subject, in the person's language: no placeholders, no invented facts about real people or companies. \
If your call does not validate, you are told why and may call the tool again."""

_DESCRIPTIONS = {
    "document": "Write the document: its title, an optional subtitle, its sections (heading, paragraphs, bullets) "
    "in order and a closing line.",
    "sheet": "Write the spreadsheet: its title, the column names and the rows (values, or formulas using only SUM, "
    "cell references and arithmetic; row 1 of the data is sheet row 4), and whether a totals row is added.",
    "slides": "Write the deck: the title slide's title and subtitle, the content slides (title and bullets) in "
    "order, and a closing line.",
    "logo": "Draw the logo: the name it shows, its mark as a small SVG (drawing elements only), and its colours.",
    "site": "Write the website's copy: hero headline, tagline, subheadline, features, steps, call to action, "
    "closing and contact lines, and whether it has a booking form.",
}


def content_kind(inputs: dict) -> str:
    """The content spec kind a generate_output step's output is written as ("" when none is)."""
    category = str(inputs.get("category") or "")
    kind = KIND_FOR_CATEGORY.get(category, "")
    if kind == "logo":
        genre = str((inputs.get("deliverable_brief") or {}).get("genre") or "")
        if "logo" not in f"{genre} {inputs.get('title') or ''}".lower():
            return ""
    return kind


def content_tool(kind: str) -> ToolSpec:
    """The tool a model writes one kind of content with; its schema is the spec's own."""
    schema = content_spec_schema(kind)
    # The tool's name says the kind: the spec's own `kind` field is filled in by Command.
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k != "kind"}
    return ToolSpec(f"write_{kind}", _DESCRIPTIONS[kind], schema)


def content_authored(result, *, connection):
    """(`result`, a PlannerResult, with each generate_output step a content spec can render marked
    as written by `connection`'s model; a sentence saying so, "" when no step was marked)."""
    steps, marked = [], []
    for step in result.plan.steps:
        if str(step.action_type) == "generate_output" and content_kind(step.inputs):
            what = f"{step.explanation.what} {connection.planner_label} writes its content; Command renders it."
            step = step.model_copy(
                update={
                    "inputs": {**step.inputs, "content_connection_id": str(connection.id)},
                    "explanation": step.explanation.model_copy(update={"what": what.strip()}),
                }
            )
            marked.append(f"“{step.title}”")
        steps.append(step)
    if not marked:
        return result, ""
    note = (
        f"{connection.planner_label} writes the content of {', '.join(marked)} through a typed content tool; "
        "Command renders it, checks it against the brief and names the model as its author."
    )
    return result.model_copy(update={"plan": result.plan.model_copy(update={"steps": steps})}), note


@dataclass
class ContentExchange:
    """What was said while the model wrote one output: its words and calls per reply, the errors
    it was told, the usage each reply reported. Kept in the step's result."""

    replies: list[dict] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(r["input_tokens"] + r["output_tokens"] for r in self.replies)


class StoredReplies:
    """The client a model writes an output's content through: every reply is an ordinary model
    turn of the run (ModelTurn, purpose "content", keyed by the step and the reply's number),
    stored with its usage and prices and its workstream row in one fenced transaction as soon as
    it arrives, and counted toward the run's budget like any turn.

    Reply n is looked up first: a step run again after its worker died replays the replies it
    stored instead of paying for them twice. Before asking for a new one the run's budget is
    checked (limits.check_before_content_reply): a spent budget pauses the run instead."""

    def __init__(self, ctx, *, connection, client, title: str):
        from tasks.models import ModelTurn

        self.ctx, self.connection, self.client, self.title = ctx, connection, client, title
        self.stored = {
            t.number: t
            for t in ModelTurn.objects.filter(step=ctx.step, purpose=ModelTurn.Purpose.CONTENT).order_by("number")
        }
        self.number = 0

    def chat_turn(self, *, system: str, messages: list[dict], tools: list, **kwargs):
        from django.db import transaction
        from django.utils import timezone

        from tasks.engine.loop import limits
        from tasks.engine.loop.records import turn_store
        from tasks.models import ModelTurn

        self.number += 1
        number = self.number
        turn = self.stored.get(number)
        if turn is not None:
            return _replayed(turn)
        limits.check_before_content_reply(run=self.ctx.run, step_id=self.ctx.step.step_id, number=number)
        requested_at = timezone.now()
        reply = self.client.chat_turn(system=system, messages=messages, tools=tools, **kwargs)
        # What this reply's request added: the request itself first, then the answers since the last reply.
        since = max((i + 1 for i, m in enumerate(messages) if m.get("role") == "assistant"), default=0)
        with transaction.atomic():
            self.ctx.heartbeat()  # the fence: a superseded worker stores no reply
            turn = turn_store(
                run=self.ctx.run,
                step=self.ctx.step,
                number=number,
                connection=self.connection,
                reply=reply,
                sent=messages[since:],
                system=system if number == 1 else "",
                requested_at=requested_at,
                purpose=ModelTurn.Purpose.CONTENT,
            )
            words = turn.reply_text.strip()
            self.ctx.emit(
                kind="model.content",
                phase="execute",
                status="info",
                title=f"{self.connection.planner_label} is writing {self.title} (reply {number})",
                explanation=f"The model says: “{words[:1500]}”" if words else "",
                payload={
                    "model_words": words[:4000],
                    "calls": [c["name"] for c in turn.tool_calls],
                    "model_turn_id": turn.pk,
                    "input_tokens": turn.input_tokens,
                    "output_tokens": turn.output_tokens,
                },
            )
        self.stored[number] = turn
        return reply


def _replayed(turn):
    """A stored reply as the client gave it (words, calls, usage), marked as replayed."""
    from providers.adapters.turns import ToolCall, TurnReply, Usage

    calls = [
        ToolCall(
            id=c["id"],
            name=c["name"],
            arguments=c.get("arguments") or {},
            arguments_error=c.get("arguments_error") or "",
        )
        for c in turn.tool_calls
    ]
    usage = Usage(turn.input_tokens, turn.output_tokens)
    return TurnReply(turn.reply_text, calls, usage, turn.stop_reason, {"replayed": True})


def _brief_text(request) -> str:
    deliverable = request.deliverable
    lines = [f"Write the content of: {deliverable.title} ({deliverable.category}, {deliverable.format or 'any'})."]
    if deliverable.description:
        lines.append(f"What the person asked: {deliverable.description}")
    criteria = deliverable.brief.criteria()
    if criteria:
        lines.append("Command checks these criteria on the file:\n" + "\n".join(f"- {c.text}" for c in criteria))
    entities = request.entities
    known = {k: v for k, v in (("brand", entities.brand), ("audience", entities.audience)) if v}
    if entities.colours:
        known["colours"] = ", ".join(entities.colours)
    if known:
        lines.append("Known: " + "; ".join(f"{k}: {v}" for k, v in known.items()))
    return "\n\n".join(lines)


def content_write(*, client, request, dest_dir, author: str, kind: str, on_reply=None, follow_ups=()):
    """Ask the model (through `client`) for the content of `request`'s deliverable and render it.

    Returns (GeneratedOutput, ContentExchange). A call that does not validate or cannot be rendered
    goes back as the tool's error with the reason, and so does a rendering that fails a check of the
    brief, up to CONTENT_ATTEMPTS replies. The last reply's rendering is returned even when it fails
    a criterion (the run's verify step then fails, naming it); no usable call at all raises
    GenerationError with what the model was last told. `on_reply(n, reply)`
    is called with each reply, once it is received (to show the model's words). `follow_ups` are
    what the person asked for since, in the thread (newest last): the model writes the new version
    for them."""
    from outputs.generators.base import GenerationError
    from outputs.services import output_render, output_verify_generated

    tool = content_tool(kind)
    messages: list[dict] = [
        {"role": "user", "content": f"The request, as the person typed it:\n{request.source_prompt}"}
    ]
    messages[0]["content"] += "\n\n" + _brief_text(request)
    if follow_ups:
        asked = "\n".join(f"- {words}" for words in follow_ups)
        messages[0]["content"] += f"\n\nAsked since, in the thread (newest last; write for it):\n{asked}"
    exchange = ContentExchange()
    problem = ""
    for number in range(1, CONTENT_ATTEMPTS + 1):
        reply = client.chat_turn(system=SYSTEM_PROMPT, messages=messages, tools=[tool])
        exchange.replies.append(
            {
                "words": (reply.text or "")[:4000],
                "calls": [c.name for c in reply.tool_calls],
                "input_tokens": max(0, int(reply.usage.input_tokens or 0)),
                "output_tokens": max(0, int(reply.usage.output_tokens or 0)),
            }
        )
        if on_reply is not None:
            on_reply(number, reply)
        message = reply.message()
        if not message["content"] and not reply.tool_calls:
            message["content"] = "(no reply)"
        messages.append(message)
        if not reply.tool_calls:
            problem = f"The reply called no tool; call {tool.name} with the content."
            messages.append({"role": "user", "content": problem})
            continue
        answers, generated = [], None
        for call in reply.tool_calls:
            if generated is not None or call.name != tool.name:
                reason = "Only one call is used." if generated is not None else f"The only tool is {tool.name}."
                answers.append(tool_result(call, reason, is_error=True))
                continue
            if call.arguments_error:
                problem = f"The arguments could not be read: {call.arguments_error}."
                answers.append(tool_result(call, problem, is_error=True))
                continue
            spec = {**call.arguments, "kind": kind}
            try:
                # A folder per reply: a later rendering never mixes with an earlier one's files.
                generated = output_render(
                    spec=spec, request=request, dest_dir=Path(dest_dir) / f"reply-{number}", author=author
                )
            except GenerationError as exc:
                problem = str(exc)
                answers.append(tool_result(call, f"{problem[:3000]} Call {tool.name} again, corrected.", is_error=True))
                continue
            failures = output_verify_generated(generated=generated).failures()
            if failures and number < CONTENT_ATTEMPTS:
                # The verify step decides; the model first hears which criteria its content fails.
                problem = "The file was rendered, but it fails: " + "; ".join(
                    f"{c.name} ({c.detail})" if c.detail else c.name for c in failures
                )
                answers.append(tool_result(call, f"{problem[:3000]} Call {tool.name} again, corrected.", is_error=True))
                generated = None
                continue
            answers.append(tool_result(call, f"Rendered {generated.title}; Command now checks it against the brief."))
        if generated is not None:
            return generated, exchange
        messages += answers
    raise GenerationError(
        f"{author} did not write content that Command could use in {CONTENT_ATTEMPTS} replies. "
        f"What it was last told: {problem}"
    )
