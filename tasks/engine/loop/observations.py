"""What a settled tool step tells the model: file text, exit code and output tail, the diff an
edit made, a refusal or a denial in the person's words. Each is capped, stored on the call
(ModelToolCall.observation) and sent as the tool's result in the next turn.

Read from the record and the folder at the moment the step settles (a read shows the file as it
was read, not as a later step of the same turn left it).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from tasks.engine.sql import ID, CompiledQuery, fetch_one, update_where_sent
from tasks.models import CommandExecution, ModelToolCall, StepExecution, WorkstreamEvent

SE = StepExecution.Status


def _cap(text: str, limit: int | None = None) -> str:
    limit = limit or settings.COMMAND_LOOP_OBSERVATION_CHARS
    if len(text) <= limit:
        return text
    shown = limit - 120
    return text[:shown] + f"\n… [cut: {len(text) - shown} more characters not shown; ask for less, e.g. a line range]"


def _tail(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"[… {len(text) - limit} earlier characters not shown]\n" + text[-limit:]


def _line_number(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None  # a range the model gave that is not a number: the whole file


def _numbered(text: str, start, end) -> str:
    lines = text.splitlines()
    first = max(1, _line_number(start) or 1)
    last = min(len(lines), _line_number(end) or len(lines))
    width = len(str(last or 1))
    shown = [f"{n:>{width}}| {lines[n - 1]}" for n in range(first, last + 1)]
    header = f"({len(lines)} lines" + (f"; showing {first}–{last}" if (first, last) != (1, len(lines)) else "") + ")"
    return header + "\n" + "\n".join(shown)


def _file_text(step: StepExecution, path: str) -> str | None:
    from workspaces.services import file_read

    workspace = step.run.workspace
    if workspace is None:
        return None
    try:
        data = file_read(workspace=workspace, path=path, limit=2 * 1024 * 1024)
        return data.decode("utf-8")
    except Exception:  # noqa: BLE001 - a file that cannot be read back gives no text, never a crash
        return None


def closest_lines(text: str, find: str, around: int = 2) -> str:
    """The lines of `text` most like the first line of `find`, with a little context, numbered:
    what an edit that did not match can be corrected from."""
    lines = text.splitlines()
    probe = next((line for line in find.splitlines() if line.strip()), find).strip()
    if not lines or not probe:
        return ""
    scored = sorted(
        range(len(lines)), key=lambda i: difflib.SequenceMatcher(None, lines[i].strip(), probe).ratio(), reverse=True
    )
    best = scored[0]
    first, last = max(0, best - around), min(len(lines), best + around + 1)
    width = len(str(last))
    return "\n".join(f"{n + 1:>{width}}| {lines[n]}" for n in range(first, last))


def _command_part(execution_id) -> str:
    execution = CommandExecution.objects.filter(pk=execution_id).first() if execution_id else None
    if execution is None:
        return ""
    code = "did not finish in time" if execution.timed_out else f"exit code {execution.exit_code}"
    output = _tail(execution.output or "", settings.COMMAND_LOOP_OUTPUT_TAIL_CHARS)
    return f"`{execution.command}`: {code}.\nOutput:\n{output or '(no output)'}"


def _skip_reason(step: StepExecution) -> str:
    from approvals.models import ApprovalRequest

    decided = (
        ApprovalRequest.objects.filter(
            run_id=step.run_id,
            step_id=step.step_id,
            status__in=(ApprovalRequest.Status.DENIED, ApprovalRequest.Status.REFINED),
        )
        .order_by("-created_at")
        .first()
    )
    if decided is not None:
        words = decided.decision_note.strip()
        if decided.status == ApprovalRequest.Status.REFINED:
            return f"The person asked for something different instead: “{words}”"
        return "The person denied it." + (f" Their words: “{words}”" if words else "")
    note = ((step.result or {}).get("approval") or {}).get("note")
    if note:
        return note
    event = (
        WorkstreamEvent.objects.filter(run_id=step.run_id, step_id=step.step_id, kind="step.skipped")
        .order_by("-seq")
        .first()
    )
    return event.explanation if event else "It was skipped."


def _interruption(step: StepExecution) -> str:
    """What Command did when this step's worker died part-way (the recovery's own words), if it did."""
    if step.attempts < 2:
        return ""
    started = list(
        WorkstreamEvent.objects.filter(run_id=step.run_id, step_id=step.step_id, kind="step.started")
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    if len(started) < 2:
        return ""
    recovery = (
        WorkstreamEvent.objects.filter(
            run_id=step.run_id,
            kind="run.state",
            payload__has_key="recovered_attempt",
            seq__gt=started[0],
            seq__lt=started[-1],
        )
        .order_by("-seq")
        .first()
    )
    if recovery is None:
        return ""
    return f"This action was interrupted and run again. What Command did: {recovery.explanation}\n"


def observation_for(step: StepExecution) -> tuple[str, bool]:
    """(what the model is told, whether it is an error) for a settled step; a step whose worker
    died part-way says so first, in the recovery's words."""
    text, is_error = _observation(step)
    note = _interruption(step)
    return (_cap(note + text) if note else text), is_error


def _observation(step: StepExecution) -> tuple[str, bool]:
    inputs = (step.spec or {}).get("inputs") or {}
    result = step.result or {}
    action = step.action_type
    if step.status == SE.SKIPPED or result.get("approval", {}).get("granted") is False:
        return f"Not done. {_skip_reason(step)}", True
    if step.status in (SE.FAILED, SE.FED_BACK, SE.CANCELLED):
        text = step.error_message or "It failed."
        if action in ("run_command", "verify"):
            part = _command_part(
                result.get("command_execution_id") or (result.get("report") or {}).get("command_execution_id")
            )
            text = f"{text}\n{part}" if part else text
        if action == "edit_file" and step.error_class == "EditRefused":
            current = _file_text(step, str(inputs.get("path", "")))
            if current is not None:
                near = closest_lines(current, str(inputs.get("find", "")))
                if near:
                    text += f"\nThe closest lines in the file now:\n{near}"
        return _cap(text), True
    # Succeeded.
    if action == "read_file":
        text = _file_text(step, str(inputs.get("path", "")))
        if text is None:
            return "The file could not be read back as text.", True
        return _cap(_numbered(text, inputs.get("start_line"), inputs.get("end_line"))), False
    if action in ("edit_file", "write_file", "delete_file"):
        change_id = result.get("file_change_id")
        row = fetch_one(*_CHANGE_DIFF.sql_params(change_id)) if isinstance(change_id, int) else None
        text = result.get("summary", "Done.")
        if row is not None and row[0]:
            text += "\n" + row[0]
        return _cap(text), False
    if action == "run_command":
        return _cap(_command_part(result.get("command_execution_id")) or result.get("summary", "Done.")), False
    if action == "verify":
        return _cap(
            f"{result.get('summary', 'The check passed.')} The run's verification gate decides the rest."
        ), False
    return _cap(str(result.get("observation") or result.get("summary") or "Done.")), False


def _change_diff_query():
    from workspaces.models import FileChange

    return FileChange.objects.filter(pk=ID.value).values_list("diff")[:1]


# The diff of an edit's FileChange, read as the edit settles: compiled once (tasks.engine.sql).
_CHANGE_DIFF = CompiledQuery(_change_diff_query, ID)


def observe_settled(step: StepExecution, *, run=None) -> None:
    """Store the observation of a settled step on the tool call it carried out (or checked), if
    a model asked for it. `run`: the step's run as the caller already holds it (its workspace is
    not read again)."""
    store = observation_to_store(step, run=run)
    if store is not None:
        store()


def observation_to_store(step: StepExecution, *, run=None) -> Callable[[], None] | None:
    """observe_settled in two parts: the observation is made now (reading what it needs), and the
    returned function stores it, by one UPDATE sent with sql.send (so it may go in the caller's
    sql.pipeline). None for a step no model asked for."""
    if not step_for_model(step):
        return None
    if run is not None and run.pk == step.run_id:
        step.run = run
    text, is_error = observation_for(step)
    # The call the step carried out, or for a check the call it checked: found by the UPDATE itself.
    link = "check_step" if "check_origin" in ((step.spec or {}).get("inputs") or {}) else "step"
    values = {"observation": text, "is_error": is_error}
    return lambda: update_where_sent(
        ModelToolCall, {link: step.pk}, returning=("pk",), **values, observed_at=timezone.now()
    )


def call_observed(call: ModelToolCall) -> ModelToolCall:
    """The call with its observation; one never stored (a step settled outside the executor, e.g.
    a denial, or not settled yet) is read from its step now, and stored once the step settled."""
    if call.observed_at is not None:
        return call
    step = call.check_step or call.step
    if step is None:
        return call
    text, is_error = observation_for(step)
    if step.status in (SE.PENDING, SE.RUNNING, SE.WAITING_APPROVAL):
        call.observation, call.is_error = "It has not run.", True
        return call
    ModelToolCall.objects.filter(pk=call.pk).update(observation=text, is_error=is_error, observed_at=timezone.now())
    call.observation, call.is_error, call.observed_at = text, is_error, timezone.now()
    return call


def step_for_model(step: StepExecution) -> bool:
    """Whether a model asked for this step (or for the check it is): its failure is the model's to
    see. Read from the step's own spec (tools.step_for_call and turns.finish_step mark it), so
    the executor asks no query for an ordinary step."""
    inputs = (step.spec or {}).get("inputs") or {}
    return "tool_call_id" in inputs or "check_origin" in inputs
