"""File-step handlers for the fault suite's workers (COMMAND_HANDLER_MODULES=chaos.handlers).

Each calls the real file action in `workspaces.actions` (path safety, pre-edit rollback point,
atomic write, FileChange) and adds two things the suite needs:

- an optional `chaos_delay` input: the step sleeps first, heartbeating, so kills and freezes land
  mid-step; a worker whose lease was superseded gets LeaseLost at its next heartbeat, and the
  write that follows never happens;
- a ledger: one fsync'd JSON line per *applied* mutation (run, step, attempt, worker pid, path,
  resulting sha256) in $CHAOS_LEDGER, outside every workspace. Applied twice = two lines for one
  (run, step); a zombie's write = a line with a superseded attempt.
"""

from __future__ import annotations

import json
import os
import time

from providers.contracts import ActionType
from tasks.engine import handlers
from tasks.engine.errors import StepFailed
from tasks.engine.handlers import StepContext, StepResult


def _ledger(ctx: StepContext, action: str, outcome) -> None:
    path = os.environ.get("CHAOS_LEDGER")
    if not path or not outcome.changes:
        return
    line = json.dumps(
        {
            "run": ctx.run.pk,
            "step": ctx.step.step_id,
            "attempt": ctx.attempt,
            "pid": os.getpid(),
            "action": action,
            "path": outcome.changes[0].path,
            "sha": outcome.changes[0].after_sha,
            "t": time.time(),
        }
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _sleep_heartbeating(ctx: StepContext, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
        ctx.heartbeat()  # LeaseLost when a frozen worker wakes up superseded


def _wrap(action_type: str, action_name: str):
    from workspaces import actions

    action = getattr(actions, action_name)

    def handler(ctx: StepContext) -> StepResult:
        inputs = dict(ctx.plan_step.inputs)
        delay = float(inputs.pop("chaos_delay", 0) or 0)
        if inputs.pop("chaos_delay_first_attempt_only", False) and ctx.attempt > 1:
            delay = 0
        _sleep_heartbeating(ctx, delay)
        ctx.heartbeat()  # last fence right before the mutation
        try:
            outcome = action(workspace=ctx.run.workspace, inputs=inputs, run=ctx.run, step=ctx.step)
        except OSError as exc:
            # Disk full, permissions: the atomic write left the old content; say so plainly.
            raise StepFailed(
                f"Could not write {inputs.get('path')}: {exc.strerror or exc}. The file keeps its previous content.",
                error_type="DiskError",
                retryable=False,
            ) from exc
        except actions.EditRefused as exc:
            raise StepFailed(str(exc), error_type="EditRefused", retryable=False) from exc
        _ledger(ctx, action_name, outcome)
        return StepResult(summary=outcome.summary, data=outcome.data)

    handler.__name__ = f"chaos_{action_name}"
    return handler


handlers.register(ActionType.WRITE_FILE)(_wrap(ActionType.WRITE_FILE, "action_write_file"))
handlers.register(ActionType.EDIT_FILE)(_wrap(ActionType.EDIT_FILE, "action_edit_file"))
