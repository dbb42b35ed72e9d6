"""The run state machine, property-tested: no illegal transition, no completed without passed
verification, no write from a superseded lease, gapless event sequence numbers."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.dispatch import run_create
from tasks.engine.errors import IllegalTransition, LeaseLost
from tasks.engine.state import TERMINAL, TRANSITIONS, Lease, run_transition, verification_passed
from tasks.models import StepExecution, TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, test_handlers, verify_step  # noqa: F401

S = TaskRun.State
SE = StepExecution.Status
ALL_STATES = list(S.values)


def _assert_event_log_honest(run: TaskRun) -> None:
    events = list(run.events.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "seq is gapless and monotonic"
    for event in events:
        if event.kind == "run.state":
            assert event.payload["to"] in TRANSITIONS[event.payload["from"]], event.title


class RunStateMachine(RuleBasedStateMachine):
    """Drives one run through random transitions, step outcomes and stale writes."""

    owner = None
    folder = None

    def __init__(self):
        super().__init__()
        self.run = self._new_run()
        self.lease: Lease | None = None

    def _new_run(self) -> TaskRun:
        ws = make_workspace(self.owner, self.folder / uuid.uuid4().hex[:8], name=uuid.uuid4().hex[:8])
        task = make_task(
            self.owner,
            ws,
            [step("a", ActionType.GENERATE_OUTPUT), verify_step("v1"), verify_step("v2")],
        )
        return run_create(task=task)

    def _db(self) -> TaskRun:
        return TaskRun.objects.get(pk=self.run.pk)

    @rule(to_state=st.sampled_from(ALL_STATES))
    def transition(self, to_state):
        self._attempt(to_state)

    @rule(data=st.data())
    def transition_onwards(self, data):
        # Mostly walk along allowed edges so that deep states (verifying → completed) are reached.
        allowed = TRANSITIONS[self._db().state]
        onwards = sorted(allowed - TERMINAL) or sorted(allowed) or ALL_STATES
        if S.COMPLETED in allowed:
            onwards.append(S.COMPLETED)
        self._attempt(data.draw(st.sampled_from(onwards)))

    @precondition(lambda self: self._db().state in TERMINAL)
    @rule()
    def next_run(self):
        self.run = self._new_run()
        self.lease = None

    def _attempt(self, target):
        before = self._db()
        legal = target in TRANSITIONS[before.state]
        if target == S.COMPLETED:
            legal = legal and verification_passed(before)[0]
        fields = {}
        lease = self.lease if before.state in TaskRun.LEASED_STATES else None
        if target == S.RUNNING and before.state == S.QUEUED:
            worker = uuid.uuid4().hex[:8]
            fields = {"attempt": before.attempt + 1, "worker_id": worker}
        try:
            run_transition(run=self.run, to=target, title=f"to {target}", lease=lease, **fields)
        except IllegalTransition:
            assert not legal, f"{before.state} → {target} should have been allowed"
            assert self._db().state == before.state
            return
        assert legal, f"{before.state} → {target} was allowed but is illegal"
        after = self._db()
        assert after.state == target
        if fields:
            self.lease = Lease(fields["attempt"], fields["worker_id"])
        if target not in TaskRun.LEASED_STATES:
            assert after.worker_id == "" and after.lease_expires_at is None

    @precondition(lambda self: self._db().state not in TERMINAL)
    @rule(step_id=st.sampled_from(["a", "v1", "v2"]), status=st.sampled_from([SE.SUCCEEDED, SE.FAILED, SE.PENDING]))
    def step_outcome(self, step_id, status):
        StepExecution.objects.filter(run=self.run, step_id=step_id).update(status=status)

    @rule(bump=st.integers(min_value=-2, max_value=2))
    def stale_lease_write(self, bump):
        before = self._db()
        stale = Lease(before.attempt + bump, "zombie-worker")
        seq_before = before.event_seq
        with pytest.raises((LeaseLost, IllegalTransition)):
            run_transition(run=self.run, to=S.FAILED, title="zombie", lease=stale)
        after = self._db()
        assert (after.state, after.event_seq) == (before.state, seq_before), "a stale lease wrote nothing"

    @invariant()
    def completed_only_when_verified(self):
        run = self._db()
        if run.state == S.COMPLETED:
            assert verification_passed(run)[0]

    @invariant()
    def events_are_gapless_and_legal(self):
        _assert_event_log_honest(self.run)


def test_state_machine_properties(owner, tmp_path):
    RunStateMachine.owner = owner
    RunStateMachine.folder = tmp_path
    run_state_machine_as_test(
        RunStateMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


outcomes = st.lists(
    st.tuples(st.sampled_from(["generate", "verify"]), st.booleans()),
    min_size=1,
    max_size=5,
)


@pytest.mark.usefixtures("test_handlers")
@given(plan=outcomes)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_executed_runs_complete_only_when_every_verification_passed(owner, tmp_path, plan):
    steps = []
    for i, (kind, ok) in enumerate(plan):
        if kind == "verify":
            steps.append(verify_step(f"v{i}", command="true" if ok else "false"))
        else:
            steps.append(step(f"g{i}", ActionType.GENERATE_OUTPUT, fail=not ok))
    ws = make_workspace(owner, tmp_path / uuid.uuid4().hex[:8])
    run = run_create(task=make_task(owner, ws, steps))
    jobs.dispatch_next()
    run.refresh_from_db()
    verifies = [ok for kind, ok in plan if kind == "verify"]
    should_complete = all(ok for _, ok in plan) and bool(verifies)
    assert (run.state == S.COMPLETED) == should_complete, (plan, run.state, run.state_reason)
    assert run.state in (S.COMPLETED, S.FAILED, S.RECOVERABLE)
    _assert_event_log_honest(run)


def test_completed_is_refused_while_a_verification_has_not_passed(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, [step("a", ActionType.GENERATE_OUTPUT), verify_step("v")]))
    run_transition(run=run, to=S.RUNNING, title="start", attempt=1, worker_id="w")
    lease = Lease(1, "w")
    run_transition(run=run, to=S.VERIFYING, title="verify", lease=lease)
    StepExecution.objects.filter(run=run, step_id="a").update(status=SE.SUCCEEDED)
    with pytest.raises(IllegalTransition, match="Verification did not pass"):
        run_transition(run=run, to=S.COMPLETED, title="done", lease=lease)
    StepExecution.objects.filter(run=run, step_id="v").update(status=SE.SUCCEEDED)
    run_transition(run=run, to=S.COMPLETED, title="done", lease=lease)
    assert TaskRun.objects.get(pk=run.pk).state == S.COMPLETED
    with pytest.raises(IllegalTransition):
        run_transition(run=run, to=S.RUNNING, title="again")
