"""The workstream socket: authorisation, replay from a cursor, pushes and the table tail."""

from __future__ import annotations

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from command_site.asgi import application
from tasks.consumers import CLOSE_UNAUTHENTICATED, WorkstreamConsumer
from tasks.models import PlanRevision, Task, TaskRun, WorkstreamEvent

pytestmark = pytest.mark.django_db(transaction=True)


def make_run(owner) -> TaskRun:
    task = Task.objects.create(owner=owner, raw_prompt="make a pdf", title="make a pdf")
    revision = PlanRevision.objects.create(task=task, number=1, planner="test")
    return TaskRun.objects.create(task=task, owner=owner, plan_revision=revision)


def add_events(run: TaskRun, count: int, start: int = 1) -> None:
    for seq in range(start, start + count):
        WorkstreamEvent.objects.create(run=run, seq=seq, kind="note", title=f"Row {seq}")


def seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]


async def connect_as(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(WorkstreamConsumer.as_asgi(), "/ws/workstream/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_anonymous_socket_is_closed_with_an_application_code():
    communicator = WebsocketCommunicator(WorkstreamConsumer.as_asgi(), "/ws/workstream/")
    communicator.scope["user"] = AnonymousUser()
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_output() == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


async def test_socket_without_an_allowed_origin_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/workstream/", headers=[(b"origin", b"http://evil.example")])
    connected, _ = await communicator.connect()
    assert not connected


async def test_ping(owner):
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


async def test_subscribe_replays_only_what_the_client_missed(owner):
    run = await sync_to_async(make_run)(owner)
    await sync_to_async(add_events)(run, 5)
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 2}]})
    html = await communicator.receive_from()
    assert f'id="workstream-{run.pk}" hx-swap-oob="beforeend"' in html
    assert seqs(html) == [3, 4, 5]
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_push_delivers_new_rows_once_in_order(owner):
    run = await sync_to_async(make_run)(owner)
    await sync_to_async(add_events)(run, 2)
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 2}]})
    await sync_to_async(add_events)(run, 3, start=3)
    layer = get_channel_layer()
    # Two pushes for the same rows (a duplicate delivery) must not duplicate rows.
    for _ in range(2):
        await layer.group_send(f"run-{run.pk}", {"type": "workstream.event", "run_id": run.pk, "event_id": 0, "seq": 5})
    html = await communicator.receive_from()
    assert seqs(html) == [3, 4, 5]
    assert await communicator.receive_nothing(timeout=0.6)
    await communicator.disconnect()


async def test_rows_written_by_another_process_arrive_through_the_tail(owner, settings):
    settings.COMMAND_TAIL_INTERVAL = 0.05
    run = await sync_to_async(make_run)(owner)
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 0}]})
    assert await communicator.receive_nothing(timeout=0.2)
    await sync_to_async(add_events)(run, 2)  # no push at all
    html = await communicator.receive_from(timeout=3)
    assert seqs(html) == [1, 2]
    await communicator.disconnect()


async def test_reconnect_with_cursor_gets_the_gap_without_duplicates(owner):
    run = await sync_to_async(make_run)(owner)
    await sync_to_async(add_events)(run, 3)
    first = await connect_as(owner)
    await first.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 0}]})
    assert seqs(await first.receive_from()) == [1, 2, 3]
    await first.disconnect()
    await sync_to_async(add_events)(run, 4, start=4)  # written while the socket was down
    second = await connect_as(owner)
    await second.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 3}]})
    assert seqs(await second.receive_from()) == [4, 5, 6, 7]
    await second.disconnect()


async def test_large_replay_is_batched_and_complete(owner):
    run = await sync_to_async(make_run)(owner)
    await sync_to_async(WorkstreamEvent.objects.bulk_create)(
        [WorkstreamEvent(run=run, seq=i, kind="note", title=f"Row {i}") for i in range(1, 451)]
    )
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 0}]})
    received = []
    while len(received) < 450:
        received += seqs(await communicator.receive_from())
    assert received == list(range(1, 451))
    await communicator.disconnect()


async def test_another_users_run_is_not_available(owner, other_user):
    run = await sync_to_async(make_run)(owner)
    await sync_to_async(add_events)(run, 2)
    communicator = await connect_as(other_user)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 0}]})
    reply = await communicator.receive_json_from()
    assert reply == {"type": "error", "message": f"Run {run.pk} is not available."}
    layer = get_channel_layer()
    await layer.group_send(f"run-{run.pk}", {"type": "workstream.event", "run_id": run.pk, "event_id": 0, "seq": 2})
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_malformed_subscription_is_explained(owner):
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"after": 1}]})
    reply = await communicator.receive_json_from()
    assert reply["type"] == "error"
    await communicator.disconnect()


async def test_rows_escape_what_they_show(owner):
    run = await sync_to_async(make_run)(owner)
    await sync_to_async(WorkstreamEvent.objects.create)(
        run=run, seq=1, kind="note", title="<script>alert(1)</script>", file_path="a<b>.html"
    )
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 0}]})
    html = await communicator.receive_from()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    await communicator.disconnect()


def make_working_run(owner) -> TaskRun:
    from tasks.models import StepExecution

    run = make_run(owner)
    for i, (sid, title) in enumerate([("build", "Build the site"), ("check", "Check the build")]):
        StepExecution.objects.create(
            run=run,
            step_id=sid,
            position=(i + 1) * 10,
            action_type="run_command",
            title=title,
            idempotency_key=f"k-{run.pk}-{sid}",
        )
    TaskRun.objects.filter(pk=run.pk).update(state="running", current_step_id="check")
    return run


async def test_switcher_subscription_gets_a_fresh_switcher_then_changes_only(owner, settings):
    settings.COMMAND_TAIL_INTERVAL = 0.05
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [], "switcher": True})
    html = await communicator.receive_from()
    assert 'id="task-switcher"' in html and 'hx-swap-oob="true"' in html and "No runs right now" in html
    assert await communicator.receive_nothing(timeout=1.2), "an unchanged switcher is not sent again"
    run = await sync_to_async(make_run)(owner)  # a run started elsewhere (e.g. another tab or the worker)
    html = await communicator.receive_from(timeout=3)
    assert f'id="switcher-run-{run.pk}"' in html
    await communicator.disconnect()


async def test_switcher_push_on_the_user_group(owner, other_user):
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [], "switcher": True})
    await communicator.receive_from()
    run = await sync_to_async(make_run)(owner)
    layer = get_channel_layer()
    await layer.group_send(f"user-{owner.pk}", {"type": "workstream.event", "run_id": run.pk, "event_id": 0, "seq": 1})
    html = await communicator.receive_from(timeout=2)
    assert run.reference in html
    await communicator.disconnect()


async def test_narration_after_a_quiet_spell_names_only_persisted_state_and_a_real_row_clears_it(owner, settings):
    settings.COMMAND_TAIL_INTERVAL = 0.05
    settings.COMMAND_NARRATION_QUIET = 1.0
    settings.COMMAND_NARRATION_CHECK = 0.1
    run = await sync_to_async(make_working_run)(owner)
    await sync_to_async(WorkstreamEvent.objects.create)(
        run=run, seq=1, kind="command.started", title="Running the check", command="secret-cmd --flag"
    )
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 1}]})
    html = await communicator.receive_from(timeout=4)
    assert f'id="narration-{run.pk}"' in html
    assert "Still on step 2 of 2: Check the build" in html
    assert "secret-cmd" not in html, "narration never names a command"
    assert await communicator.receive_nothing(timeout=0.5), "the same line is not repeated"
    await sync_to_async(add_events)(run, 1, start=2)
    html = await communicator.receive_from(timeout=3)
    assert seqs(html) == [2]
    assert re.search(rf'<p id="narration-{run.pk}" class="wsr-narration" hx-swap-oob="true" hidden>', html)
    await communicator.disconnect()


async def test_no_narration_for_a_run_that_is_not_working(owner, settings):
    settings.COMMAND_TAIL_INTERVAL = 0.05
    settings.COMMAND_NARRATION_QUIET = 1.0
    settings.COMMAND_NARRATION_CHECK = 0.1
    run = await sync_to_async(make_run)(owner)  # queued: nothing is happening, so nothing is said
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 0}]})
    assert await communicator.receive_nothing(timeout=1.8)
    await communicator.disconnect()


async def test_narration_is_rare_one_line_per_quiet_spell(owner, settings):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import StepExecution

    settings.COMMAND_TAIL_INTERVAL = 0.05
    settings.COMMAND_NARRATION_QUIET = 2.5
    settings.COMMAND_NARRATION_CHECK = 0.1
    run = await sync_to_async(make_working_run)(owner)
    # The step has been going for a while, so each second would give a new "— N s" line.
    await sync_to_async(StepExecution.objects.filter(run=run, step_id="check").update)(
        started_at=timezone.now() - timedelta(seconds=10)
    )
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 0}]})
    lines = []
    deadline = asyncio.get_running_loop().time() + 3.5
    while asyncio.get_running_loop().time() < deadline:
        # receive_nothing peeks without cancelling the consumer (a receive timeout would).
        if not await communicator.receive_nothing(timeout=0.1, interval=0.02):
            lines.append(await communicator.receive_from())
    narrations = [line for line in lines if "Still on step 2 of 2: Check the build — 1" in line]
    # 3.5 s of silence with a 2.5 s quiet spell: one line, perhaps a second — never one per check or second.
    assert 1 <= len(narrations) <= 2, narrations
    await communicator.disconnect()


# --- Work shared between the sockets of one process ----------------------------------------------


async def subscribed(owner, run, after: int) -> WebsocketCommunicator:
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": after}]})
    await communicator.send_json_to({"type": "ping"})
    return communicator


async def received_rows(communicator, count: int) -> list[int]:
    received = []
    while len(received) < count:
        message = await communicator.receive_from(timeout=3)
        if message != '{"type": "pong"}':
            received += seqs(message)
    return received


async def test_sockets_at_the_same_cursor_share_one_read_and_each_get_every_row_once(owner, settings):
    from tasks import realtime

    settings.COMMAND_TAIL_INTERVAL = settings.COMMAND_TAIL_ACTIVE_INTERVAL = 30  # only the push delivers here
    run = await sync_to_async(make_run)(owner)
    await sync_to_async(add_events)(run, 2)
    first, second = await subscribed(owner, run, 2), await subscribed(owner, run, 2)
    for communicator in (first, second):
        assert await communicator.receive_json_from() == {"type": "pong"}
    reads = realtime.shared.reads
    await sync_to_async(WorkstreamEvent.objects.bulk_create)(
        [WorkstreamEvent(run=run, seq=i, kind="note", title=f"Row {i}") for i in (3, 4, 5)]
    )
    await get_channel_layer().group_send(
        f"run-{run.pk}", {"type": "workstream.event", "run_id": run.pk, "event_id": 0, "seq": 5, "group": "run"}
    )
    assert await received_rows(first, 3) == [3, 4, 5]
    assert await received_rows(second, 3) == [3, 4, 5]
    assert realtime.shared.reads - reads == 1, "one database read and render for both sockets"
    for communicator in (first, second):
        assert await communicator.receive_nothing(timeout=0.5), "every row exactly once"
        await communicator.disconnect()


async def test_a_socket_that_joins_later_gets_its_own_replay_not_a_shared_older_read(owner, settings):
    settings.COMMAND_TAIL_INTERVAL = settings.COMMAND_TAIL_ACTIVE_INTERVAL = 30  # no table tail
    run = await sync_to_async(make_run)(owner)
    await sync_to_async(add_events)(run, 3)
    early = await subscribed(owner, run, 0)
    assert await received_rows(early, 3) == [1, 2, 3]
    # Written without a push: only a read made after the late socket joined can know about them.
    await sync_to_async(add_events)(run, 2, start=4)
    late = await subscribed(owner, run, 0)
    assert await received_rows(late, 5) == [1, 2, 3, 4, 5]
    await sync_to_async(add_events)(run, 1, start=6)
    await get_channel_layer().group_send(
        f"run-{run.pk}", {"type": "workstream.event", "run_id": run.pk, "event_id": 0, "seq": 6, "group": "run"}
    )
    assert await received_rows(late, 1) == [6]
    assert await received_rows(early, 3) == [4, 5, 6], "the early socket's cursor is its own"
    for communicator in (early, late):
        assert await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()


async def test_the_owners_copy_of_a_push_does_not_deliver_the_rows_again(owner, settings):
    from tasks import realtime
    from tasks.engine.events import event_emit

    settings.COMMAND_TAIL_INTERVAL = settings.COMMAND_TAIL_ACTIVE_INTERVAL = 30
    run = await sync_to_async(make_run)(owner)
    communicator = await subscribed(owner, run, 0)
    await communicator.send_json_to({"type": "subscribe", "runs": [], "switcher": True})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.receive_from()  # the fresh switcher
    reads = realtime.shared.reads
    # A step's change is published after commit to the run's group and to the owner's: this socket
    # is in both.
    await sync_to_async(event_emit)(run=run, kind="step.started", title="Row 1")
    messages = [await communicator.receive_from(timeout=3) for _ in range(3)]
    assert sum(len(seqs(m)) for m in messages) == 1, "the row once"
    assert sum(f'id="run-steps-{run.pk}"' in m for m in messages) == 1, "the run's card once"
    assert any('id="task-switcher"' in m and "Row 1" in m for m in messages), "and the switcher with it"
    assert await communicator.receive_nothing(timeout=1.0)
    # The row came with its push; the card was read once, the switcher's fingerprint and render once.
    assert realtime.shared.reads - reads == 3
    await communicator.disconnect()


async def test_the_switcher_follows_run_state_changes_to_the_last_one(owner, settings):
    from tasks.engine.state import run_transition

    # No periodic check: the pushes of the transitions do it.
    settings.COMMAND_TAIL_INTERVAL = settings.COMMAND_TAIL_ACTIVE_INTERVAL = 30
    run = await sync_to_async(make_run)(owner)
    communicator = await connect_as(owner)
    await communicator.send_json_to({"type": "subscribe", "runs": [], "switcher": True})
    await communicator.receive_from()
    for to in ("paused", "queued", "paused", "cancelled"):
        await sync_to_async(run_transition)(run=run, to=to, title=f"Now {to}")
    last = None
    while not await communicator.receive_nothing(timeout=1.5):
        last = await communicator.receive_from()
    assert last is not None and f'id="switcher-run-{run.pk}" data-state="cancelled"' in last, "the last state shown"
    await communicator.disconnect()


async def test_a_row_only_event_is_no_switcher_push_and_the_periodic_check_shows_it(owner, settings):
    from tasks import consumers
    from tasks.engine.events import event_emit

    settings.COMMAND_TAIL_INTERVAL = settings.COMMAND_TAIL_ACTIVE_INTERVAL = 30  # no periodic check yet
    run = await sync_to_async(make_run)(owner)
    communicator = await subscribed(owner, run, 0)
    await communicator.send_json_to({"type": "subscribe", "runs": [], "switcher": True})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.receive_from()  # the fresh switcher
    await sync_to_async(event_emit)(run=run, kind="command.output", title="Output line 1")
    assert seqs(await communicator.receive_from(timeout=3)) == [1], "the row arrives at once"
    assert await communicator.receive_nothing(timeout=1.0), "and no push about the switcher comes with it"
    await communicator.disconnect()

    # With the periodic check (about once a second), the switcher catches up with the row.
    settings.COMMAND_TAIL_INTERVAL = settings.COMMAND_TAIL_ACTIVE_INTERVAL = 0.05
    communicator = await subscribed(owner, run, 1)
    await communicator.send_json_to({"type": "subscribe", "runs": [], "switcher": True})
    assert await communicator.receive_json_from() == {"type": "pong"}
    assert "Output line 1" in await communicator.receive_from()  # the fresh switcher
    await sync_to_async(event_emit)(run=run, kind="command.output", title="Output line 2")
    deadline = asyncio.get_running_loop().time() + consumers.SWITCHER_TAIL_EVERY + 3
    rows, switcher = [], None
    while switcher is None and asyncio.get_running_loop().time() < deadline:
        message = await communicator.receive_from(timeout=3)
        rows += seqs(message)
        if 'id="task-switcher"' in message:
            switcher = message
    assert rows == [2] and switcher is not None and "Output line 2" in switcher
    await communicator.disconnect()


async def test_a_push_of_rows_only_leaves_the_run_card_and_a_change_or_a_replay_brings_it(owner, settings):
    from tasks.engine.events import event_emit

    settings.COMMAND_TAIL_INTERVAL = settings.COMMAND_TAIL_ACTIVE_INTERVAL = 30  # only pushes deliver
    run = await sync_to_async(make_working_run)(owner)
    for title in ("Row 1", "Row 2"):
        await sync_to_async(event_emit)(run=run, kind="note", title=title)
    communicator = await subscribed(owner, run, 0)
    replay = await communicator.receive_from()
    assert seqs(replay) == [1, 2] and f'id="run-steps-{run.pk}"' in replay, "a replay brings the card"
    assert await communicator.receive_json_from() == {"type": "pong"}

    await sync_to_async(event_emit)(run=run, kind="command.output", title="Output line")
    rows_only = await communicator.receive_from(timeout=3)
    assert seqs(rows_only) == [3] and f'id="run-steps-{run.pk}"' not in rows_only
    assert f'id="narration-{run.pk}"' in rows_only, "a real row still clears the narration line"

    def finish_step():
        from tasks.models import StepExecution

        StepExecution.objects.filter(run=run, step_id="build").update(status="succeeded")
        event_emit(run=run, kind="step.succeeded", title="Built the site")

    await sync_to_async(finish_step)()
    # The row at once, from its push; then the card, read after it.
    assert seqs(await communicator.receive_from(timeout=3)) == [4]
    change = await communicator.receive_from(timeout=3)
    assert seqs(change) == [] and f'id="run-steps-{run.pk}"' in change
    assert re.search(rf'id="run-step-{run.pk}-build" class="run-step run-step-succeeded', change), "as it is now"
    await communicator.disconnect()

    # A reconnect replays the gap with the card, even when the gap holds only output rows.
    await sync_to_async(event_emit)(run=run, kind="command.output", title="Output while away")
    communicator = await subscribed(owner, run, 4)
    replay = await communicator.receive_from(timeout=3)
    assert seqs(replay) == [5] and f'id="run-steps-{run.pk}"' in replay
    await communicator.disconnect()


async def test_a_working_runs_rows_arrive_through_the_tail_at_the_active_interval(owner, settings):
    settings.COMMAND_TAIL_INTERVAL = 30
    settings.COMMAND_TAIL_ACTIVE_INTERVAL = 0.05
    run = await sync_to_async(make_working_run)(owner)
    communicator = await subscribed(owner, run, 0)
    assert await communicator.receive_json_from() == {"type": "pong"}
    for start in (1, 2, 3):
        await sync_to_async(add_events)(run, 1, start=start)  # another process: no push
        assert await received_rows(communicator, 1) == [start]
    await communicator.disconnect()


async def test_a_streamed_reply_is_one_row_whose_text_the_socket_replaces_as_it_grows(owner, settings):
    """The model's streamed words: the first piece is a row, later pieces rewrite that row; a socket
    that already shows it gets the new text as a swap of that row's text (no new row), and a socket
    that subscribes later gets the row as it is now."""
    from tasks.engine.events import event_emit, event_revise

    settings.COMMAND_TAIL_INTERVAL = settings.COMMAND_TAIL_ACTIVE_INTERVAL = 30  # pushes only
    run = await sync_to_async(make_run)(owner)
    communicator = await subscribed(owner, run, 0)
    assert await communicator.receive_json_from() == {"type": "pong"}
    event = await sync_to_async(event_emit)(
        run=run, kind="model.text", title="The model is writing (turn 1)", explanation="I will look"
    )
    html = await communicator.receive_from(timeout=3)
    assert seqs(html) == [1] and f'id="words-{run.pk}-1"' in html and "I will look" in html
    for text in ("I will look at the files", "I will look at the files first, then fix it."):
        await sync_to_async(event_revise)(run=run, event=event, explanation=text)
        html = await communicator.receive_from(timeout=3)
        assert html == f'<p class="wsr-explanation" id="words-{run.pk}-1" hx-swap-oob="true">{text}</p>', html
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()

    later = await subscribed(owner, run, 0)
    html = await later.receive_from(timeout=3)
    assert seqs(html) == [1] and "I will look at the files first, then fix it." in html
    await later.disconnect()
    assert await sync_to_async(run.events.count)() == 1
