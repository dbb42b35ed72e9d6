"""Workstream events: written first with a gapless seq, published after commit with ids only."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.dispatch import dispatch_claim, run_create
from tasks.engine.errors import LeaseLost
from tasks.engine.events import event_emit, publish_flush
from tasks.models import TaskRun, WorkstreamEvent
from tasks.tests.engine_support import make_task, make_workspace, step, test_handlers, verify_step  # noqa: F401


@pytest.fixture
def run(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    return run_create(task=make_task(owner, ws, [step("a", ActionType.WRITE_FILE), verify_step()]))


def _receive(layer, channel, expected):
    """The expected message, skipping others (the Redis layer may be shared with other suites)."""

    async def get():
        import asyncio

        for _ in range(50):
            message = await asyncio.wait_for(layer.receive(channel), timeout=5)
            if message == expected:
                return message
        return None

    return async_to_sync(get)()


def _listen(run):
    layer = get_channel_layer()
    run_channel = async_to_sync(layer.new_channel)()
    user_channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"run-{run.pk}", run_channel)
    async_to_sync(layer.group_add)(f"user-{run.owner_id}", user_channel)
    return layer, run_channel, user_channel


def _announcement(event, group):
    return {"type": "workstream.event", "run_id": event.run_id, "event_id": event.pk, "seq": event.seq, "group": group}


def test_published_after_commit_to_run_and_user_groups(run, django_capture_on_commit_callbacks):
    layer, run_channel, user_channel = _listen(run)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = event_emit(run=run, kind="step.started", title="Hello")
    assert callbacks, "nothing is published before the transaction commits"
    for callback in callbacks:
        callback()
    assert _receive(layer, run_channel, _announcement(event, "run"))
    assert _receive(layer, user_channel, _announcement(event, "user"))


def test_a_row_only_event_is_not_announced_to_the_owners_group(run, django_capture_on_commit_callbacks):
    layer, run_channel, user_channel = _listen(run)
    with django_capture_on_commit_callbacks(execute=True):
        rows = [event_emit(run=run, kind=kind, title=kind) for kind in ("command.output", "note", "step.progress")]
    with django_capture_on_commit_callbacks(execute=True):
        change = event_emit(run=run, kind="step.succeeded", title="Done")
    for event in (*rows, change):
        assert _receive(layer, run_channel, _announcement(event, "run")), "every row reaches the run's group"

    async def first_for_this_run():
        import asyncio

        while True:
            message = await asyncio.wait_for(layer.receive(user_channel), timeout=5)
            if message.get("run_id") == run.pk:
                return message

    # One channel keeps the order of what was sent to it: the step's change is the first news.
    assert async_to_sync(first_for_this_run)() == _announcement(change, "user")


def test_a_rolled_back_event_leaves_no_gap(run):
    before = run.events.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        event_emit(run=run, kind="note", title="never happened")
        raise RuntimeError("roll back")
    after = event_emit(run=run, kind="note", title="kept")
    assert after.seq == before + 1
    assert list(run.events.values_list("seq", flat=True)) == list(range(1, before + 2))


def test_publishing_failure_is_logged_never_fatal(run, monkeypatch, caplog, django_capture_on_commit_callbacks):
    class BrokenLayer:
        async def group_send(self, group, message):
            raise ConnectionError("channel layer down")

    monkeypatch.setattr("channels.layers.get_channel_layer", lambda *a, **k: BrokenLayer())
    with django_capture_on_commit_callbacks(execute=True):
        event = event_emit(run=run, kind="note", title="Still stored")
    assert publish_flush()  # pushes are sent in the background, in order
    assert WorkstreamEvent.objects.filter(pk=event.pk).exists()
    assert "Could not publish workstream event" in caplog.text
    assert "ConnectionError: channel layer down" in caplog.text


def test_a_fenced_event_carries_the_leases_attempt_and_the_next_seq(run):
    claim = dispatch_claim(worker_id="worker-a", run_id=run.pk)
    before = TaskRun.objects.get(pk=run.pk).event_seq
    event = event_emit(run=run, kind="note", title="fenced", lease=claim.lease.as_tuple())
    assert (event.seq, event.attempt) == (before + 1, claim.lease.attempt) and run.event_seq == before + 1
    assert TaskRun.objects.get(pk=run.pk).event_seq == before + 1


@pytest.mark.parametrize(
    "change",
    [
        {"attempt": 99},  # a later attempt took over
        {"worker_id": "worker-b"},  # another worker holds the lease
        {"state": "paused"},  # the run left its leased states
    ],
    ids=["attempt", "worker", "state"],
)
def test_the_fence_refuses_a_superseded_writer_and_writes_nothing(run, change):
    claim = dispatch_claim(worker_id="worker-a", run_id=run.pk)
    TaskRun.objects.filter(pk=run.pk).update(**change)
    before = TaskRun.objects.get(pk=run.pk).event_seq
    count = run.events.count()
    with pytest.raises(LeaseLost, match="lease was superseded"):
        event_emit(run=run, kind="note", title="late write", lease=claim.lease.as_tuple())
    assert TaskRun.objects.get(pk=run.pk).event_seq == before and run.events.count() == count
    # The caller's transaction is still usable: the refusal rolled back nothing but itself.
    assert event_emit(run=run, kind="note", title="unfenced").seq == before + 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_share_or_skip_a_seq(run):
    errors = []

    def writer(n):
        try:
            for i in range(10):
                event_emit(run=run, kind="note", title=f"writer {n} #{i}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seqs = list(run.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 31


@pytest.mark.usefixtures("test_handlers")
def test_reaper_job_books_one_half_minute_follow_up(db):
    from django_q.models import Schedule

    jobs.recover_runs()
    jobs.recover_runs()
    assert Schedule.objects.filter(name__endswith="(half minute)").count() == 1
    jobs.recover_runs(follow_up=False)
