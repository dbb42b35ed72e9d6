"""The loop's own steps: model turns and the tools that exist only for a model (list_files,
search, ask_operator, finish). read_file, edit_file, write_file, delete_file and run_command from
a model are the ordinary handlers (workspace_steps)."""

from __future__ import annotations

import re

from providers.contracts import ActionType
from tasks.engine.errors import StepFailed, StepPaused
from tasks.engine.handlers import StepContext, StepResult, register
from tasks.engine.loop import turns
from tasks.engine.loop.workspace_view import files_list, text_search
from workspaces.paths import PathRefused

register(ActionType.MODEL_TURN)(turns.model_turn)


def _root(ctx: StepContext) -> str:
    if ctx.workspace_path is None:
        raise StepFailed("This run has no workspace folder.", error_type="NoWorkspace", retryable=False)
    return str(ctx.workspace_path)


@register(ActionType.LIST_FILES)
def list_files(ctx: StepContext) -> StepResult:
    under = str(ctx.plan_step.inputs.get("path") or "").strip().strip("/")
    try:
        listing = files_list(root=_root(ctx), under=under)
    except PathRefused as exc:
        raise StepFailed(str(exc), error_type="PathRefused", retryable=False) from exc
    except (FileNotFoundError, NotADirectoryError):
        raise StepFailed(f"There is no folder “{under}” in the workspace.", error_type="NotFound", retryable=False)
    lines = "\n".join(listing.files) or "(no files)"
    more = "\n… (more files not listed; list a sub-folder)" if listing.truncated else ""
    where = f"under {under}" if under else "in the workspace"
    return StepResult(
        summary=f"Listed {len(listing.files)}{'+' if listing.truncated else ''} files {where}.",
        data={"observation": lines + more, "count": len(listing.files)},
    )


@register(ActionType.SEARCH)
def search(ctx: StepContext) -> StepResult:
    inputs = ctx.plan_step.inputs
    pattern = str(inputs.get("pattern") or "")
    under = str(inputs.get("path") or "").strip().strip("/")
    try:
        matches, truncated = text_search(root=_root(ctx), pattern=pattern, regex=bool(inputs.get("regex")), under=under)
    except re.error as exc:
        raise StepFailed(
            f"The pattern is not a valid regular expression: {exc}.", error_type="InvalidStep", retryable=False
        )
    except PathRefused as exc:
        raise StepFailed(str(exc), error_type="PathRefused", retryable=False) from exc
    lines = "\n".join(f"{m.path}:{m.line}: {m.text}" for m in matches) or "No matches."
    files = len({m.path for m in matches})
    more = "\n… (more matches not shown; narrow the search)" if truncated else ""
    return StepResult(
        summary=f"Found {len(matches)}{'+' if truncated else ''} matching lines in {files} files.",
        data={"observation": lines + more, "matches": len(matches)},
    )


@register(ActionType.ASK_OPERATOR)
def ask_operator(ctx: StepContext) -> StepResult:
    """Waits (the run pauses, the question shown) until the person answers; the answer is the result."""
    answer = (ctx.step.result or {}).get("answer")
    question = str(ctx.plan_step.inputs.get("question") or "")
    if not answer:
        raise StepPaused(
            f"The model asks you: “{question}” Answer it to let the run go on.",
            blocking_reason="waiting for your answer",
            payload={"question": question, "step_id": ctx.step.step_id},
        )
    return StepResult(
        summary="You answered the model's question.", data={"observation": f"The person answered: {answer}"}
    )


@register(ActionType.FINISH)
def finish(ctx: StepContext) -> StepResult:
    """The model says it is done: its summary is recorded as its words, and the check is queued."""
    return turns.finish_step(ctx)
