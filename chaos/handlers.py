"""File-step handlers for the fault suite's workers (COMMAND_HANDLER_MODULES=chaos.handlers).

Each wraps the product's own handler for its action type (the one installed by
tasks.engine.capabilities when the app registry was ready: path safety, pre-edit rollback point,
the write fence, atomic write, FileChange) and adds two things the suite needs, checking nothing
itself:

- an optional `chaos_delay` input (seconds; with `chaos_delay_first_attempt_only`, only on the
  run's first attempt): the step pauses *inside* the product's handler, in its atomic write
  (workspaces.paths.write_atomic) after the pre-edit rollback point and before the write fence's
  check and the rename, so kills and freezes land mid-edit, in the product's own code. The
  worker's heartbeat thread keeps the lease meanwhile, as in any long step;
- a ledger: one fsync'd JSON line per *applied* mutation (run, step, attempt, worker pid, file
  change) in $CHAOS_LEDGER, outside every workspace. Applied twice = two lines for one
  (run, step); a zombie's write = a line with a superseded attempt.

The deliver step (filing an asset) gets the same pause, in the product's upload of the asset's
bytes (outputs.services' store_path / store_bytes, before their write fence check), and a ledger
line per upload (action "store", by the run and attempt of the open fence).

The product's handlers ignore the extra inputs.
"""

from __future__ import annotations

import json
import os
import threading
import time

from providers.contracts import ActionType
from tasks.engine import handlers
from tasks.engine.handlers import StepContext, StepResult
from workspaces import paths

_pause = threading.local()
_write_atomic = paths.write_atomic


def _write_atomic_pausing(root, raw, data, *, mode=None):
    """The product's atomic write, after the pause its step asked for (once)."""
    delay, _pause.seconds = getattr(_pause, "seconds", 0.0), 0.0
    if delay:
        time.sleep(delay)
    return _write_atomic(root, raw, data, mode=mode)


paths.write_atomic = _write_atomic_pausing


def _storing(store):
    """The product's storage upload of an asset's bytes (outputs.services), after the pause its
    deliver step asked for (once), with one ledger line per stored file."""

    def stored(name, source):
        delay, _pause.seconds = getattr(_pause, "seconds", 0.0), 0.0
        if delay:
            time.sleep(delay)
        saved = store(name, source)
        _ledger_line({"action": "store", "name": saved})
        return saved

    return stored


def _install_output_pauses() -> None:
    from outputs import services as output_services

    output_services.store_path = _storing(output_services.store_path)
    output_services.store_bytes = _storing(output_services.store_bytes)


_install_output_pauses()


def _ledger_line(entry: dict) -> None:
    """An applied write, by the run and attempt of the fence it was made under."""
    from command_site.write_fence import write_fence_current

    path, fence = os.environ.get("CHAOS_LEDGER"), write_fence_current()
    if not path or fence is None:
        return
    line = json.dumps({"run": fence.run_id, "attempt": fence.attempt, "pid": os.getpid(), "t": time.time(), **entry})
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _ledger(ctx: StepContext, action: str, result: StepResult) -> None:
    path = os.environ.get("CHAOS_LEDGER")
    if not path or not result.data.get("file_change_id"):
        return  # nothing was applied ("already had exactly this content", "already applied")
    line = json.dumps(
        {
            "run": ctx.run.pk,
            "step": ctx.step.step_id,
            "attempt": ctx.attempt,
            "pid": os.getpid(),
            "action": action,
            "file_change_id": result.data["file_change_id"],
            "t": time.time(),
        }
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _wrap(action_type: str):
    # Read the registry directly: this module is imported from inside handler_for's first call
    # (COMMAND_HANDLER_MODULES), so calling handler_for here would wait on its own lock.
    product_handler = handlers._REGISTRY[str(action_type)]

    def handler(ctx: StepContext) -> StepResult:
        inputs = ctx.plan_step.inputs
        delay = float(inputs.get("chaos_delay", 0) or 0)
        if inputs.get("chaos_delay_first_attempt_only") and ctx.attempt > 1:
            delay = 0
        _pause.seconds = delay
        try:
            result = product_handler(ctx)
        finally:
            _pause.seconds = 0.0
        _ledger(ctx, str(action_type), result)
        return result

    handler.__name__ = f"chaos_{action_type}"
    return handler


for _action in (ActionType.WRITE_FILE, ActionType.EDIT_FILE, ActionType.DELIVER):
    handlers.register(_action)(_wrap(_action))
