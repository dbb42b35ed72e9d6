"""The model_turn step: one durable turn of a model-driven run.

1. The turn's reply is looked up first (ModelTurn, unique per run and number): a turn whose reply
   was stored is never requested again, even after its worker died.
2. Otherwise the budget and stuck detection are checked (both pause the run instead of spending),
   the conversation is rebuilt from the stored transcript (each earlier turn's messages and reply,
   then the observations of the last turn's calls), the provider is called, and the reply is
   stored in its own fenced transaction.
3. The reply's tool calls become steps inserted after everything else in the run, followed by the
   next turn; a `finish` (or a reply with no call at all) ends the turn's calls, and its check
   decides. Insertion happens once per turn (its calls are the marker), in the transaction that
   marks the turn succeeded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from providers.adapters.transport import ProviderError
from providers.adapters.turns import ToolsUnsupported
from providers.contracts import ActionType, PlanStep, RiskLevel, StepExplanation
from providers.models import ProviderConnection
from tasks.engine.errors import StepFailed
from tasks.engine.handlers import StepContext, StepResult
from tasks.engine.loop import limits
from tasks.engine.loop.observations import call_observed, observe_settled
from tasks.engine.loop.records import turn_row
from tasks.engine.loop.revisions import plan_revise_from_turn
from tasks.engine.loop.streaming import StreamedWords
from tasks.engine.loop.tools import TOOLS, call_problem, step_for_call
from tasks.engine.sql import COUNT, ID, CompiledQuery, Mark, fetch_batch, fetch_one, insert_rows, instances
from tasks.models import ModelToolCall, ModelTurn, StepExecution, TaskRun

SE = StepExecution.Status

SYSTEM_PROMPT = """You are the model in a run of Command, an execution workspace. You work on a real project \
folder (the workspace) through tools; every call you make is an ordinary step of the run: the person may \
have to approve it, each change gets a rollback point and a diff, and you see the result of each call in \
your next turn.
Rules:
- Look before you change: list_files, search and read_file show you the workspace. Never guess a file's text.
- edit_file replaces one exact piece of text, character for character, without the line numbers read_file \
shows. If it does not match exactly once, nothing changes and you see the closest lines.
- Run only commands the work needs. A command the person denies is not run; you are told their words.
- When you believe the work is done, call finish with a short summary. You never decide that the work is \
done: Command runs the check, and only a passing check completes the run. If the check fails, you see why \
and may fix it.
- Ask the person (ask_operator) only when you cannot go on without their answer."""


def turn_step_id(number: int) -> str:
    return f"turn-{number}"


def turn_plan_step(*, number: int, connection_id: str, check: str) -> PlanStep:
    """The plan step of model turn `number` (the first one is the whole plan of a model-driven run)."""
    return PlanStep(
        id=turn_step_id(number),
        title=f"Model turn {number}",
        action_type=ActionType.MODEL_TURN,
        inputs={"turn": number, "connection_id": connection_id, "check": check},
        risk_level=RiskLevel.LOW,
        explanation=StepExplanation(
            what=(
                "Ask the model what to do, given the request, the files and the check."
                if number == 1
                else "Ask the model what to do next, given what its last actions showed."
            ),
            why="The model proposes each action; Command carries it out as a step you can see and approve.",
            expect_next="The actions it asks for, each as its own step. "
            + (f"The check: `{check}` must exit 0." if check else "The model proposes the check when it finishes."),
        ),
    )


def _connection_row(ctx: StepContext, connection_id: str):
    """The owner's connection `connection_id` unless it was revoked, read afresh before every turn."""
    if not connection_id:
        return None
    return next(iter(ProviderConnection.objects.raw(*_CONNECTION.sql_params(connection_id, ctx.run.owner_id))), None)


# Asked before every turn (a revoked connection stops the run at its next turn): compiled once (tasks.engine.sql).
_CONNECTION_ID = Mark(ProviderConnection, "id", uuid.UUID("7f3a0000-0000-4000-8000-00000000f3a7"))
_CONNECTION = CompiledQuery(
    lambda: (
        ProviderConnection.objects.filter(pk=_CONNECTION_ID.value, owner_id=ID.value)
        .exclude(status=ProviderConnection.Status.REVOKED)
        .order_by("pk")[:1]
    ),
    _CONNECTION_ID,
    ID,
)


def _connection(ctx: StepContext, connection_id: str, connection=None):
    if connection is None:
        raise StepFailed(
            "The model provider this run was planned with is no longer connected, so no model can take the "
            "next turn. Connect a provider and plan again.",
            error_type="ProviderGone",
            retryable=False,
        )
    return connection


def usable_connection(ctx: StepContext, connection_id: str):
    """The owner's connection `connection_id` if it is still usable, else StepFailed saying so."""
    return _connection(ctx, connection_id, _connection_row(ctx, connection_id))


def _first_message(ctx: StepContext, check: str) -> dict:
    task = ctx.run.task
    parts = [f"The request, as the person typed it:\n{task.raw_prompt}"]
    answers = task.context.get("answers") or {}
    if answers:
        parts.append("Their answers to questions:\n" + "\n".join(f"- {k}: {v}" for k, v in answers.items()))
    if ctx.workspace_path is not None:
        from workspaces.services.search import file_list_in

        tree = file_list_in(root=str(ctx.workspace_path), limit=settings.COMMAND_LOOP_TREE_FILES).as_text()
        parts.append(f"The files in the workspace “{ctx.run.workspace.name}”:\n{tree}")
    if check:
        parts.append(f"The check: when you call finish, Command runs `{check}`; the work is done only if it exits 0.")
    else:
        parts.append(
            "No check was named. When you call finish, propose one (a command that exits 0 only when the work "
            "is right); the person approves it like any command."
        )
    return {"role": "user", "content": "\n\n".join(parts)}


def _tool_message(call: ModelToolCall) -> dict:
    if not call.call_id:  # a reply without any call: its check's outcome comes back as words
        return {"role": "user", "content": f"Command ran the check after your last reply.\n{call.observation}"}
    return {
        "role": "tool",
        "tool_call_id": call.call_id,
        "name": call.name or "unnamed_tool",  # a call without a name still needs its answer
        "content": call.observation or "(no result recorded)",
        "is_error": call.is_error,
    }


def conversation(
    run: TaskRun, number: int, earlier: list[ModelTurn], last_turn_calls: list[ModelToolCall]
) -> tuple[list[dict], list[dict]]:
    """(the whole conversation up to turn `number`, the messages turn `number` adds): every earlier
    turn's messages and reply as stored (`earlier`, read by `_EARLIER_TURNS`), then the results of
    the last turn's calls (`last_turn_calls`: those of turn number − 1, read with it)."""
    # Only what the messages are made of; the calls (and, when a call's observation was never
    # stored, its step) only for the last turn, whose results this turn sends.
    messages: list[dict] = []
    for turn in earlier:
        messages += turn.sent
        # The reply as the model gave it (its calls in its own order, not the order they ran in).
        real = [c for c in turn.tool_calls if c.get("id")]
        messages.append(
            {
                "role": "assistant",
                # A reply with neither words nor calls is still a turn: say so rather than send nothing.
                "content": turn.reply_text or ("" if real else "(no reply)"),
                "tool_calls": [{"id": c["id"], "name": c["name"], "arguments": c.get("arguments") or {}} for c in real],
            }
        )
    if not earlier:
        return messages, []
    last = earlier[-1]
    if last.number != number - 1:  # turns are numbered one after another; never trust that blindly
        last_turn_calls = list(ModelToolCall.objects.raw(*_TURN_CALLS.sql_params(last.pk)))
    sent = [_tool_message(call_observed(c)) for c in last_turn_calls]
    return compacted(messages, keep_last=sent), sent


# Asked before every turn: compiled once (tasks.engine.sql).
_EARLIER_TURNS = CompiledQuery(
    lambda: (
        ModelTurn.objects.filter(run_id=ID.value, number__lt=COUNT.value, purpose=ModelTurn.Purpose.LOOP)
        .order_by("number")
        .only("pk", "number", "sent", "reply_text", "tool_calls")
    ),
    ID,
    COUNT,
)
_CALLS_OF_TURN = CompiledQuery(
    lambda: ModelToolCall.objects.filter(
        turn__run_id=ID.value, turn__number=COUNT.value, turn__purpose=ModelTurn.Purpose.LOOP
    ).order_by("turn_id", "index"),
    ID,
    COUNT,
)
_TURN_CALLS = CompiledQuery(lambda: ModelToolCall.objects.filter(turn_id=ID.value).order_by("turn_id", "index"), ID)


def _chars(messages: list[dict]) -> int:
    return sum(len(m.get("content") or "") + len(str(m.get("tool_calls") or "")) for m in messages)


def compacted(messages: list[dict], *, keep_last: list[dict]) -> list[dict]:
    """What is sent of the earlier conversation: whole while it (with `keep_last`) stays under
    COMMAND_LOOP_CONTEXT_CHARS; past it, the oldest tool results become one-line stubs until it
    fits (the stored transcript stays whole). The request and the replies are never cut."""
    limit = settings.COMMAND_LOOP_CONTEXT_CHARS
    total = _chars(messages) + _chars(keep_last)
    if total <= limit:
        return messages
    out = list(messages)
    for i, message in enumerate(out):
        if total <= limit:
            break
        content = message.get("content") or ""
        if message["role"] != "tool" or len(content) < 200:
            continue
        first = content.strip().splitlines()[0][:100] if content.strip() else ""
        name = message.get("name", "a tool")
        stub = f"[an earlier result of {name}, {len(content):,} characters, not repeated: {first}]"
        out[i] = {**message, "content": stub}
        total -= len(content) - len(stub)
    return out


def model_turn(ctx: StepContext) -> StepResult:
    run, step = ctx.run, ctx.step
    inputs = ctx.plan_step.inputs
    number = int(inputs.get("turn") or 1)
    check = str(inputs.get("check") or "")
    before = _read_before_turn(run, number, str(inputs.get("connection_id") or ""))
    turn = before.turn
    fresh = turn is None
    if turn is None:
        limits.check_before_turn(
            run=run, number=number, pauses=before.pauses, used=before.used, recent=before.recent_calls
        )
        connection = _connection(ctx, str(inputs.get("connection_id") or ""), before.connection)
        from providers.adapters import client_for

        messages, sent = conversation(run, number, before.earlier, before.last_turn_calls)
        if number == 1:
            sent = [_first_message(ctx, check)]
        requested_at = timezone.now()
        words = StreamedWords(ctx, number)
        try:
            reply = client_for(connection).chat_turn(
                system=SYSTEM_PROMPT,
                messages=messages + sent,
                tools=TOOLS,
                on_text=words if settings.COMMAND_LOOP_STREAM_SECONDS > 0 else None,
            )
            words.flush()
        except ToolsUnsupported as exc:
            if number == 1:
                return fall_back_to_one_shot(ctx, connection=connection, reason=exc.message)
            raise StepFailed(
                f"{connection.planner_label} refused the tools in turn {number}: {exc.message}",
                error_type="ToolsUnsupported",
                retryable=False,
            ) from exc
        except ValueError as exc:  # the client refused to send this conversation (tools_check, messages_check)
            raise StepFailed(
                f"Command could not put turn {number} together for the model: {exc}",
                error_type="TranscriptInvalid",
                retryable=False,
            ) from exc
        except ProviderError as exc:
            raise StepFailed(
                f"{connection.planner_label} did not answer turn {number}: {exc.message}",
                error_type="ProviderError",
                retryable=exc.status is None or exc.status >= 429,
            ) from exc
        turn = turn_row(
            run=run,
            step=step,
            number=number,
            connection=connection,
            reply=reply,
            sent=sent,
            system=SYSTEM_PROMPT if number == 1 else "",
            requested_at=requested_at,
        )
        # Fenced (a superseded worker stores no reply), with the reply's row, in one statement.
        ctx.insert_with_event(
            [turn],
            kind="model.reply",
            phase="execute",
            status="info",
            title=f"The model's turn {number}: " + _asked_for(turn.tool_calls),
            explanation=(f"The model says: “{turn.reply_text.strip()[:1500]}”" if turn.reply_text.strip() else ""),
            payload={
                "turn": number,
                "model_words": turn.reply_text[:4000],
                "input_tokens": turn.input_tokens,
                "output_tokens": turn.output_tokens,
                "provider": turn.provider,
            },
        )
    # The reply is stored first, on its own: a worker that dies now never asks for it again. Its steps
    # go in with the turn's success (StepResult.settle), in the executor's fenced transaction; a
    # reply stored earlier whose steps never were gets them here.
    settle = None
    if fresh:  # a reply just stored has no calls yet

        def settle():
            _insert_steps(ctx, turn, connection_id=str(inputs.get("connection_id") or ""), check=check)

    else:
        with transaction.atomic():
            ctx.heartbeat()
            if not turn.calls.exists():
                _insert_steps(ctx, turn, connection_id=str(inputs.get("connection_id") or ""), check=check)
    tokens = turn.input_tokens + turn.output_tokens
    return StepResult(
        summary=f"Model turn {number} ({turn.provider}): {_asked_for(turn.tool_calls)}; {tokens:,} tokens.",
        data={"model_turn_id": turn.pk, "input_tokens": turn.input_tokens, "output_tokens": turn.output_tokens},
        settle=settle,
    )


@dataclass
class _BeforeTurn:
    """What a turn reads before it asks the model, all in one round trip (sql.fetch_batch)."""

    turn: ModelTurn | None  # the turn's reply, when it was stored already
    connection: ProviderConnection | None  # None when revoked (or none named)
    pauses: list[dict]
    used: dict
    recent_calls: list[ModelToolCall]
    earlier: list[ModelTurn]
    last_turn_calls: list[ModelToolCall]  # the calls of turn number − 1


def _read_before_turn(run: TaskRun, number: int, connection_id: str) -> _BeforeTurn:
    """The stored reply, the connection, the budget's and the stuck check's reads and the
    conversation's, in one batch: a stored reply makes the rest unneeded, which costs nothing
    more than asking for it first would (the batch is one round trip)."""
    statements = [
        _TURN.sql_params(run.pk, number),
        limits.PAUSES.sql_params(run.pk),
        limits.USAGE.sql_params(run.pk),
        limits.RECENT_CALLS.sql_params(run.pk),
        _EARLIER_TURNS.sql_params(run.pk, number),
        _CALLS_OF_TURN.sql_params(run.pk, number - 1),
    ]
    if connection_id:
        statements.append(_CONNECTION.sql_params(connection_id, run.owner_id))
    results = fetch_batch(*statements)
    (turn_cols, turn), (_, pauses), (_, usage), (call_cols, recent), (earlier_cols, earlier), last = results[:6]
    turns = instances(ModelTurn, turn_cols, turn)
    connection = instances(ProviderConnection, *results[6]) if connection_id else []
    return _BeforeTurn(
        turn=turns[0] if turns else None,
        connection=connection[0] if connection else None,
        pauses=limits.pauses_from_rows(pauses),
        used=limits.usage_from_row(usage[0] if usage else None),
        recent_calls=instances(ModelToolCall, call_cols, recent),
        earlier=instances(ModelTurn, earlier_cols, earlier),
        last_turn_calls=instances(ModelToolCall, *last),
    )


# The stored reply of a turn, looked up before every turn: compiled once (tasks.engine.sql).
_TURN = CompiledQuery(
    lambda: ModelTurn.objects.filter(run_id=ID.value, number=COUNT.value, purpose=ModelTurn.Purpose.LOOP).order_by(
        "run", "number"
    )[:1],
    ID,
    COUNT,
)


def _asked_for(calls: list[dict]) -> str:
    if not calls:
        return "no action asked for"
    names = [c.get("name", "?") for c in calls]
    return f"asked for {len(names)} action{'s' if len(names) != 1 else ''} ({', '.join(names[:6])})"


def _next_position(run: TaskRun) -> int:
    row = fetch_one(*_LAST_POSITION.sql_params(run.pk))
    return ((row[0] if row else None) or 0) + 1


# The run's last position (as Max would give it), asked once per turn: compiled once (tasks.engine.sql).
_LAST_POSITION = CompiledQuery(
    lambda: StepExecution.objects.filter(run_id=ID.value).order_by("-position").values_list("position")[:1], ID
)


def _step_row(run: TaskRun, plan_step: PlanStep, position: int) -> StepExecution:
    return StepExecution(
        run=run,
        step_id=plan_step.id,
        position=position,
        action_type=str(plan_step.action_type),
        title=plan_step.title,
        idempotency_key=f"run-{run.pk}:{plan_step.id}",
        spec=plan_step.model_dump(mode="json"),
    )


def _new_step(run: TaskRun, plan_step: PlanStep, position: int) -> StepExecution:
    step = _step_row(run, plan_step, position)
    step.save(force_insert=True)
    return step


def _insert_steps(ctx: StepContext, turn: ModelTurn, *, connection_id: str, check: str) -> None:
    """Inside the caller's fenced transaction: one step per valid call (a call that cannot be a
    step is answered at once with why), `finish` last, then the next turn unless `finish` was
    called. A reply with no call at all counts as finishing: the check decides. The steps, then
    the calls, are inserted by one prepared statement per row."""
    run = ctx.run
    position = _next_position(run)
    calls = list(turn.tool_calls)
    if not calls:
        calls = [{"id": "", "name": "finish", "arguments": {"summary": turn.reply_text}, "arguments_error": ""}]
    # finish runs after the other calls of the same reply, so the check sees their effect.
    calls.sort(key=lambda c: c.get("name") == "finish")
    finishing = False
    records: list[ModelToolCall] = []
    steps: list[StepExecution] = []
    for index, call in enumerate(calls, start=1):
        name, args = str(call.get("name") or ""), call.get("arguments") or {}
        record = ModelToolCall(
            turn=turn, index=index, call_id=str(call.get("id") or "")[:120], name=name[:60], arguments=args
        )
        records.append(record)
        problem = call_problem(name, args, call.get("arguments_error") or "")
        if problem:
            record.observation, record.is_error, record.observed_at = problem, True, timezone.now()
            continue
        if name == "finish":
            if finishing:
                record.observation, record.is_error, record.observed_at = (
                    "finish was already called in this reply.",
                    True,
                    timezone.now(),
                )
                continue
            finishing = True
        plan_step = step_for_call(
            name=name,
            args=args,
            step_id=f"t{turn.number}.{index}-{name}"[:40],
            call_id=record.call_id,
            model_words=turn.reply_text,
        )
        record.step = _step_row(run, plan_step, position)
        steps.append(record.step)
        position += 1
    if not finishing:
        steps.append(
            _step_row(run, turn_plan_step(number=turn.number + 1, connection_id=connection_id, check=check), position)
        )
    # The steps first, for their keys, then the calls: one prepared INSERT each.
    insert_rows(steps)
    for record in records:
        record.step_id = record.step.pk if record.step is not None else None
    insert_rows(records)
    plan_revise_from_turn(ctx, turn, check=check)


def finish_step(ctx: StepContext) -> StepResult:
    """The model's summary, recorded as its words; then the check as a `verify` step right after.

    The check is the one named when the run was planned; without one, the command the model
    proposes with finish (asked about like any command). Without either, nothing can check the
    work, and the run cannot be called completed: that is said plainly.
    """
    inputs = ctx.plan_step.inputs
    summary = str(inputs.get("summary") or "").strip()
    turn_inputs = _loop_inputs(ctx.run)
    named = str(turn_inputs.get("check") or "")
    proposed = str(inputs.get("check") or "").strip()
    command = named or proposed
    call = ModelToolCall.objects.filter(step=ctx.step).first()
    with transaction.atomic():
        ctx.heartbeat()
        if summary:
            ctx.emit(
                kind="model.summary",
                phase="execute",
                status="info",
                title="The model says it is done",
                explanation=f"In the model's words: “{summary[:1500]}” Command checks this itself before calling "
                "the run completed.",
                payload={"model_words": summary[:4000]},
            )
        if not command:
            raise StepFailed(
                "The model says it is done, but no check was named and it proposed none, so Command cannot "
                "verify the work.",
                error_type="NoCheck",
                retryable=False,
            )
        if call is not None and call.check_step_id is None:
            origin = "the check you named" if named else "the check the model proposed"
            check = PlanStep(
                id=f"{ctx.step.step_id}-check"[:40],
                title="Check the work",
                action_type=ActionType.VERIFY,
                inputs={"command": command, "check_origin": "named" if named else "model"},
                risk_level=RiskLevel.MEDIUM if not named else RiskLevel.LOW,
                explanation=StepExplanation(
                    what=f"Run {origin}: `{command[:200]}`.",
                    why="The model's word is not proof; the check is.",
                    expect_next="Exit code 0 completes the run; anything else goes back to the model.",
                ),
            )
            call.check_step = _new_step(ctx.run, check, _next_position(ctx.run))
            call.save(update_fields=["check_step"])
            if not named:
                _revise_for_proposed_check(ctx, command=command, words=summary)
    return StepResult(
        summary="The model says it is done; the check decides.",
        data={"observation": "Command is running the check.", "model_words": summary[:4000]},
    )


def _revise_for_proposed_check(ctx: StepContext, *, command: str, words: str) -> None:
    """The model proposed the check (none was named): what "done" means changed, so the task gets a
    plan revision saying so, and the thread a row. The check still runs only once approved."""
    from providers.contracts import Plan
    from tasks.planning import PlanningRefused, plan_revise

    inputs = _loop_inputs(ctx.run)
    plan = Plan(steps=[turn_plan_step(number=1, connection_id=str(inputs.get("connection_id") or ""), check=command)])
    note = (
        f"No check was named; the model proposed `{command[:300]}` as the check when it said it was done. "
        "It runs only if you approve it, and the work is done only if it exits 0."
    )
    try:
        revision = plan_revise(task=ctx.run.task, reason=note, plan=plan)
    except (PlanningRefused, ValueError):  # no (valid) revision to revise: the row below still tells
        revision = None
    ctx.emit(
        kind="plan.revised",
        phase="plan",
        status="info",
        title="The model proposed the check" + (f" (plan revision {revision.number})" if revision else ""),
        explanation=note,
        payload={
            "revision": revision.number if revision else None,
            "check": command[:300],
            "proposed_by": "model",
            "changes": [f"The check: `{command[:300]}` (proposed by the model; runs only if you approve it)"],
        },
    )


def _loop_inputs(run: TaskRun) -> dict:
    first = StepExecution.objects.filter(run=run, action_type=ActionType.MODEL_TURN).order_by("-position").first()
    return ((first.spec or {}).get("inputs") or {}) if first else {}


def check_failed_next_turn(*, run: TaskRun, step: StepExecution) -> StepExecution | None:
    """Inside the executor's fenced transaction, after a check (`verify` from finish) or a finish
    failed and was fed back: the next model turn, so the model sees why. None for any other step
    (the turn that asked for it already has its next turn queued)."""
    call = (
        ModelToolCall.objects.filter(check_step=step).select_related("turn").first()
        or ModelToolCall.objects.filter(step=step, name="finish").select_related("turn").first()
    )
    if call is None:
        return None
    inputs = _loop_inputs(run)
    plan_step = turn_plan_step(
        number=call.turn.number + 1,
        connection_id=str(inputs.get("connection_id") or ""),
        check=str(inputs.get("check") or ""),
    )
    if StepExecution.objects.filter(run=run, step_id=plan_step.id).exists():
        return None
    return _new_step(run, plan_step, _next_position(run))


def check_denied(*, run: TaskRun, step_id: str) -> StepExecution | None:
    """After the person denied (or refined) the check a model's finish led to: the check did not
    run, so it is fed back (it never counts as passed) and the model gets another turn to hear why.
    None, changing nothing, for any other step."""
    step = StepExecution.objects.filter(run=run, step_id=step_id, action_type=ActionType.VERIFY).first()
    if step is None or not ModelToolCall.objects.filter(check_step=step).exists():
        return None
    StepExecution.objects.filter(pk=step.pk).update(status=SE.FED_BACK)
    step.status = SE.FED_BACK
    observe_settled(step)
    return check_failed_next_turn(run=run, step=step)


def fall_back_to_one_shot(ctx: StepContext, *, connection, reason: str) -> StepResult:
    """The model takes no tools: plan the work in one pass the old way, say so, and run that plan
    here (its steps are inserted after this turn, through the same gate)."""
    from providers.adapters import planner_for
    from tasks.planning import _planning_request, _store

    task = ctx.run.task
    request = _planning_request(task, answers=dict(task.context.get("answers", {})))
    outcome = planner_for(connection).plan_with_outcome(request)
    note = (
        f"{connection.planner_label} does not take tools ({reason}), so it cannot read files or see results "
        f"during the run. Command asked it for a plan in one pass instead"
        + (f", but {outcome.note}" if outcome.fell_back else "")
        + ". That plan was made without seeing your files' contents."
    )
    with transaction.atomic():
        ctx.heartbeat()
        revision = _store(task=task, result=outcome.result, planner=outcome.planner, change_note=note)
        position = _next_position(ctx.run)
        for plan_step in outcome.result.plan.steps:
            clash = StepExecution.objects.filter(run=ctx.run, step_id=plan_step.id).exists()
            if clash:
                plan_step = plan_step.model_copy(update={"id": f"r{revision.number}-{plan_step.id}"[:40]})
            _new_step(ctx.run, plan_step, position)
            position += 1
        ctx.emit(
            kind="plan.revised",
            phase="plan",
            status="warning",
            title=f"The model takes no tools: planned in one pass instead (revision {revision.number})",
            explanation=note,
            payload={"revision": revision.number, "fell_back": True},
        )
    return StepResult(
        summary=(
            f"{connection.planner_label} takes no tools; the one-pass plan (revision {revision.number}) runs instead."
        ),
        data={"fell_back": True, "plan_revision": revision.number},
    )
