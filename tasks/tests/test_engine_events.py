"""Workstream events: written first with a gapless seq, published after commit (with the row, to the run's group)."""

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
from tasks.engine.events import event_emit, event_publish, publish_flush, pushed_row
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
    message = {"type": "workstream.event", "run_id": event.run_id, "event_id": event.pk, "seq": event.seq}
    # The run's group delivers rows, so its copy carries the committed row; the owner's does not.
    return {**message, "group": group, **({"row": pushed_row(event)} if group == "run" else {})}


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
        for kind in ("command.output", "note", "step.progress"):
            event_emit(run=run, kind=kind, title=kind)
    with django_capture_on_commit_callbacks(execute=True):
        change = event_emit(run=run, kind="step.succeeded", title="Done")

    async def for_this_run(channel, last_seq):
        import asyncio

        seqs = []
        while not seqs or seqs[-1] < last_seq:
            message = await asyncio.wait_for(layer.receive(channel), timeout=5)
            if message.get("run_id") == run.pk:
                seqs.append(message["seq"])
        return seqs

    # A push tells "events up to seq N": pushes still waiting to be sent are merged into the newest.
    told = async_to_sync(for_this_run)(run_channel, change.seq)
    assert told == sorted(set(told)) and told[-1] == change.seq, "the run's group hears of every row, in order"
    # One channel keeps the order of what was sent to it: the step's change is the first news.
    assert async_to_sync(for_this_run)(user_channel, 1) == [change.seq]


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
    assert f"Could not publish run {run.pk}'s event {event.seq} to run-{run.pk}" in caplog.text
    assert "ConnectionError: channel layer down" in caplog.text


def test_a_push_whose_connection_was_cut_is_sent_again_once(run, monkeypatch, caplog):
    """After a Redis restart the first send on a pooled connection finds it closed; the next
    reconnects. One more try delivers the push instead of leaving it to the sockets' tails."""
    calls: list[str] = []

    class RestartedLayer:
        async def group_send(self, group, message):
            calls.append(group)
            if len(calls) == 1:
                raise ConnectionError("Connection closed by server.")

    monkeypatch.setattr("channels.layers.get_channel_layer", lambda *a, **k: RestartedLayer())
    event_publish(run_id=run.pk, owner_id=run.owner_id, event_id=1, seq=1, kind="note")
    assert publish_flush(5)
    assert calls == [f"run-{run.pk}", f"run-{run.pk}"]
    assert "Could not publish" not in caplog.text


def test_pushes_waiting_for_a_busy_layer_are_merged_per_group_and_run(run, monkeypatch):
    """While a send is under way, later pushes for the same group and run wait as one, with the
    newest seq: a socket delivers every row up to the seq it is told, so nothing is lost."""
    release, first_started = threading.Event(), threading.Event()
    sent: list[tuple[str, int]] = []

    class SlowLayer:
        async def group_send(self, group, message):
            import asyncio

            sent.append((group, message["seq"]))
            if not first_started.is_set():
                first_started.set()
                await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)

    monkeypatch.setattr("channels.layers.get_channel_layer", lambda *a, **k: SlowLayer())
    event_publish(run_id=run.pk, owner_id=run.owner_id, event_id=1, seq=1, kind="step.started")
    assert first_started.wait(5)
    for seq in (2, 3, 4):
        event_publish(run_id=run.pk, owner_id=run.owner_id, event_id=seq, seq=seq, kind="step.started")
    release.set()
    assert publish_flush(5)
    runs, owners = f"run-{run.pk}", f"user-{run.owner_id}"
    assert [seq for group, seq in sent if group == runs] == [1, 4], "the first at once, then the newest"
    # The owner's copy waits a moment for the run's next events (USER_PUSH_DELAY): one send.
    assert [seq for group, seq in sent if group == owners] == [4]


def test_the_in_process_layer_is_not_asked_to_send_to_groups_nobody_here_joined(run, monkeypatch):
    from channels.layers import InMemoryChannelLayer

    class CountingLayer(InMemoryChannelLayer):
        sends: list[str] = []

        async def group_send(self, group, message):
            self.sends.append(group)
            await super().group_send(group, message)

    layer = CountingLayer()
    monkeypatch.setattr("channels.layers.get_channel_layer", lambda *a, **k: layer)
    # A worker process: no socket of this process listens, so nothing is sent.
    event_publish(run_id=run.pk, owner_id=run.owner_id, event_id=1, seq=1, kind="step.started")
    assert layer.sends == []
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"run-{run.pk}", channel)
    event_publish(run_id=run.pk, owner_id=run.owner_id, event_id=2, seq=2, kind="step.started")
    assert layer.sends == [f"run-{run.pk}"], "only the group a socket here joined"
    message = async_to_sync(layer.receive)(channel)
    assert (message["run_id"], message["seq"], message["group"]) == (run.pk, 2, "run")


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


def test_revisions_of_a_row_waiting_for_a_busy_layer_are_sent_once_with_the_newest_text(
    run, monkeypatch, django_capture_on_commit_callbacks
):
    """A streamed-words row rewritten while a send is under way: its revisions wait as one (the
    newest), apart from the pushes of new rows, so neither swallows the other."""
    import json

    from tasks.engine.events import event_revise

    release, first_started = threading.Event(), threading.Event()
    sent: list[tuple[int, bool, str]] = []

    class SlowLayer:
        async def group_send(self, group, message):
            import asyncio

            if group != f"run-{run.pk}":
                return
            row = message.get("row") or "{}"
            sent.append((message["seq"], bool(message.get("revised")), json.loads(row).get("explanation")))
            if not first_started.is_set():
                first_started.set()
                await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)

    words = event_emit(run=run, kind="model.text", title="The model is writing (turn 1)", explanation="I")
    monkeypatch.setattr("channels.layers.get_channel_layer", lambda *a, **k: SlowLayer())
    event_publish(run_id=run.pk, owner_id=run.owner_id, event_id=0, seq=0, kind="note")
    assert first_started.wait(5)
    with django_capture_on_commit_callbacks(execute=True):
        for text in ("I will", "I will look"):
            event_revise(run=run, event=words, explanation=text)
        event_emit(run=run, kind="note", title="a new row")
    release.set()
    assert publish_flush(5)
    assert sent[1:] == [(words.seq, True, "I will look"), (words.seq + 1, False, "")], sent
    assert WorkstreamEvent.objects.get(pk=words.pk).explanation == "I will look"


def test_the_fence_refuses_a_superseded_writer_revising_a_row(run):
    from tasks.engine.events import event_revise

    claim = dispatch_claim(worker_id="worker-a", run_id=run.pk)
    words = event_emit(run=run, kind="model.text", title="words", explanation="I", lease=claim.lease.as_tuple())
    TaskRun.objects.filter(pk=run.pk).update(worker_id="worker-b")
    with pytest.raises(LeaseLost, match="lease was superseded"):
        event_revise(run=run, event=words, explanation="I will", lease=claim.lease.as_tuple())
    assert WorkstreamEvent.objects.get(pk=words.pk).explanation == "I"
