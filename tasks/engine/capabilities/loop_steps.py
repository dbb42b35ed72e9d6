"""The loop's own steps: model turns and the tools that exist only for a model (list_files,
search, ask_operator, finish). read_file, edit_file, write_file, delete_file and run_command from
a model are the ordinary handlers (workspace_steps)."""

from __future__ import annotations

from providers.contracts import ActionType
from tasks.engine.errors import StepFailed, StepPaused
from tasks.engine.handlers import StepContext, StepResult, register
from tasks.engine.loop import turns
from tasks.engine.loop.questions import WAITING_FOR_ANSWER
from workspaces.paths import PathRefused
from workspaces.services.search import SearchRefused, file_list_in, file_search_in

register(ActionType.MODEL_TURN)(turns.model_turn)


def _root(ctx: StepContext) -> str:
    if ctx.workspace_path is None:
        raise StepFailed("This run has no workspace folder.", error_type="NoWorkspace", retryable=False)
    return str(ctx.workspace_path)


@register(ActionType.LIST_FILES)
def list_files(ctx: StepContext) -> StepResult:
    under = str(ctx.plan_step.inputs.get("path") or "").strip().strip("/")
    try:
        listing = file_list_in(root=_root(ctx), path=under)
    except (PathRefused, SearchRefused) as exc:
        raise StepFailed(str(exc), error_type=type(exc).__name__, retryable=False) from exc
    files = sum(1 for e in listing.entries if e.kind == "file")
    where = f"under {under}" if under else "in the workspace"
    return StepResult(
        summary=f"Listed {files}{'+' if listing.truncated else ''} files {where}.",
        data={"observation": listing.as_text(), "count": len(listing.entries)},
    )


@register(ActionType.SEARCH)
def search(ctx: StepContext) -> StepResult:
    inputs = ctx.plan_step.inputs
    under = str(inputs.get("path") or "").strip().strip("/")
    try:
        found = file_search_in(
            root=_root(ctx), query=str(inputs.get("pattern") or ""), regex=bool(inputs.get("regex")), path=under
        )
    except (PathRefused, SearchRefused) as exc:
        raise StepFailed(str(exc), error_type=type(exc).__name__, retryable=False) from exc
    files = len({m.path for m in found.matches})
    return StepResult(
        summary=f"Found {len(found.matches)}{'+' if found.truncated else ''} matching lines in {files} files.",
        data={"observation": found.as_text(), "matches": len(found.matches)},
    )


@register(ActionType.ASK_OPERATOR)
def ask_operator(ctx: StepContext) -> StepResult:
    """Waits (the run pauses, the question shown) until the person answers; the answer is the result."""
    answer = (ctx.step.result or {}).get("answer")
    question = str(ctx.plan_step.inputs.get("question") or "")
    if not answer:
        raise StepPaused(
            f"The model asks you: “{question}” Answer it to let the run go on.",
            blocking_reason=WAITING_FOR_ANSWER,
            payload={"question": question, "step_id": ctx.step.step_id},
        )
    return StepResult(
        summary="You answered the model's question.", data={"observation": f"The person answered: {answer}"}
    )


@register(ActionType.FINISH)
def finish(ctx: StepContext) -> StepResult:
    """The model says it is done: its summary is recorded as its words, and the check is queued."""
    return turns.finish_step(ctx)
