"""File steps and commands in a real workspace folder, through the path-safe workspaces services.

Every mutation goes through workspaces.actions, which takes the rollback point first and records a
FileChange; a command runs between a pre-command snapshot and a comparison with it, so "what did
this command change?" always has an answer, even when the command failed.
"""

from __future__ import annotations

from providers.contracts import ActionType
from tasks.engine import handlers
from tasks.engine.errors import StepFailed
from tasks.engine.handlers import StepContext, StepResult, register
from tasks.engine.recovery import Restoration, register_restorer
from workspaces import actions
from workspaces.models import RollbackPoint
from workspaces.paths import PathRefused
from workspaces.services import (
    WorkspaceUnavailable,
    rollback_point_eligibility,
    rollback_point_revert,
)

# The engine's own command handlers, wrapped below with snapshots.
_run_command = handlers.run_command_handler
_verify_by_command = handlers.verify_handler


def _workspace(ctx: StepContext):
    workspace = ctx.run.workspace
    if workspace is None:
        raise StepFailed(
            "This step changes files, but the request has no workspace. Choose a workspace and run it again.",
            error_type="NoWorkspace",
            retryable=False,
        )
    return workspace


def _file_action(ctx: StepContext, action, *, mutates: bool = True) -> StepResult:
    workspace = _workspace(ctx)
    try:
        if mutates:
            outcome = action(workspace=workspace, inputs=ctx.plan_step.inputs, run=ctx.run, step=ctx.step)
        else:
            outcome = action(workspace=workspace, inputs=ctx.plan_step.inputs)
    except (PathRefused, actions.EditRefused, actions.ActionInputError) as exc:
        raise StepFailed(str(exc), error_type=type(exc).__name__, retryable=False) from exc
    except WorkspaceUnavailable as exc:
        # The folder is gone or unreadable: retrying will not bring it back by itself.
        raise StepFailed(str(exc), error_type="WorkspaceUnavailable", retryable=False) from exc
    data = dict(outcome.data)
    data.pop("text", None)  # file contents stay in the folder, not in the run record
    if outcome.rollback_point is not None:
        data["rollback_point_id"] = outcome.rollback_point.pk
    return StepResult(summary=outcome.summary, data=data)


@register(ActionType.READ_FILE)
def read_file(ctx: StepContext) -> StepResult:
    return _file_action(ctx, actions.action_read_file, mutates=False)


@register(ActionType.WRITE_FILE)
def write_file(ctx: StepContext) -> StepResult:
    return _file_action(ctx, actions.action_write_file)


@register(ActionType.EDIT_FILE)
def edit_file(ctx: StepContext) -> StepResult:
    return _file_action(ctx, actions.action_edit_file)


@register(ActionType.DELETE_FILE)
def delete_file(ctx: StepContext) -> StepResult:
    return _file_action(ctx, actions.action_delete_file)


def _with_snapshot(ctx: StepContext, run_it) -> StepResult:
    """Run a command between a pre-command rollback point and a comparison with it."""
    workspace = ctx.run.workspace
    if workspace is None:
        return run_it(ctx)
    command = str(ctx.plan_step.inputs.get("command", "")).strip()
    try:
        point = actions.command_checkpoint(workspace=workspace, command=command, run=ctx.run, step=ctx.step)
    except WorkspaceUnavailable as exc:
        raise StepFailed(str(exc), error_type="WorkspaceUnavailable", retryable=False) from exc
    try:
        result = run_it(ctx)
    except StepFailed as failure:
        changes = actions.command_changes(point=point, command=command, run=ctx.run, step=ctx.step)
        failure.data = {**failure.data, **changes.data, "changes_summary": changes.summary}
        raise
    changes = actions.command_changes(point=point, command=command, run=ctx.run, step=ctx.step)
    return StepResult(
        summary=f"{result.summary} {changes.summary}",
        data={**result.data, **changes.data},
    )


@register(ActionType.RUN_COMMAND)
def run_command(ctx: StepContext) -> StepResult:
    return _with_snapshot(ctx, _run_command)


def verify_by_command(ctx: StepContext) -> StepResult:
    return _with_snapshot(ctx, _verify_by_command)


@register_restorer(ActionType.WRITE_FILE)
@register_restorer(ActionType.EDIT_FILE)
@register_restorer(ActionType.DELETE_FILE)
def restore_interrupted_file_step(*, run, step) -> Restoration:
    """A file step whose worker died mid-edit: found applied, found untouched, or put back from its
    pre-edit rollback point, so the run resumes by itself (workspaces.actions.action_interrupted_restore)."""
    if run.workspace is None:
        return Restoration(False, "The run has no workspace to look at.")
    inputs = (step.spec or {}).get("inputs") or {}
    try:
        restored, description = actions.action_interrupted_restore(
            workspace=run.workspace, action=step.action_type, inputs=inputs, step=step
        )
    except (PathRefused, actions.ActionInputError, WorkspaceUnavailable) as exc:
        return Restoration(False, f"Its file could not be checked: {exc}")
    return Restoration(restored, description)


@register_restorer(ActionType.RUN_COMMAND)
def restore_interrupted_command(*, run, step) -> Restoration:
    """A command whose worker died may have half-applied: put the folder back to its pre-command point."""
    point = RollbackPoint.objects.filter(step=step, kind=RollbackPoint.Kind.PRE_COMMAND).order_by("-created_at").first()
    if point is None:
        return Restoration(False, "No pre-command rollback point was recorded, so the folder cannot be put back.")
    eligibility = rollback_point_eligibility(point=point)
    if eligibility.verdict == "not_revertible":
        reasons = "; ".join(eligibility.reasons) or "no reason recorded"
        return Restoration(False, f"The pre-command point cannot be restored: {reasons}")
    outcome = rollback_point_revert(point=point, user=None, confirm_overwrite=True)
    if not outcome.done:
        return Restoration(False, f"Restoring the pre-command point did not complete: {outcome.message}")
    put_back = [r.path for r in eligibility.restores if r.action != "delete"]
    removed = [r.path for r in eligibility.restores if r.action == "delete"]
    parts = []
    if put_back:
        parts.append(f"Put back from the copies stored before it: {_listed(put_back)}.")
    if removed:
        parts.append(f"Removed what it had created: {_listed(removed)}.")
    what = " ".join(parts) or "The folder's files were as before it; nothing needed putting back."
    if eligibility.verdict == "partly":
        # What the point does not cover (ignored folders, effects outside the folder) may still differ.
        not_covered = " ".join(eligibility.reasons)
        return Restoration(
            False,
            f"{what} Not restored: {not_covered}",
            folder_put_back=not eligibility.missing_blobs,
        )
    return Restoration(True, f"Restored the folder to how it was before `{point.note}`. {what}")


def _listed(paths: list[str], limit: int = 10) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
