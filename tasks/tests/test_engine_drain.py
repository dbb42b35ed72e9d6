"""Draining dispatch jobs and the dispatch jobs a transaction enqueues.

One django-q2 job claims and executes queued runs one after another (tasks.engine.executor.
queue_drain) until none is claimable or its turn is over; a transaction that queues many runs
enqueues at most COMMAND_WORKERS dispatch jobs (tasks.engine.dispatch.enqueue_dispatch). The
queue rows here are django-q2's real ORM queue; the last test runs a real two-worker qcluster.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django_q.models import OrmQ, Schedule
from django_q.models import Task as QTask

from command_site.testing import wait_for, worker_process
from command_site.worker import STOP_FILE_ENV
from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.dispatch import DISPATCH_JOB, PLANNING_JOB, run_create
from tasks.models import StepExecution, TaskRun
from tasks.tests.engine_support import (  # noqa: F401
    WORKER_ENV,
    make_task,
    make_workspace,
    step,
    test_handlers,
    verify_step,
)

S = TaskRun.State

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_handlers")]


def _plan(sleep: float = 0):
    return [step("make", ActionType.GENERATE_OUTPUT, "Make it", sleep=sleep), verify_step(command="true")]


def _queue(owner, workspace, n: int) -> list[TaskRun]:
    """`n` runs queued in one transaction, as a batch submit would."""
    with transaction.atomic():
        return [run_create(task=make_task(owner, workspace, _plan(), prompt=f"job {i}")) for i in range(n)]


def _dispatch_rows() -> list[OrmQ]:
    return [row for row in OrmQ.objects.order_by("id") if row.task["func"] == DISPATCH_JOB]


def _work_off_queue(limit: int = 50) -> list[str]:
    """Do what one worker does with the queued dispatch jobs, oldest first, until none is left."""
    results = []
    for _ in range(limit):
        rows = _dispatch_rows()
        if not rows:
            return results
        rows[0].delete()
        results.append(jobs.dispatch_next())
    raise AssertionError(f"the queue never emptied: {results[-3:]}")


def _assert_events_whole(run: TaskRun) -> None:
    seqs = list(run.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_transaction_queueing_many_runs_enqueues_one_dispatch_job_per_worker(owner, tmp_path, settings):
    settings.COMMAND_WORKERS = 2
    runs = _queue(owner, make_workspace(owner, tmp_path / "ws"), 6)
    assert len(_dispatch_rows()) == 2
    # Outside a transaction every run gets its own job, as before.
    run_create(task=make_task(owner, None, _plan()))
    run_create(task=make_task(owner, None, _plan()))
    assert len(_dispatch_rows()) == 4
    assert all(r.state == S.QUEUED for r in runs)


def test_a_rolled_back_dispatch_job_is_not_counted(owner, tmp_path, settings):
    settings.COMMAND_WORKERS = 1
    ws = make_workspace(owner, tmp_path / "ws")
    with transaction.atomic():
        try:
            with transaction.atomic():
                run_create(task=make_task(owner, ws, _plan(), prompt="undone"))
                raise RuntimeError("the caller changed its mind")
        except RuntimeError:
            pass
        kept = run_create(task=make_task(owner, ws, _plan(), prompt="kept"))
    assert len(_dispatch_rows()) == 1, "the kept run has a dispatch job of its own"
    assert list(TaskRun.objects.values_list("pk", flat=True)) == [kept.pk]
    _work_off_queue()
    kept.refresh_from_db()
    assert kept.state == S.COMPLETED


def test_one_dispatch_job_drains_every_queued_run_in_queue_order(owner, tmp_path, settings):
    settings.COMMAND_WORKERS = 2
    runs = _queue(owner, make_workspace(owner, tmp_path / "ws"), 5)
    first, second = _dispatch_rows()
    first.delete()
    result = jobs.dispatch_next()
    assert result.count(": completed") == 5, result
    assert [line.split(":")[0] for line in result.split("; ")] == [r.reference for r in runs]
    second.delete()
    assert jobs.dispatch_next() == "nothing to run"
    for run in runs:
        run.refresh_from_db()
        assert (run.state, run.attempt) == (S.COMPLETED, 1)
        _assert_events_whole(run)
    assert not _dispatch_rows(), "nothing was left to enqueue"


def test_a_drain_stops_after_its_turn_and_hands_the_rest_back(owner, tmp_path, settings):
    settings.COMMAND_WORKERS = 1
    settings.Q_TIMEOUT = 0  # the turn is over as soon as one run has been executed
    ws = make_workspace(owner, tmp_path / "ws")
    with transaction.atomic():  # one-step plans: the budget is checked between runs, not steps
        runs = [run_create(task=make_task(owner, ws, [verify_step()], prompt=f"job {i}")) for i in range(3)]
    [row] = _dispatch_rows()
    row.delete()
    result = jobs.dispatch_next()
    assert result == f"{runs[0].reference}: completed; the rest handed back to the queue"
    assert [TaskRun.objects.get(pk=r.pk).state for r in runs] == [S.COMPLETED, S.QUEUED, S.QUEUED]
    assert len(_dispatch_rows()) == 1, "the job enqueued one dispatch for the runs it left"
    results = _work_off_queue()
    assert len(results) == 2 and results[-1] == f"{runs[2].reference}: completed"
    assert all(TaskRun.objects.get(pk=r.pk).state == S.COMPLETED for r in runs)


def test_a_run_held_by_its_workspace_is_dispatched_when_the_holder_ends(owner, tmp_path, settings):
    settings.COMMAND_WORKERS = 1
    ws = make_workspace(owner, tmp_path / "ws")
    writer = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE), verify_step()]))
    OrmQ.objects.all().delete()
    TaskRun.objects.filter(pk=writer.pk).update(state=S.WAITING_APPROVAL)  # holds the workspace
    behind = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE), verify_step()]))
    assert _work_off_queue() == ["nothing to run"], "held back, and the job does not spin"
    TaskRun.objects.filter(pk=writer.pk).update(state=S.QUEUED)
    run_create(task=make_task(owner, None, _plan()))  # any later dispatch drains both
    _work_off_queue()
    assert TaskRun.objects.get(pk=writer.pk).state == S.COMPLETED
    assert TaskRun.objects.get(pk=behind.pk).state == S.COMPLETED


def _three_steps():
    return [
        step("a", ActionType.GENERATE_OUTPUT, "First part", sleep=0.05),
        step("b", ActionType.GENERATE_OUTPUT, "Second part", sleep=0.8),
        verify_step(command="true"),
    ]


def test_a_run_past_its_turn_steps_aside_between_steps_for_a_waiting_planning_job(owner, tmp_path, settings):
    from django_q.tasks import async_task

    settings.COMMAND_WORKERS = 1
    settings.COMMAND_DRAIN_TURN_SECONDS = 0.5
    ws = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, ws, _three_steps()))
    [dispatch] = _dispatch_rows()
    # Someone's request is queued to be planned while the run's job is under way.
    async_task(PLANNING_JOB, "00000000-0000-0000-0000-000000000000", "0", 1, task_name="understand TASK-1 r1")
    dispatch.delete()
    result = jobs.dispatch_next()
    run.refresh_from_db()
    assert result.endswith("queued; the rest handed back to the queue"), result
    assert (run.state, run.blocking_reason) == (S.QUEUED, "continuing shortly")
    statuses = dict(StepExecution.objects.filter(run=run).values_list("step_id", "status"))
    # The turn (0.5 s) ends during step b, which finishes; the run steps aside before verifying.
    assert statuses == {"a": "succeeded", "b": "succeeded", "verify": "pending"}, "it stopped between steps"
    aside = run.events.get(title__contains="steps aside")
    assert aside.title == f"{run.reference} steps aside for a request being planned"
    assert "in the queue to be planned" in aside.explanation
    # The dispatch it enqueued comes after the planning job: one worker takes that job first.
    rows = list(OrmQ.objects.order_by("id"))
    assert [row.task["func"] for row in rows] == [PLANNING_JOB, DISPATCH_JOB]
    rows[0].delete()  # the planning job has been done
    assert _work_off_queue() == [f"{run.reference}: completed"]
    run.refresh_from_db()
    assert (run.state, run.attempt) == (S.COMPLETED, 2)
    _assert_events_whole(run)


def test_without_a_planning_job_waiting_a_run_keeps_its_worker_past_the_turn(owner, tmp_path, settings):
    settings.COMMAND_WORKERS = 1
    settings.COMMAND_DRAIN_TURN_SECONDS = 0.5
    run = run_create(task=make_task(owner, make_workspace(owner, tmp_path / "ws"), _three_steps()))
    _work_off_queue()
    run.refresh_from_db()
    assert (run.state, run.attempt) == (S.COMPLETED, 1)
    assert not run.events.filter(title__contains="steps aside").exists()


@pytest.mark.slow
def test_two_workers_drain_a_batch_with_the_workspace_and_owner_limits_held(owner, other_user, tmp_path, settings):
    """A real qcluster with 2 workers; no reaper, so only the dispatch jobs the batch enqueued
    (and those the drains enqueue) can have run every run."""
    settings.COMMAND_WORKERS = 2
    people = (owner, other_user)
    workspaces = [make_workspace(u, tmp_path / f"{u.pk}-{i}", name=f"w{i}") for u in people for i in (1, 2)]
    runs = []
    with transaction.atomic():
        for n in range(16):
            ws = workspaces[n % 4]
            plan = [step("write", ActionType.WRITE_FILE, f"Write {n}", sleep_before=0.2), verify_step()]
            runs.append(run_create(task=make_task(ws.owner, ws, plan, prompt=f"batch {n}")))
    assert len(_dispatch_rows()) == 2
    Schedule.objects.all().delete()  # the reaper is the safety net; this test proves the normal path
    with worker_process(tmp_path / "worker.log", **WORKER_ENV, COMMAND_WORKERS="2", COMMAND_MAX_RUNS_PER_USER="1"):
        wait_for(
            lambda: TaskRun.objects.filter(state=S.COMPLETED).count() == len(runs),
            timeout=120,
            message="every run of the batch to complete",
        )
    done = {r.pk: r for r in TaskRun.objects.filter(pk__in=[r.pk for r in runs])}
    dispatch_jobs = QTask.objects.filter(func=DISPATCH_JOB).count()
    assert dispatch_jobs < len(runs) / 2, f"{dispatch_jobs} dispatch jobs for {len(runs)} runs"
    spans = [(r.workspace_id, r.owner_id, r.started_at, r.finished_at, r.pk) for r in done.values()]
    for a in spans:
        for b in spans:
            if a[4] != b[4] and a[2] < b[3] and b[2] < a[3]:
                assert a[0] != b[0], "two runs worked in one workspace at the same time"
                assert a[1] != b[1], "an owner had more runs going than the cap of 1"
    assert any(a[2] < b[3] and b[2] < a[3] for a in spans for b in spans if a[4] != b[4]), "no two ran side by side"
    for ws in workspaces:
        order = sorted((r for r in done.values() if r.workspace_id == ws.pk), key=lambda r: r.started_at)
        assert [r.pk for r in order] == sorted(r.pk for r in order), "queue order within a workspace"
    for run in done.values():
        assert run.attempt == 1
        _assert_events_whole(run)


@pytest.mark.slow
def test_one_real_worker_plans_a_new_request_while_a_long_run_is_under_way(owner, tmp_path, settings):
    """A real one-worker qcluster (the embedded default): a planning job queued behind a long
    run's job is done before that run ends, and the run completes after stepping aside once."""
    from django_q.tasks import async_task

    settings.COMMAND_WORKERS = 1
    plan = [step(f"s{i}", ActionType.GENERATE_OUTPUT, f"Part {i}", sleep=0.5) for i in range(8)]
    run = run_create(task=make_task(owner, make_workspace(owner, tmp_path / "ws"), [*plan, verify_step()]))
    Schedule.objects.all().delete()
    with worker_process(tmp_path / "worker.log", **WORKER_ENV, COMMAND_WORKERS="1", COMMAND_DRAIN_TURN_SECONDS="1"):
        wait_for(lambda: TaskRun.objects.get(pk=run.pk).state == S.RUNNING, timeout=60, message="the run to start")
        async_task(PLANNING_JOB, "00000000-0000-0000-0000-000000000000", "0", 1, task_name="understand TASK-0 r1")
        wait_for(lambda: TaskRun.objects.get(pk=run.pk).state == S.COMPLETED, timeout=60, message="the run to complete")
    run.refresh_from_db()
    [planned] = QTask.objects.filter(func=PLANNING_JOB)
    assert planned.success
    assert planned.stopped < run.finished_at, "the request was planned before the long run ended"
    assert run.events.filter(title__contains="steps aside for a request being planned").count() == 1
    assert run.attempt == 2
    _assert_events_whole(run)


def test_a_stopping_worker_claims_nothing_and_leaves_a_dispatch_for_the_next(owner, tmp_path, settings, monkeypatch):
    settings.COMMAND_WORKERS = 1
    run = run_create(task=make_task(owner, make_workspace(owner, tmp_path / "ws"), _plan()))
    [row] = _dispatch_rows()
    row.delete()
    stop_file = tmp_path / "stopping"
    monkeypatch.setenv(STOP_FILE_ENV, str(stop_file))
    stop_file.touch()  # command_site.worker was asked to stop
    assert jobs.dispatch_next() == "the worker is stopping: no run taken"
    assert TaskRun.objects.get(pk=run.pk).state == S.QUEUED
    assert len(_dispatch_rows()) == 1, "the next worker is told"
    stop_file.unlink()  # the next worker's cluster
    assert _work_off_queue() == [f"{run.reference}: completed"]
