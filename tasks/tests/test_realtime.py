"""What a socket push reads and renders (tasks.realtime): the rows after a cursor, and the run's
card only when the rows may have changed it."""

from __future__ import annotations

import pytest

from tasks import realtime
from tasks.engine.events import event_emit
from tasks.models import PlanRevision, StepExecution, Task, TaskRun, WorkstreamEvent

pytestmark = pytest.mark.django_db


def make_run(owner, *, tone: str = "friendly") -> TaskRun:
    task = Task.objects.create(owner=owner, raw_prompt="make a pdf", title="make a pdf", tone=tone)
    revision = PlanRevision.objects.create(task=task, number=1, planner="test")
    run = TaskRun.objects.create(task=task, owner=owner, plan_revision=revision, state="running")
    StepExecution.objects.create(
        run=run, step_id="build", position=10, action_type="run_command", title="Build", idempotency_key=f"k-{run.pk}"
    )
    return run


def test_the_rows_after_a_cursor_are_the_orms_rows_with_the_tasks_tone(owner):
    run, other = make_run(owner), make_run(owner, tone="professional")
    payload = {"text": "line 1\n", "truncated": False, "nested": {"n": 1}}
    for i in range(1, 6):
        event_emit(run=run, kind="command.output", title=f"Output {i}", command="make", payload=payload)
        event_emit(run=other, kind="note", title=f"Other {i}")
    rows = realtime._rows_after(run_id=run.pk, after=2)
    expected = list(WorkstreamEvent.objects.filter(run=run, seq__gt=2).order_by("seq"))
    fields = [f.attname for f in WorkstreamEvent._meta.concrete_fields]
    assert [[getattr(e, f) for f in fields] for e in rows] == [[getattr(e, f) for f in fields] for e in expected]
    assert rows[0].payload == payload and rows[0].created_at.tzinfo is not None
    assert {e.task_tone for e in rows} == {"friendly"}
    assert realtime._rows_after(run_id=run.pk, after=5) == []


def test_the_rows_come_in_batches_of_at_most_the_replay_batch(owner):
    run = make_run(owner)
    WorkstreamEvent.objects.bulk_create(
        [WorkstreamEvent(run=run, seq=i, kind="note", title=f"Row {i}") for i in range(1, realtime.REPLAY_BATCH + 11)]
    )
    assert [e.seq for e in realtime._rows_after(run_id=run.pk, after=0)] == list(range(1, realtime.REPLAY_BATCH + 1))
    assert [e.seq for e in realtime._rows_after(run_id=run.pk, after=realtime.REPLAY_BATCH)] == list(
        range(realtime.REPLAY_BATCH + 1, realtime.REPLAY_BATCH + 11)
    )


def test_a_push_of_rows_only_reads_nothing_but_the_rows(owner, django_assert_num_queries):
    run = make_run(owner)
    event_emit(run=run, kind="command.output", title="Compiling", payload={"text": "cc -o out\n"})
    event_emit(run=run, kind="step.progress", status="warning", title="Half way")
    with django_assert_num_queries(1):
        delivery = realtime.delivery_after(run_id=run.pk, after=0)
    assert delivery.last_seq == 2 and delivery.count == 2
    assert 'id="workstream-' in delivery.html and "Compiling" in delivery.html and "cc -o out" in delivery.html
    assert f'id="run-steps-{run.pk}"' not in delivery.html and f'id="run-status-{run.pk}"' not in delivery.html
    # The row's status word is in the task's tone, as the page renders it.
    page_row = realtime.render_rows_oob(run_id=run.pk, events=list(run.events.order_by("seq"))).html
    row = delivery.html.split('id="event-')[2].split("</li>")[0]
    assert row in page_row


@pytest.mark.parametrize("kind", ["step.succeeded", "run.state", "approval.auto", "a.kind.nobody.listed"])
def test_a_change_of_the_run_or_an_unknown_kind_brings_the_card(owner, kind):
    run = make_run(owner)
    event_emit(run=run, kind="command.output", title="Compiling")
    StepExecution.objects.filter(run=run).update(status="succeeded")
    event_emit(run=run, kind=kind, title="Changed")
    html = realtime.delivery_after(run_id=run.pk, after=0).html
    assert f'id="run-steps-{run.pk}"' in html and "run-step-succeeded" in html


def test_a_replay_always_brings_the_card(owner):
    run = make_run(owner)
    event_emit(run=run, kind="command.output", title="Compiling")
    assert f'id="run-steps-{run.pk}"' not in realtime.delivery_after(run_id=run.pk, after=0).html
    assert f'id="run-steps-{run.pk}"' in realtime.delivery_after(run_id=run.pk, after=0, run_card=True).html


@pytest.mark.django_db(transaction=True)
def test_the_shared_reads_thread_keeps_its_connection_and_reconnects_once_when_it_was_cut(owner):
    import asyncio

    from django.db import OperationalError, connection

    run = make_run(owner)
    event_emit(run=run, kind="note", title="Row")
    cut = {"left": 1}

    def read():
        if cut["left"]:  # the first read finds the connection cut (PostgreSQL restarted)
            cut["left"] -= 1
            raise OperationalError("server closed the connection unexpectedly")
        delivery = realtime.delivery_after(run_id=run.pk, after=0)
        return id(connection.connection), delivery.last_seq

    async def twice():
        thread = realtime._ReadThread()
        try:
            return await thread.run(read), await thread.run(read)
        finally:
            thread.close()

    (first, seq), (second, _) = asyncio.run(twice())
    assert seq == 1, "read again on a new connection after the cut one was closed"
    assert first == second, "and that connection kept for the next read"


def test_a_slow_switcher_read_does_not_hold_up_a_runs_rows():
    import asyncio
    import threading
    import time

    shared = realtime.SharedReads()
    switcher_started, release = threading.Event(), threading.Event()

    def slow_switcher():
        switcher_started.set()
        release.wait(5)
        return "switcher"

    async def both():
        switcher = asyncio.ensure_future(shared.get("s", slow_switcher, accept=lambda *_: True, lane="switcher"))
        while not switcher_started.is_set():
            await asyncio.sleep(0.01)
        started = time.monotonic()
        rows = await shared.get("r", lambda: "rows", accept=lambda *_: True)
        waited = time.monotonic() - started
        release.set()
        return rows, waited, await switcher

    rows, waited, switcher = asyncio.run(both())
    assert (rows, switcher) == ("rows", "switcher")
    assert waited < 2, "the rows were read while the switcher's read was still going"
