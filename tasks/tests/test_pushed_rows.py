"""Rows that come with their push: rendered as the database would give them, and only when they
are the very next row; anything else is read from the database."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from tasks import realtime
from tasks.engine.events import PUSHED_ROW_LIMIT, event_emit, pushed_row
from tasks.models import Task, TaskRun, WorkstreamEvent
from tasks.tests.test_consumers import connect_as, make_run, seqs, subscribed

pytestmark = pytest.mark.django_db(transaction=True)

# Every part of a row the template shows, and text that must be escaped the same way.
ROWS = [
    {"kind": "step.started", "title": "Writing the page", "status": "running", "step_id": "s1"},
    {"kind": "run.state", "title": "RUN-1 is waiting for approval", "status": "warning"},
    {"kind": "step.progress", "title": "Halfway <there> & \"on\" 'time'", "phase": "execute"},
    {"kind": "command.started", "title": "Running tests", "command": "pytest -q && echo 'ok' > /dev/null"},
    {
        "kind": "command.output",
        "title": "Output",
        "status": "running",
        "payload": {"output": "line 1\n<b>bold</b>\n\u00e9t\u00e9 \u2603", "output_truncated": True},
    },
    {"kind": "command.finished", "title": "Finished", "status": "success", "step_id": "s1"},
    {"kind": "file.written", "title": "Wrote the page", "file_path": "site/index.html", "status": "success"},
    {
        "kind": "note",
        "title": "Remembered a choice",
        "explanation": "Using what you chose last time.",
        "payload": {"change_url": "/approvals/decisions/3/?next=/a&b=1", "n": [1, 2.5, None, True]},
        "status": "warning",
    },
    {"kind": "note", "title": "A failed note", "status": "danger", "payload": {"text": "x" * 3000}},
]


def _emit(run, row: dict):
    with transaction.atomic():
        return event_emit(run=run, **row)


@pytest.mark.parametrize("tone", [Task.Tone.PROFESSIONAL, Task.Tone.FRIENDLY, Task.Tone.MIXED])
def test_a_pushed_row_renders_exactly_as_the_stored_row(owner, tone):
    run = make_run(owner)
    Task.objects.filter(pk=run.task_id).update(tone=tone)
    for row in ROWS:
        event = _emit(run, row)
        pushed = pushed_row(event)
        assert pushed is not None, row["kind"]
        from_push = realtime.pushed_delivery(run_id=run.pk, seq=event.seq, row=pushed, tone=tone)
        # The same row read back as every other delivery reads it (the card aside: it never
        # comes with a pushed row).
        stored = realtime._rows_after(run_id=run.pk, after=event.seq - 1)
        from_database = realtime.render_rows_oob(run_id=run.pk, events=stored, run_card=False, tone=stored[0].task_tone)
        assert from_push == from_database, row["kind"]


def test_pushes_carry_every_row_but_a_large_one(owner):
    run = make_run(owner)
    assert pushed_row(_emit(run, {"kind": "step.started", "title": "Started"})) is not None
    assert pushed_row(_emit(run, {"kind": "approval.requested", "title": "May I?"})) is not None
    large = _emit(run, {"kind": "command.output", "title": "Lots", "payload": {"output": "y" * PUSHED_ROW_LIMIT}})
    assert pushed_row(large) is None
    small = pushed_row(_emit(run, {"kind": "command.output", "title": "Some", "payload": {"output": "y" * 100}}))
    assert small is not None and len(small) <= PUSHED_ROW_LIMIT


@pytest.mark.parametrize(
    "row",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"kind": "note"}),  # fields missing
        "{}",
    ],
)
def test_a_push_row_that_does_not_parse_is_refused(owner, row):
    run = make_run(owner)
    assert realtime.pushed_delivery(run_id=run.pk, seq=1, row=row, tone="mixed") is None


def test_a_push_row_of_the_wrong_shape_is_refused(owner):
    run = make_run(owner)
    good = json.loads(pushed_row(_emit(run, {"kind": "note", "title": "Fine"})))
    for change in (
        {"title": 5},
        {"payload": "not a dict"},
        {"attempt": "1"},
        {"created_at": "2026-11-21T10:00:00"},  # no time zone: not what the database gives
        {"created_at": "yesterday"},
    ):
        bad = json.dumps({**good, **change})
        assert realtime.pushed_delivery(run_id=run.pk, seq=1, row=bad, tone="mixed") is None, change


async def _subscribed(owner, run, after: int):
    """A socket subscribed to `run` that has received the replay up to now (it comes before the pong)."""
    communicator = await subscribed(owner, run, after)
    while await communicator.receive_from() != '{"type": "pong"}':
        pass
    assert await communicator.receive_nothing(timeout=0.2)
    return communicator


async def test_the_next_row_is_delivered_from_its_push_without_a_read(owner):
    run = await sync_to_async(make_run)(owner)
    await sync_to_async(_emit)(run, {"kind": "note", "title": "First"})
    communicator = await _subscribed(owner, run, after=0)
    reads = realtime.shared.reads
    # event_emit publishes after commit; the in-memory layer reaches this process's consumer.
    event = await sync_to_async(_emit)(run, {"kind": "command.output", "title": "Out", "payload": {"output": "hi"}})
    html = await communicator.receive_from(timeout=3)
    assert seqs(html) == [event.seq]
    assert realtime.shared.reads == reads, "the row came with its push: nothing was read back"
    expected = await sync_to_async(realtime.delivery_after)(run_id=run.pk, after=event.seq - 1)
    assert html == expected.html
    await communicator.disconnect()


async def test_a_push_after_a_gap_is_settled_by_the_database(owner):
    run = await sync_to_async(make_run)(owner)
    communicator = await _subscribed(owner, run, after=0)
    layer = get_channel_layer()
    # Two rows committed, but only the second one's push arrives (a dropped push).
    first = await sync_to_async(_emit)(run, {"kind": "note", "title": "Dropped push"})
    assert seqs(await communicator.receive_from(timeout=3)) == [first.seq]  # its own push
    second = await sync_to_async(_write_without_publishing)(run, first.seq + 1, "No push for me")
    third = await sync_to_async(_write_without_publishing)(run, first.seq + 2, "Pushed")
    reads = realtime.shared.reads
    message = {"type": "workstream.event", "run_id": run.pk, "event_id": third.pk, "seq": third.seq, "group": "run"}
    await layer.group_send(f"run-{run.pk}", {**message, "row": pushed_row(third)})
    assert seqs(await communicator.receive_from(timeout=3)) == [second.seq, third.seq]
    assert realtime.shared.reads == reads + 1, "the gap was read from the database"
    # The same push again (a duplicate) sends nothing.
    await layer.group_send(f"run-{run.pk}", {**message, "row": pushed_row(third)})
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_a_push_row_that_cannot_be_rendered_falls_back_to_the_database(owner):
    run = await sync_to_async(make_run)(owner)
    communicator = await _subscribed(owner, run, after=0)
    event = await sync_to_async(_write_without_publishing)(run, 1, "Stored")
    message = {"type": "workstream.event", "run_id": run.pk, "event_id": event.pk, "seq": event.seq, "group": "run"}
    await get_channel_layer().group_send(f"run-{run.pk}", {**message, "row": "{broken"})
    html = await communicator.receive_from(timeout=3)
    assert seqs(html) == [event.seq] and "Stored" in html
    await communicator.disconnect()


def _write_without_publishing(run, seq: int, title: str) -> WorkstreamEvent:
    """A committed row whose push never went out (as when the channel layer drops one)."""
    return WorkstreamEvent.objects.create(run=run, seq=seq, kind="note", title=title)


async def test_a_state_change_sends_its_row_then_the_runs_card(owner):
    from tasks.engine.state import run_transition

    run = await sync_to_async(make_run)(owner)
    await sync_to_async(_emit)(run, {"kind": "note", "title": "First"})
    communicator = await _subscribed(owner, run, after=0)
    reads = realtime.shared.reads
    await sync_to_async(run_transition)(
        run=run, to=TaskRun.State.RUNNING, title="Started working", attempt=1, worker_id="w"
    )
    row = await communicator.receive_from(timeout=3)
    assert seqs(row) == [run.event_seq] and "Started working" in row
    assert f'id="run-status-{run.pk}"' not in row, "the row went out before the card was read"
    card = await communicator.receive_from(timeout=3)
    assert f'id="run-status-{run.pk}"' in card and seqs(card) == []
    assert realtime.shared.reads == reads + 1, "one read: the card"
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_a_row_only_push_is_not_followed_by_a_card(owner):
    run = await sync_to_async(make_run)(owner)
    communicator = await _subscribed(owner, run, after=0)
    reads = realtime.shared.reads
    event = await sync_to_async(_emit)(run, {"kind": "file.written", "title": "Wrote", "file_path": "a.txt"})
    assert seqs(await communicator.receive_from(timeout=3)) == [event.seq]
    assert await communicator.receive_nothing(timeout=0.3), "a row-only kind changes no card"
    assert realtime.shared.reads == reads
    await communicator.disconnect()


async def test_a_card_that_shows_nothing_newer_than_the_one_on_the_page_is_not_sent(owner):
    run = await sync_to_async(make_run)(owner)
    for title in ("One", "Two"):
        await sync_to_async(_emit)(run, {"kind": "step.started", "title": title})
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 0}]})
    replay = await communicator.receive_from()
    assert seqs(replay) == [1, 2] and f'id="run-status-{run.pk}"' in replay, "the replay's card shows seq 2"
    layer = get_channel_layer()

    async def push(event):
        message = {"type": "workstream.event", "run_id": run.pk, "event_id": event.pk, "seq": event.seq}
        await layer.group_send(f"run-{run.pk}", {**message, "group": "run", "row": pushed_row(event)})

    # A row whose run counter was not advanced: the card read after it still shows the run as of
    # seq 2, no newer than the page's, so it is not sent.
    stale = await sync_to_async(WorkstreamEvent.objects.create)(run=run, seq=3, kind="step.started", title="Three")
    await push(stale)
    assert seqs(await communicator.receive_from(timeout=3)) == [3]
    assert await communicator.receive_nothing(timeout=0.5)
    # Written the engine's way (the counter moves with the row): the card follows the row.
    await sync_to_async(TaskRun.objects.filter(pk=run.pk).update)(event_seq=3)
    await sync_to_async(_emit)(run, {"kind": "step.succeeded", "title": "Four"})
    assert seqs(await communicator.receive_from(timeout=3)) == [4]
    assert f'id="run-status-{run.pk}"' in await communicator.receive_from(timeout=3)
    await communicator.disconnect()


async def test_rows_whose_card_is_older_than_the_one_shown_bring_the_card_again(owner, monkeypatch):
    """A card read after a pushed row can finish before a gap's read that started earlier; the
    gap's rows come with their older card, and the page must not be left showing it."""
    run = await sync_to_async(make_run)(owner)
    for title in ("One", "Two", "Three"):
        await sync_to_async(_emit)(run, {"kind": "step.started", "title": title})
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 0}]})
    assert seqs(await communicator.receive_from()) == [1, 2, 3]  # with the card as of seq 3

    fourth = await sync_to_async(_write_without_publishing)(run, 4, "Four")
    rows = await sync_to_async(realtime._rows_after)(run_id=run.pk, after=3)
    stale = realtime.render_rows_oob(run_id=run.pk, events=rows, run_card=False, tone=rows[0].task_tone)

    async def delivery_with_an_older_card(**kwargs):
        # What that race hands the consumer: the gap's rows, with a card read as of seq 2.
        return realtime.Delivery(html=stale.html, last_seq=4, count=1, card_seq=2, kinds=("step.started",))

    monkeypatch.setattr(realtime, "shared_delivery_after", delivery_with_an_older_card)
    await sync_to_async(TaskRun.objects.filter(pk=run.pk).update)(event_seq=4)
    message = {"type": "workstream.event", "run_id": run.pk, "event_id": fourth.pk, "seq": 4, "group": "run"}
    await get_channel_layer().group_send(f"run-{run.pk}", message)
    assert seqs(await communicator.receive_from(timeout=3)) == [4]
    card = await communicator.receive_from(timeout=3)
    assert f'id="run-status-{run.pk}"' in card and seqs(card) == [], "the card as the database has it now"
    await communicator.disconnect()
