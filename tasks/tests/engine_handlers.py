"""Test handlers for the engine's own tests (worker subprocesses load them through
COMMAND_HANDLER_MODULES=tasks.tests.engine_worker_handlers). The thing under test is the
engine, so these handlers are simple and observable: a ledger file appended exactly once per
idempotency key, and controllable sleeps.
"""

from __future__ import annotations

import time

from providers.contracts import ActionType
from tasks.engine.errors import StepFailed
from tasks.engine.handlers import StepContext, StepResult, register


def _sleep(ctx: StepContext, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)


def ledger_write(ctx: StepContext) -> StepResult:
    inputs = ctx.plan_step.inputs
    path = ctx.resolve(inputs.get("path", "ledger.txt"))
    if inputs.get("marker"):
        ctx.resolve(inputs["marker"]).write_text(f"attempt={ctx.attempt}\n")
    if ctx.attempt in inputs.get("sleep_on_attempts", [ctx.attempt]):
        _sleep(ctx, float(inputs.get("sleep_before", 0)))
    fail_times = int(inputs.get("fail_times", 0))
    if ctx.step.attempts <= fail_times:
        raise StepFailed(
            f"Simulated {inputs.get('error_type', 'TransientError')} on attempt {ctx.step.attempts}.",
            error_type=inputs.get("error_type", "TransientError"),
        )
    ctx.heartbeat()  # the fence: a superseded worker raises LeaseLost here and writes nothing
    key = ctx.step.idempotency_key
    lines = path.read_text().splitlines() if path.exists() else []
    if not any(line.split(" ")[0] == key for line in lines):
        with open(path, "a") as fh:
            fh.write(f"{key} attempt={ctx.attempt}\n")
            fh.flush()
        ctx.emit(kind="file.written", title=f"Wrote {inputs.get('path', 'ledger.txt')}", file_path=str(path))
    if ctx.attempt in inputs.get("sleep_on_attempts", [ctx.attempt]):
        _sleep(ctx, float(inputs.get("sleep_after", 0)))
    return StepResult(summary=f"Recorded {key} in the ledger", data={"path": str(path)})


def instant(ctx: StepContext) -> StepResult:
    _sleep(ctx, float(ctx.plan_step.inputs.get("sleep", 0)))
    if ctx.plan_step.inputs.get("fail"):
        raise StepFailed("Simulated verification failure.", error_type="VerificationFailed", retryable=False)
    return StepResult(summary=f"{ctx.plan_step.title}: done", data={"report": {"check": "test", "passed": True}})


def install() -> None:
    """Register the test handlers (tests call this through the `test_handlers` fixture, which
    restores the registry afterwards; worker subprocesses import `engine_worker_handlers`)."""
    register(ActionType.WRITE_FILE)(ledger_write)
    register(ActionType.GENERATE_OUTPUT)(instant)
    register(ActionType.DELIVER)(instant)
