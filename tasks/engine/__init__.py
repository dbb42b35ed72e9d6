"""The execution engine: runs a task's plan one step at a time, durably and honestly.

Command's own tables are the source of truth; django-q2 only carries the work (see DESIGN.md,
"Reliability model"). Modules, by concept:

- ``state``: the run state machine; every transition is one fenced, evented write.
- ``events``: workstream events, written first, published after commit.
- ``dispatch``: creating runs, the queue order, claims, leases and heartbeats.
- ``executor``: executing a claimed run step by step (approval gate, retries, verification gate).
- ``handlers``: one handler per action type behind a registry; ``commands`` runs shell commands.
- ``retry``: retry policies with Temporal's fields; ``remediation``: self-healing steps.
- ``recovery``: the reaper that turns expired leases into an honest state.
- ``fencing``: the lease checked at write time around every step's files, snapshots and outputs
  (command_site.write_fence), refused late writes recorded, the superseded worker stopped.
- ``controls``: operator controls (pause, resume, stop, retry, priority) and approval entry points.

Entry points for other apps:

- ``dispatch.run_create(*, task, plan_revision=None, priority=0, previous_run=None) -> TaskRun``
- ``events.event_emit(*, run, kind, title, phase="", status="", explanation="", step_id="",
  file_path="", command="", payload=None) -> WorkstreamEvent``
- ``handlers.register(action_type)`` decorating ``fn(ctx: StepContext) -> StepResult`` (raise
  ``errors.StepFailed`` / ``errors.CapabilityNotInstalled``); modules listed in
  settings/env ``COMMAND_HANDLER_MODULES`` are imported before the first step.
- ``approval.set_approval_gate(fn)`` with ``fn(ctx) -> GateDecision`` (proceed / wait / skip);
  then ``controls.run_resume_after_approval(*, run, step_id, note="")`` or
  ``controls.run_skip_step_after_denial(*, run, step_id, note="")``.
- ``recovery.register_restorer(action_type)`` decorating ``fn(*, run, step) -> Restoration``
  (restore an interrupted unsafe step's rollback point so the run can resume).
- ``fencing.on_lease_lost(fn)`` with ``fn(*, run_id, lease)``: called in a worker that lost its
  lease (or could not renew it for a whole lease), e.g. to kill the run's commands at once.
- ``controls.run_pause / run_resume / run_stop / run_retry(*, run)``,
  ``controls.run_set_priority(*, run, priority)`` -> ``ControlOutcome(run, changed, message)``.
"""
