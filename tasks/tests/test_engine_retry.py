"""Retry policy maths on a frozen clock, and retries as the engine really performs them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.dispatch import run_create
from tasks.engine.retry import RetryPolicy, policy_for
from tasks.models import StepExecution, TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, test_handlers, verify_step  # noqa: F401

S = TaskRun.State
FROZEN = datetime(2026, 11, 20, 14, 0, 0, tzinfo=UTC)


def test_backoff_intervals_grow_by_the_coefficient_up_to_the_maximum():
    policy = RetryPolicy(initial_interval=2, backoff_coefficient=3, maximum_interval=40, maximum_attempts=6, jitter=0)
    assert [policy.interval(n) for n in range(1, 6)] == [2, 6, 18, 40, 40]
    assert [policy.next_attempt_at(n, FROZEN) for n in (1, 2, 3)] == [
        FROZEN + timedelta(seconds=2),
        FROZEN + timedelta(seconds=6),
        FROZEN + timedelta(seconds=18),
    ]


def test_jitter_stays_within_its_band_and_under_the_maximum():
    policy = RetryPolicy(initial_interval=10, backoff_coefficient=2, maximum_interval=25, jitter=0.2)
    rng = random.Random(7)
    delays = [policy.delay(1, rng) for _ in range(200)]
    assert all(8 <= d <= 12 for d in delays)
    assert len({round(d, 3) for d in delays}) > 50, "jitter really varies the delay"
    assert all(policy.delay(3, rng) <= 25 for _ in range(200))
    seeded = RetryPolicy(jitter=0.2)
    assert seeded.next_attempt_at(2, FROZEN, random.Random(1)) == seeded.next_attempt_at(2, FROZEN, random.Random(1))


def test_policy_defaults_come_from_settings(settings):
    settings.MAX_RETRIES = 4
    settings.RETRY_BACKOFF = 1.5
    settings.RETRY_SAFE_TYPES = ["write_file"]
    assert policy_for("write_file").maximum_attempts == 5
    assert policy_for("write_file").backoff_coefficient == 1.5
    assert policy_for("run_command").maximum_attempts == 1, "not listed as safe: never retried blindly"
    assert not policy_for("write_file").is_retryable("PathOutsideWorkspace")
    assert policy_for("write_file").is_retryable("TimeoutError")


@pytest.mark.usefixtures("test_handlers")
def test_transient_failures_retry_with_explanations_then_complete(owner, tmp_path, settings):
    settings.MAX_RETRIES = 3
    settings.RETRY_BACKOFF = 2.0
    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE, fail_times=2), verify_step()]))
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.QUEUED and run.blocking_reason.startswith("retry 1 of 3 at ")
    event = run.events.get(kind="step.retry_scheduled")
    assert "What failed: Simulated TransientError on attempt 1." in event.explanation
    assert "Why a retry is safe" in event.explanation
    assert event.payload["retry"] == 1 and event.payload["of"] == 3
    base = policy_for("write_file").interval(1)
    waited = (run.ready_at - event.created_at).total_seconds()
    assert base * 0.8 - 0.5 <= waited <= base * 1.2 + 0.5
    assert jobs.dispatch_next() == "nothing to run", "not before ready_at"
    for expected in ("retry 2 of 3", None):
        TaskRun.objects.filter(pk=run.pk).update(ready_at=run.ready_at - timedelta(minutes=5))
        jobs.dispatch_next()
        run.refresh_from_db()
        if expected:
            assert run.blocking_reason.startswith(expected)
    assert run.state == S.COMPLETED, run.state_reason
    assert StepExecution.objects.get(run=run, step_id="w").attempts == 3
    assert (ws_file := tmp_path / "ws" / "ledger.txt").read_text().count("\n") == 1, ws_file


@pytest.mark.usefixtures("test_handlers")
def test_non_retryable_errors_fail_on_the_first_attempt(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    task = make_task(
        owner, ws, [step("w", ActionType.WRITE_FILE, fail_times=5, error_type="PathOutsideWorkspace"), verify_step()]
    )
    run = run_create(task=task)
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.FAILED
    assert StepExecution.objects.get(run=run, step_id="w").attempts == 1
    assert not run.events.filter(kind="step.retry_scheduled").exists()
    assert "retrying cannot help" in run.state_reason


@pytest.mark.usefixtures("test_handlers")
def test_exhausted_retries_end_recoverable_not_completed(owner, tmp_path, settings):
    settings.MAX_RETRIES = 1
    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE, fail_times=9), verify_step()]))
    jobs.dispatch_next()
    TaskRun.objects.filter(pk=run.pk).update(ready_at=None)
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.RECOVERABLE
    assert "retry the run once the cause is fixed" in run.state_reason
    # The failure reads as a sentence of its own, whatever the error's text ended with.
    assert ". You can retry the run" in run.state_reason


def test_a_missing_file_is_not_retried_as_if_transient(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, [step("r", ActionType.READ_FILE, path="missing.txt"), verify_step()]))
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.FAILED, run.state_reason
    assert StepExecution.objects.get(run=run, step_id="r").attempts == 1
    assert not run.events.filter(kind="step.retry_scheduled").exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("test_handlers")
def test_a_real_worker_starts_each_retry_at_the_announced_time(owner, tmp_path, settings):
    """Announced "retry N of M at HH:MM:SS" is kept within 2 s by a real qcluster (the scheduler
    of django-q2 looks only every 30 s, so a Schedule-based retry started up to 30 s late)."""
    from django_q.models import Schedule

    from command_site.testing import wait_for, worker_process
    from tasks.tests.engine_support import WORKER_ENV

    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE, fail_times=2), verify_step()]))
    Schedule.objects.all().delete()  # the reaper's half-minute dispatch must not be what starts a retry
    with worker_process(tmp_path / "worker.log", **WORKER_ENV, COMMAND_WORKERS="2"):
        wait_for(lambda: TaskRun.objects.get(pk=run.pk).finished_at, timeout=60, message="the run to finish")
    run.refresh_from_db()
    assert run.state == S.COMPLETED, run.state_reason
    announced = [datetime.fromisoformat(e.payload["at"]) for e in run.events.filter(kind="step.retry_scheduled")]
    started = [e.created_at for e in run.events.filter(kind="step.started", step_id="w").order_by("seq")][1:]
    assert len(announced) == len(started) == 2
    for at, began in zip(announced, started, strict=True):
        assert abs((began - at).total_seconds()) <= 2, f"announced {at:%H:%M:%S.%f}, started {began:%H:%M:%S.%f}"
