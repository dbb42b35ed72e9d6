"""One handler per action type, behind a registry, so other apps plug their real handlers in.

A handler receives a StepContext and returns a StepResult or raises StepFailed. Handlers must
be idempotent by `ctx.step.idempotency_key` when their action type is listed in
RETRY_SAFE_TYPES: the engine may execute an interrupted step again.

Default handlers: `run_command` (real, see tasks.engine.commands), `verify` with a `command`
input (passes when the command exits 0). The file and output handlers are honest placeholders
that fail with a non-retryable "not installed in this build" error until the workspaces and
outputs apps register theirs (``@register(ActionType.WRITE_FILE)`` in a module listed in
settings.COMMAND_HANDLER_MODULES or imported from an AppConfig.ready()).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from providers.contracts import ActionType, PlanStep
from tasks.engine.errors import CapabilityNotInstalled, LeaseLost, StepFailed
from tasks.engine.events import event_emit, event_revise
from tasks.models import StepExecution, TaskRun, WorkstreamEvent


@dataclass
class StepResult:
    """What a step did, in words a person can check, plus structured data for the record."""

    summary: str
    data: dict = field(default_factory=dict)
    # Writes that belong with the step's success (a model turn's steps): run first in the fenced
    # transaction that marks the step succeeded, so both commit or neither does. A failure there
    # is the step's failure, as if the handler had raised it.
    settle: Callable[[], None] | None = field(default=None, repr=False, compare=False)


@dataclass
class StepContext:
    run: TaskRun
    step: StepExecution
    plan_step: PlanStep
    workspace_path: Path | None
    lease: object  # tasks.engine.state.Lease
    _lease_lost: threading.Event = field(default_factory=threading.Event)

    @property
    def attempt(self) -> int:
        return self.lease.attempt

    def emit(self, *, kind: str, title: str, **fields) -> WorkstreamEvent:
        """Write a workstream event for this step; fenced (LeaseLost when superseded)."""
        fields.setdefault("step_id", self.step.step_id)
        try:
            return event_emit(run=self.run, kind=kind, title=title, lease=self.lease.as_tuple(), **fields)
        except LeaseLost:
            self._lease_lost.set()
            raise

    def revise(self, event: WorkstreamEvent, *, explanation: str) -> None:
        """Rewrite the explanation of a row this step wrote (event_revise); fenced like emit."""
        try:
            event_revise(run=self.run, event=event, explanation=explanation, lease=self.lease.as_tuple())
        except LeaseLost:
            self._lease_lost.set()
            raise

    def heartbeat(self, *, take_seq: bool = False) -> tuple[int, int] | None:
        """Extend the lease now; raises LeaseLost when this worker no longer holds the run. With
        `take_seq` the same statement takes the seq of the event written next in this transaction
        and returns it for emit(advanced=…)."""
        from tasks.engine.dispatch import run_heartbeat

        try:
            return run_heartbeat(run_id=self.run.pk, lease=self.lease, take_seq=take_seq)
        except LeaseLost:
            self._lease_lost.set()
            raise

    def insert_with_event(self, rows: list, **event) -> None:
        """Fenced, as one transaction of its own: extend the lease, insert `rows` (new instances of
        one model, each given its pk) and write this step's event — what heartbeat(take_seq=True),
        insert_rows and emit(advanced=…) in transaction.atomic() write, and on PostgreSQL in one
        statement (one round trip instead of five). LeaseLost, with nothing written, when this
        worker no longer holds the run."""
        from tasks.engine.sql import insert_rows

        if connection.vendor != "postgresql":
            with transaction.atomic():
                advanced = self.heartbeat(take_seq=True)
                insert_rows(rows)
                self.emit(advanced=advanced, **event)
            return
        self.fenced_write_sent(events=[event], plain=rows)()

    def fenced_write_sent(
        self, *, events: list[dict], also: tuple | None = None, plain: list = (), run_fields: dict | None = None
    ) -> Callable[[], None]:
        """PostgreSQL only: one statement sent (sql.update_with_rows_sent, so it may go in a
        sql.pipeline) that renews the lease while it still holds (with `run_fields` for the run),
        makes `also`'s update, inserts the `plain` rows and writes this step's `events`, each
        taking the run's next seq. Returns what finishes it once it has run: the events published
        after commit, or LeaseLost (nothing written) when this worker no longer holds the run."""
        from tasks.engine.dispatch import lease_fence_values
        from tasks.engine.events import event_rows, events_written
        from tasks.engine.sql import update_with_rows_sent

        fence, renewed = lease_fence_values(run_id=self.run.pk, lease=self.lease)
        rows = event_rows(run=self.run, events=[{"step_id": self.step.step_id, **e} for e in events])
        result = update_with_rows_sent(
            TaskRun, fence, counter="event_seq", also=also, rows=rows, plain=plain, **renewed, **(run_fields or {})
        )

        def finish() -> None:
            advanced = result()
            if advanced is None:
                self._lease_lost.set()
                raise LeaseLost(f"{self.run.reference}: lease {self.lease.attempt} is no longer held.")
            events_written(run=self.run, rows=rows, advanced=advanced)

        return finish

    def should_stop(self) -> str:
        """ "stop" when the operator asked to stop, "lease_lost" when this worker was superseded,
        else "" (pause is honoured only at step boundaries, by the executor)."""
        if self._lease_lost.is_set():
            return "lease_lost"
        row = TaskRun.objects.filter(pk=self.run.pk).values("control_request", "attempt", "worker_id", "state").first()
        if row is None or (row["attempt"], row["worker_id"]) != self.lease.as_tuple():
            self._lease_lost.set()
            return "lease_lost"
        if row["control_request"] == "stop" or row["state"] == TaskRun.State.CANCELLED:
            return "stop"
        return ""

    def resolve(self, relative: str) -> Path:
        """A path inside the workspace, or StepFailed (non-retryable) when it would leave it."""
        if self.workspace_path is None:
            raise StepFailed("This run has no workspace folder.", error_type="InvalidStep", retryable=False)
        root = self.workspace_path.resolve()
        target = (root / relative).resolve()
        if target != root and root not in target.parents:
            raise StepFailed(
                f"“{relative}” is outside the workspace folder; Command refuses to touch it.",
                error_type="PathOutsideWorkspace",
                retryable=False,
            )
        return target


Handler = Callable[[StepContext], StepResult]
_REGISTRY: dict[str, Handler] = {}
_loaded = False
_lock = threading.Lock()


def register(action_type: str) -> Callable[[Handler], Handler]:
    """Register `fn` as the handler for `action_type` (the last registration wins)."""

    def decorator(fn: Handler) -> Handler:
        _REGISTRY[str(action_type)] = fn
        return fn

    return decorator


def handler_for(action_type: str) -> Handler:
    load_extra_modules()
    try:
        return _REGISTRY[str(action_type)]
    except KeyError:
        return _not_installed(str(action_type))


def load_extra_modules() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        modules = list(getattr(settings, "COMMAND_HANDLER_MODULES", []))
        modules += [m for m in os.environ.get("COMMAND_HANDLER_MODULES", "").split(",") if m.strip()]
        for name in modules:
            importlib.import_module(name.strip())
        _loaded = True


def _not_installed(action_type: str) -> Handler:
    def handler(ctx: StepContext) -> StepResult:
        raise CapabilityNotInstalled(
            f"The “{action_type.replace('_', ' ')}” capability is not installed in this build, "
            "so Command did not attempt this step."
        )

    return handler


for _action in (
    ActionType.READ_FILE,
    ActionType.WRITE_FILE,
    ActionType.EDIT_FILE,
    ActionType.DELETE_FILE,
    ActionType.GENERATE_OUTPUT,
    ActionType.DELIVER,
):
    register(_action)(_not_installed(str(_action)))


@register(ActionType.RUN_COMMAND)
def run_command_handler(ctx: StepContext) -> StepResult:
    from tasks.engine.commands import command_run

    command = str(ctx.plan_step.inputs.get("command", "")).strip()
    if not command:
        raise StepFailed("This step names no command to run.", error_type="InvalidStep", retryable=False)
    execution = command_run(
        ctx=ctx,
        command=command,
        timeout=ctx.plan_step.inputs.get("timeout"),
        cwd=str(ctx.plan_step.inputs.get("cwd") or "."),
    )
    if execution.stopped:
        raise StepFailed("The command was stopped.", error_type="Stopped", retryable=False)
    if execution.timed_out:
        raise StepFailed(
            f"`{command}` did not finish in time and was stopped with everything it started.",
            error_type="CommandTimedOut",
            data={"command_execution_id": execution.pk},
        )
    summary = getattr(execution, "summary", "")
    if execution.exit_code != 0:
        raise StepFailed(
            f"`{command}` exited with code {execution.exit_code}" + (f": {summary}." if summary else "."),
            error_type="CommandFailed",
            data={"command_execution_id": execution.pk, "exit_code": execution.exit_code},
        )
    return StepResult(
        # The command's own row already says "exited with code 0": this row is the step's outcome.
        summary=f"Ran `{command}` successfully" + (f": {summary}." if summary else "."),
        data={"command_execution_id": execution.pk, "exit_code": 0, "summary": summary},
    )


@register(ActionType.VERIFY)
def verify_handler(ctx: StepContext) -> StepResult:
    """Verification by a command (e.g. a build or test command): passes only on exit code 0."""
    command = str(ctx.plan_step.inputs.get("command", "")).strip()
    if not command:
        raise CapabilityNotInstalled(
            "Output verification is not installed in this build, so Command cannot check this "
            "result and will not call the run completed."
        )
    from tasks.engine.commands import command_run

    execution = command_run(ctx=ctx, command=command, timeout=ctx.plan_step.inputs.get("timeout"))
    report = {
        "check": "command",
        "command": command,
        "exit_code": execution.exit_code,
        "timed_out": execution.timed_out,
        "command_execution_id": execution.pk,
        "checked_at": timezone.now().isoformat(),
    }
    summary = getattr(execution, "summary", "")
    report["summary"] = summary
    if execution.exit_code != 0 or execution.timed_out or execution.stopped:
        raise StepFailed(
            f"Verification failed: `{command}` exited with code {execution.exit_code}"
            + (f": {summary}." if summary else "."),
            error_type="VerificationFailed",
            retryable=False,
            data={"report": report},
        )
    passed = f"Verified: `{command}` passed" + (f": {summary}." if summary else ".")
    return StepResult(summary=passed, data={"report": report})
