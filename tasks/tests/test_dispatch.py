"""The queue: dispatch order, ready_at, per-workspace exclusivity (held by the database), per-user
caps, queue positions and blocking reasons — and 50 runs over 5 workspaces with 2 workers."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from providers.contracts import ActionType
from tasks.engine import dispatch, handlers
from tasks.engine.dispatch import blocking_reason_for, dispatch_claim, queue_position, run_create
from tasks.engine.executor import run_execute
from tasks.engine.handlers import StepResult
from tasks.models import TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step

S = TaskRun.State


def _quick_plan():
    return [step("make", ActionType.GENERATE_OUTPUT, "Make it"), step("check", ActionType.VERIFY, "Check it")]


@pytest.fixture
def instant_handlers():
    """Handlers that record when each run's work started and ended (the engine is under test)."""
    saved = dict(handlers._REGISTRY)
    log: list[tuple] = []
    lock = threading.Lock()

    def work(ctx):
        start = time.monotonic()
        time.sleep(float(ctx.plan_step.inputs.get("sleep", 0.02)))
        with lock:
            log.append((ctx.run.pk, ctx.run.workspace_id, ctx.run.owner_id, start, time.monotonic()))
        return StepResult(summary="made")

    handlers.register(ActionType.GENERATE_OUTPUT)(work)
    handlers.register(ActionType.VERIFY)(lambda ctx: StepResult(summary="checked", data={"report": {"ok": True}}))
    yield log
    handlers._REGISTRY.clear()
    handlers._REGISTRY.update(saved)


def _run(owner, ws, priority=0):
    return run_create(task=make_task(owner, ws, _quick_plan()), priority=priority)


def test_dispatch_order_is_priority_then_age_and_respects_ready_at(owner, tmp_path, settings, instant_handlers):
    settings.COMMAND_MAX_RUNS_PER_USER = 10
    runs = [
        _run(owner, make_workspace(owner, tmp_path / f"w{i}", name=f"w{i}"), priority=p)
        for i, p in enumerate([0, 5, 0, 5, -1])
    ]
    later = _run(owner, make_workspace(owner, tmp_path / "later", name="later"), priority=9)
    TaskRun.objects.filter(pk=later.pk).update(ready_at=timezone.now() + timedelta(minutes=5))
    assert [queue_position(TaskRun.objects.get(pk=r.pk)) for r in runs] == [4, 2, 5, 3, 6]
    claimed = []
    while (claim := dispatch_claim(worker_id="w")) is not None:
        claimed.append(claim.run.pk)
        assert run_execute(claim=claim) == S.COMPLETED
    assert claimed == [runs[1].pk, runs[3].pk, runs[0].pk, runs[2].pk, runs[4].pk]
    later.refresh_from_db()
    assert later.state == S.QUEUED, "not before its ready_at"


def test_one_mutating_run_per_workspace_is_held_by_the_database(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    first = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE)]))
    second = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE)]))
    TaskRun.objects.filter(pk=first.pk).update(state=S.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        TaskRun.objects.filter(pk=second.pk).update(state=S.RUNNING)
    # The dispatcher does not even try, and says why the run waits.
    assert dispatch_claim(worker_id="w") is None
    second.refresh_from_db()
    assert blocking_reason_for(second) == f"behind {first.reference} on the same workspace"


def test_read_only_runs_do_not_take_the_workspace(owner, tmp_path, instant_handlers):
    ws = make_workspace(owner, tmp_path / "ws")
    writer = run_create(task=make_task(owner, ws, [step("w", ActionType.WRITE_FILE)]))
    TaskRun.objects.filter(pk=writer.pk).update(state=S.RUNNING)
    reader = _run(owner, ws)
    assert not reader.mutates
    claim = dispatch_claim(worker_id="w")
    assert claim is not None and claim.run.pk == reader.pk


def test_per_user_cap(owner, other_user, tmp_path, settings, instant_handlers):
    settings.COMMAND_MAX_RUNS_PER_USER = 2
    mine = [
        run_create(
            task=make_task(
                owner, make_workspace(owner, tmp_path / f"m{i}", name=f"m{i}"), [step("w", ActionType.WRITE_FILE)]
            )
        )
        for i in range(3)
    ]
    theirs = run_create(
        task=make_task(
            other_user, make_workspace(other_user, tmp_path / "t", name="t"), [step("w", ActionType.WRITE_FILE)]
        )
    )
    claims = [dispatch_claim(worker_id=f"w{i}") for i in range(4)]
    claimed = [c.run.pk for c in claims if c]
    assert claimed == [mine[0].pk, mine[1].pk, theirs.pk]
    third = TaskRun.objects.get(pk=mine[2].pk)
    assert third.state == S.QUEUED
    assert blocking_reason_for(third) == "you already have 2 runs under way (the limit is 2)"


@pytest.mark.django_db(transaction=True)
def test_fifty_runs_five_workspaces_two_workers(owner, other_user, tmp_path, settings, instant_handlers):
    settings.COMMAND_MAX_RUNS_PER_USER = 1
    workspaces = [make_workspace(owner if i < 3 else other_user, tmp_path / f"ws{i}", name=f"ws{i}") for i in range(5)]
    runs = []
    for n in range(50):
        ws = workspaces[n % 5]
        task = make_task(
            # 0.1 s of work per run: long next to a claim even on a loaded machine, so two workers'
            # runs of unrelated workspaces do overlap (with 0.02 s a busy CI database could
            # serialise them by chance).
            ws.owner,
            ws,
            [step("make", ActionType.WRITE_FILE, "Make it", sleep=0.1), step("check", ActionType.VERIFY)],
        )
        runs.append(run_create(task=task, priority=n % 3))
    handlers.register(ActionType.WRITE_FILE)(handlers._REGISTRY[str(ActionType.GENERATE_OUTPUT)])
    starts: list[int] = []
    errors: list[BaseException] = []

    def worker(name):
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                claim = dispatch_claim(worker_id=name)
                if claim is None:
                    if not TaskRun.objects.exclude(state__in=TaskRun.TERMINAL_STATES).exists():
                        return
                    time.sleep(0.01)
                    continue
                starts.append(claim.run.pk)
                assert run_execute(claim=claim) == S.COMPLETED
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"worker-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert TaskRun.objects.filter(state=S.COMPLETED).count() == 50
    log = instant_handlers
    assert len(log) == 50
    # Never two runs in one workspace at once; never more than the cap per user at once.
    for a in log:
        for b in log:
            if a is b:
                continue
            overlap = a[3] < b[4] and b[3] < a[4]
            if overlap:
                assert a[1] != b[1], "two runs worked in one workspace at the same time"
                assert a[2] != b[2], "a user had more runs going than the cap"
    # Both workers did work in parallel at some point (unrelated workspaces run side by side).
    assert any(a[3] < b[4] and b[3] < a[4] for a in log for b in log if a is not b)
    # Within each workspace, runs started in queue order: priority, then age.
    by_pk = {r.pk: r for r in runs}
    for ws in workspaces:
        order = [pk for pk in starts if by_pk[pk].workspace_id == ws.pk]
        expected = sorted(order, key=lambda pk: (-by_pk[pk].priority, pk))
        assert order == expected


@pytest.mark.django_db(transaction=True)
def test_claims_skip_rows_locked_by_another_dispatcher(owner, other_user, tmp_path, instant_handlers):
    if connection.vendor != "postgresql":
        pytest.skip("SELECT … FOR UPDATE SKIP LOCKED is a PostgreSQL feature; SQLite serialises writers instead")
    first = _run(owner, make_workspace(owner, tmp_path / "a", name="a"), priority=5)
    second = _run(other_user, make_workspace(other_user, tmp_path / "b", name="b"))
    with _row_locked_elsewhere(first.pk):
        started = time.monotonic()
        claim = dispatch_claim(worker_id="w")
        assert time.monotonic() - started < 2, "the claim did not wait for the locked row"
        assert claim is not None and claim.run.pk == second.pk


@contextlib.contextmanager
def _row_locked_elsewhere(run_id: int):
    """The run's row locked by another connection's open transaction (another dispatcher's claim)."""
    locked, release = threading.Event(), threading.Event()

    def holder():
        with transaction.atomic():
            list(TaskRun.objects.select_for_update().filter(pk=run_id))
            locked.set()
            release.wait(10)
        connection.close()

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert locked.wait(10)
        yield
    finally:
        release.set()
        t.join()


def test_a_held_workspace_does_not_hold_back_the_same_owners_other_workspace(owner, tmp_path, settings):
    settings.COMMAND_MAX_RUNS_PER_USER = 5
    busy = make_workspace(owner, tmp_path / "busy", name="busy")
    free = make_workspace(owner, tmp_path / "free", name="free")
    holder = run_create(task=make_task(owner, busy, [step("w", ActionType.WRITE_FILE)]))
    TaskRun.objects.filter(pk=holder.pk).update(state=S.RUNNING)
    run_create(task=make_task(owner, busy, [step("w", ActionType.WRITE_FILE)]), priority=5)
    elsewhere = run_create(task=make_task(owner, free, [step("w", ActionType.WRITE_FILE)]))
    claim = dispatch_claim(worker_id="w")
    assert claim is not None and claim.run.pk == elsewhere.pk


def test_a_long_blocked_queue_does_not_hide_a_free_run(owner, other_user, tmp_path):
    busy = make_workspace(owner, tmp_path / "busy", name="busy")
    holder = run_create(task=make_task(owner, busy, [step("w", ActionType.WRITE_FILE)]))
    TaskRun.objects.filter(pk=holder.pk).update(state=S.RUNNING)
    for _ in range(60):
        run_create(task=make_task(owner, busy, [step("w", ActionType.WRITE_FILE)]), priority=9)
    free = run_create(
        task=make_task(
            other_user, make_workspace(other_user, tmp_path / "f", name="f"), [step("w", ActionType.WRITE_FILE)]
        )
    )
    claim = dispatch_claim(worker_id="w")
    assert claim is not None and claim.run.pk == free.pk


def test_a_run_without_workspace_is_still_dispatched(owner, tmp_path):
    other = make_workspace(owner, tmp_path / "w", name="w")
    holder = run_create(task=make_task(owner, other, [step("w", ActionType.WRITE_FILE)]))
    TaskRun.objects.filter(pk=holder.pk).update(state=S.RUNNING)
    loose = run_create(task=make_task(owner, None, [step("w", ActionType.WRITE_FILE)]))
    claim = dispatch_claim(worker_id="w")
    assert claim is not None and claim.run.pk == loose.pk


def test_a_candidate_no_longer_queued_is_passed_without_waiting(owner, tmp_path, monkeypatch):
    """The candidates were read before another worker claimed the first: the claim goes straight on
    to the next run of the same owner, without the pauses it makes for a row another claim holds."""
    ws = make_workspace(owner, tmp_path / "w", name="w")
    first, second = (run_create(task=make_task(owner, ws, [step("r", ActionType.READ_FILE)])) for _ in range(2))
    stale = [(r.pk, r.workspace_id, r.owner_id, r.mutates) for r in (first, second)]
    TaskRun.objects.filter(pk=first.pk).update(state=S.RUNNING, attempt=1, worker_id="other")
    monkeypatch.setattr(dispatch, "fetch_all", _stale_candidates(dispatch.fetch_all, stale))
    pauses = []
    monkeypatch.setattr(dispatch.time, "sleep", pauses.append)
    claim = dispatch_claim(worker_id="w")
    assert claim is not None and claim.run.pk == second.pk
    assert pauses == []


def _stale_candidates(fetch_all, rows):
    def fetch(sql, params):
        return list(rows) if "LIMIT" in sql and "ORDER BY" in sql else fetch_all(sql, params)

    return fetch


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cap, expected", [(3, "second"), (2, None)], ids=["room-for-both", "one-slot-left"])
def test_a_run_being_claimed_keeps_its_owners_slot(owner, tmp_path, settings, cap, expected):
    """While another worker claims the owner's first run, a later run of the same owner may start
    alongside it only when the cap leaves room for both."""
    if connection.vendor != "postgresql":
        pytest.skip("SELECT … FOR UPDATE SKIP LOCKED is a PostgreSQL feature; SQLite serialises writers instead")
    settings.COMMAND_MAX_RUNS_PER_USER = cap
    elsewhere = make_workspace(owner, tmp_path / "b", name="b")
    busy = run_create(task=make_task(owner, elsewhere, [step("r", ActionType.READ_FILE)]))
    TaskRun.objects.filter(pk=busy.pk).update(state=S.RUNNING, attempt=1, worker_id="other")
    ws = make_workspace(owner, tmp_path / "w", name="w")
    first, second = (run_create(task=make_task(owner, ws, [step("r", ActionType.READ_FILE)])) for _ in range(2))
    with _row_locked_elsewhere(first.pk):
        claim = dispatch_claim(worker_id="w")
        assert (claim.run.pk if claim else None) == (second.pk if expected else None)
        assert TaskRun.objects.get(pk=first.pk).state == S.QUEUED


def test_a_one_step_run_is_queued_with_1_step(owner, tmp_path):
    from tasks.models import WorkstreamEvent

    run = run_create(task=make_task(owner, None, [step("a", ActionType.READ_FILE, path="x")]))
    assert WorkstreamEvent.objects.get(run=run, kind="run.queued").title == f"{run.reference} queued with 1 step"


@pytest.mark.django_db(transaction=True)
def test_a_claim_waiting_on_its_owners_lock_counts_the_claim_that_held_it(owner, tmp_path, settings):
    """The cap is counted by the claim's own UPDATE, which starts after the owner's lock was
    granted: a run of the same owner that started while this claim waited for the lock counts."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers instead")
    settings.COMMAND_MAX_RUNS_PER_USER = 2
    busy, starting, waiting = (
        run_create(
            task=make_task(owner, make_workspace(owner, tmp_path / n, name=n), [step("r", ActionType.READ_FILE)])
        )
        for n in ("busy", "starting", "waiting")
    )
    TaskRun.objects.filter(pk=busy.pk).update(state=S.RUNNING, attempt=1, worker_id="other")
    # Not a candidate when this claim reads the queue: it starts under the owner's lock meanwhile.
    TaskRun.objects.filter(pk=starting.pk).update(state=S.PAUSED)
    locked, release = threading.Event(), threading.Event()

    def other_claim():
        with transaction.atomic():
            list(type(owner).objects.select_for_update().filter(pk=owner.pk))
            TaskRun.objects.filter(pk=starting.pk).update(state=S.RUNNING, attempt=1, worker_id="another")
            locked.set()
            release.wait(10)
        connection.close()

    t = threading.Thread(target=other_claim)
    t.start()
    try:
        assert locked.wait(10)
        threading.Timer(0.3, release.set).start()
        claim = dispatch_claim(worker_id="w")
    finally:
        release.set()
        t.join()
    assert claim is None
    assert TaskRun.objects.get(pk=waiting.pk).state == S.QUEUED
    assert TaskRun.objects.filter(owner=owner, state__in=TaskRun.LEASED_STATES).count() == 2
