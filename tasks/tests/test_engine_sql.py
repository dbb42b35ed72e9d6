"""The engine's compiled statements (tasks.engine.sql) do exactly what the ORM statements they
replace do, on SQLite and on PostgreSQL: same rows, same stored values, same conversions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from providers.contracts import ActionType
from tasks.engine import dispatch
from tasks.engine.dispatch import run_create
from tasks.engine.sql import (
    CompiledQuery,
    Mark,
    fetch_all,
    fetch_batch,
    insert_row,
    insert_rows,
    instances,
    update_where,
)
from tasks.engine.state import run_lock, run_steps
from tasks.models import StepExecution, Task, TaskRun, WorkstreamEvent
from tasks.tests.engine_support import make_task, make_workspace, step, test_handlers, verify_step  # noqa: F401


@pytest.fixture
def run(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    return run_create(task=make_task(owner, ws, [step("a", ActionType.WRITE_FILE), verify_step()]))


def test_update_where_writes_what_the_orm_update_writes(run):
    when = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    fence = {"pk": run.pk, "attempt": run.attempt, "state__in": (TaskRun.State.QUEUED, TaskRun.State.PAUSED)}
    assert update_where(TaskRun, fence, heartbeat_at=when, blocking_reason='r’ésumé "quoted"', worker_id="w") == 1
    stored = TaskRun.objects.get(pk=run.pk)
    assert (stored.heartbeat_at, stored.blocking_reason, stored.worker_id) == (when, 'r’ésumé "quoted"', "w")

    # A condition that does not hold changes nothing, like the ORM's filter().update().
    assert update_where(TaskRun, {"pk": run.pk, "attempt": run.attempt + 1}, worker_id="other") == 0
    assert TaskRun.objects.filter(pk=run.pk, attempt=run.attempt + 1).update(worker_id="other") == 0
    assert TaskRun.objects.get(pk=run.pk).worker_id == "w"

    # A UUID primary key and a JSON value are prepared as the ORM prepares them.
    assert update_where(Task, {"pk": run.task_id}, status="running") == 1
    assert Task.objects.get(pk=run.task_id).status == "running"
    step_row = StepExecution.objects.filter(run=run).first()
    result = {"summary": "done", "nested": {"n": 1, "list": [1, "two", None]}, "text": "<b>&</b>"}
    assert update_where(StepExecution, {"pk": step_row.pk}, result=result, finished_at=None) == 1
    assert StepExecution.objects.get(pk=step_row.pk).result == result


def test_insert_row_stores_what_create_stores(run):
    before = timezone.now()
    fields = {
        "run_id": run.pk,
        "attempt": 2,
        "kind": "note",
        "title": "A title with ‘quotes’ and 'apostrophes'",
        "payload": {"a": [1, 2, {"b": None}], "text": "ünïcode"},
        "file_path": "src/app.py",
    }
    fast = insert_row(WorkstreamEvent(seq=1001, **fields))
    orm = WorkstreamEvent.objects.create(seq=1002, **fields)
    assert fast.pk and not fast._state.adding
    read = {e.seq: e for e in WorkstreamEvent.objects.filter(pk__in=[fast.pk, orm.pk])}
    columns = [f.attname for f in WorkstreamEvent._meta.concrete_fields if f.attname not in ("id", "seq", "created_at")]
    assert [getattr(read[1001], c) for c in columns] == [getattr(read[1002], c) for c in columns]
    assert before <= read[1001].created_at <= timezone.now()
    assert read[1001].created_at == fast.created_at


def test_insert_rows_stores_several_rows_in_one_statement_each_with_its_pk(run):
    rows = [
        WorkstreamEvent(run_id=run.pk, seq=2000 + i, kind="note", title=f"row {i}", payload={"i": i}) for i in range(3)
    ]
    with transaction.atomic():
        insert_rows(rows)
    stored = {e.pk: e for e in WorkstreamEvent.objects.filter(run=run, seq__gte=2000)}
    assert sorted(stored) == sorted(r.pk for r in rows)
    for row in rows:  # each instance got the pk of its own row
        assert (stored[row.pk].seq, stored[row.pk].title, stored[row.pk].payload) == (row.seq, row.title, row.payload)


def test_an_increment_named_twice_adds_two(run):
    before = TaskRun.objects.get(pk=run.pk).event_seq
    seq, _attempt = update_where(
        TaskRun, {"pk": run.pk}, increment=("event_seq", "event_seq"), returning=("event_seq", "attempt")
    )
    assert seq == before + 2 == TaskRun.objects.get(pk=run.pk).event_seq


def test_compiled_candidates_match_the_orm_query(owner, tmp_path):
    now = timezone.now()
    ws = make_workspace(owner, tmp_path / "ws")
    runs = [run_create(task=make_task(owner, ws, [step("a", ActionType.READ_FILE), verify_step()])) for _ in range(4)]
    TaskRun.objects.filter(pk=runs[1].pk).update(ready_at=now + timedelta(minutes=5))  # not ready yet
    TaskRun.objects.filter(pk=runs[2].pk).update(priority=5)
    for cap in (1, 3):
        for at in (now, now + timedelta(minutes=10)):
            orm = list(
                dispatch._claimable(at, cap=cap)
                .order_by(*dispatch._queue_order())
                .values_list("id", "workspace_id", "owner_id", "mutates")[:50]
            )
            compiled = [tuple(row) for row in fetch_all(*dispatch._candidates_query(50).sql_params(at, cap))]
            assert [row[0] for row in compiled] == [row[0] for row in orm]
    assert runs[1].pk not in [row[0] for row in fetch_all(*dispatch._candidates_query(50).sql_params(now, 3))]


def test_a_stand_in_that_is_not_exactly_one_parameter_is_refused():
    mark = Mark(None, "", 7)
    twice = CompiledQuery(lambda: TaskRun.objects.filter(attempt=7, event_seq=7), mark)
    with pytest.raises(RuntimeError, match="is 2 parameters"):
        twice.sql_params(1)


@override_settings(COMMAND_MAX_RUNS_PER_USER=1)
def test_the_cap_is_read_at_each_claim_not_baked_into_the_compiled_query(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    first, second = (run_create(task=make_task(owner, ws, [step("a", ActionType.READ_FILE)])) for _ in range(2))
    assert dispatch.dispatch_claim(worker_id="w1").run.pk == first.pk
    assert dispatch.dispatch_claim(worker_id="w2") is None  # at the cap of 1
    with override_settings(COMMAND_MAX_RUNS_PER_USER=2):
        assert dispatch.dispatch_claim(worker_id="w2").run.pk == second.pk


def test_run_lock_and_run_steps_read_as_the_orm_reads(run):
    TaskRun.objects.filter(pk=run.pk).update(started_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    with transaction.atomic():
        current = run_lock(run.pk)
    orm = TaskRun.objects.get(pk=run.pk)
    assert (current.task_id, current.started_at, current.state, current.attempt) == (
        orm.task_id,
        orm.started_at,
        orm.state,
        orm.attempt,
    )
    assert run_steps(run) == list(
        StepExecution.objects.filter(run=run).order_by("position").values_list("action_type", "status", "title")
    )
    with transaction.atomic(), pytest.raises(TaskRun.DoesNotExist):
        run_lock(10**9)


def test_update_where_can_increment_and_return_like_an_f_expression_update(run):
    before = TaskRun.objects.get(pk=run.pk).event_seq
    row = update_where(
        TaskRun, {"pk": run.pk}, increment=("event_seq",), returning=("event_seq", "attempt"), worker_id="w"
    )
    assert row == (before + 1, run.attempt)
    refused = update_where(TaskRun, {"pk": run.pk, "attempt": 99}, increment=("event_seq",), returning=("event_seq",))
    assert refused is None
    assert TaskRun.objects.get(pk=run.pk).event_seq == before + 1


def test_one_statement_write_stores_what_the_separate_statements_store(run):
    from django.db import connection

    from tasks.engine.events import event_rows
    from tasks.engine.sql import update_with_rows

    if connection.vendor != "postgresql":
        pytest.skip("data-modifying WITH statements are PostgreSQL's; SQLite takes the separate statements")
    when = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    before = TaskRun.objects.get(pk=run.pk)
    events = [{"kind": "note", "title": f"row {i}", "payload": {"i": i, "text": "ünïcode"}} for i in range(2)]

    # A fence that does not hold writes nothing: not the run, not the task, no event.
    rows = event_rows(run=run, events=events)
    refused = update_with_rows(
        TaskRun,
        {"pk": run.pk, "attempt": before.attempt + 1},
        counter="event_seq",
        also=(Task, run.task_id, {"status": "running"}),
        rows=rows,
        blocking_reason="no",
    )
    assert refused is None and rows[0].pk is None
    assert TaskRun.objects.get(pk=run.pk).event_seq == before.event_seq
    assert Task.objects.get(pk=run.task_id).status != "running"
    assert not WorkstreamEvent.objects.filter(run=run, kind="note").exists()

    with transaction.atomic():
        seq, attempt = update_with_rows(
            TaskRun,
            {"pk": run.pk, "attempt": before.attempt, "state__in": (TaskRun.State.QUEUED,)},
            counter="event_seq",
            also=(Task, run.task_id, {"status": "running", "updated_at": when}),
            rows=rows,
            heartbeat_at=when,
            blocking_reason='r’ésumé "quoted"',
        )
    assert (seq, attempt) == (before.event_seq + 2, before.attempt)
    stored = TaskRun.objects.get(pk=run.pk)
    assert (stored.event_seq, stored.heartbeat_at, stored.blocking_reason) == (seq, when, 'r’ésumé "quoted"')
    task = Task.objects.get(pk=run.task_id)
    assert (task.status, task.updated_at) == ("running", when)
    written = list(WorkstreamEvent.objects.filter(run=run, kind="note").order_by("seq"))
    expected = [(rows[i].pk, before.event_seq + 1 + i, f"row {i}", {"i": i, "text": "ünïcode"}) for i in range(2)]
    assert [(e.pk, e.seq, e.title, e.payload) for e in written] == expected
    assert {e.attempt for e in written} == {before.attempt}


def test_a_batch_of_reads_gives_each_its_rows_and_instances_as_the_orm_builds_them(run):
    """fetch_batch (one pipeline on PostgreSQL) returns each statement's columns and rows in order;
    instances builds what the ORM builds from them: JSON decoded, unselected fields deferred, an
    annotation kept as an attribute."""
    from django.db.models import F

    from tasks.engine.sql import ID

    steps = CompiledQuery(lambda: StepExecution.objects.filter(run_id=ID.value).order_by("position"), ID)
    titles = CompiledQuery(
        lambda: (
            StepExecution.objects.filter(run_id=ID.value)
            .annotate(run_state=F("run__state"))
            .only("pk", "title")
            .order_by("position")
        ),
        ID,
    )
    none = CompiledQuery(lambda: StepExecution.objects.filter(run_id=ID.value), ID)
    first = StepExecution.objects.filter(run=run).order_by("position").first()
    started = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    StepExecution.objects.filter(pk=first.pk).update(result={"a": [1, {"b": "ü"}]}, started_at=started)
    (step_cols, step_rows), (title_cols, title_rows), (_, empty) = fetch_batch(
        steps.sql_params(run.pk), titles.sql_params(run.pk), none.sql_params(run.pk + 1000)
    )
    assert empty == []
    built = instances(StepExecution, step_cols, step_rows)
    orm = list(StepExecution.objects.filter(run=run).order_by("position"))
    assert [(s.pk, s.step_id, s.result, s.spec, s.started_at, s.attempts) for s in built] == [
        (s.pk, s.step_id, s.result, s.spec, s.started_at, s.attempts) for s in orm
    ]
    assert built[0].result == {"a": [1, {"b": "ü"}]} and built[0].started_at == started
    light = instances(StepExecution, title_cols, title_rows)
    assert [(s.pk, s.title, s.run_state) for s in light] == [(s.pk, s.title, run.state) for s in orm]
    assert light[0].get_deferred_fields() >= {"result", "spec"}


def test_one_statement_write_inserts_plain_rows_only_while_the_fence_holds(run):
    """update_with_rows' `plain` rows (a model turn's reply beside its event) go in with the
    fenced UPDATE or not at all, each with its pk and every field as create() would store it."""
    from django.db import connection

    from tasks.engine.events import event_rows
    from tasks.engine.sql import update_with_rows
    from tasks.models import ModelTurn

    if connection.vendor != "postgresql":
        pytest.skip("data-modifying WITH statements are PostgreSQL's; SQLite takes the separate statements")
    before = TaskRun.objects.get(pk=run.pk)

    def turn(number):
        return ModelTurn(
            run=run, number=number, provider="p", model="m", sent=[{"role": "user", "content": "ü"}],
            tool_calls=[{"id": "c1", "name": "read_file", "arguments": {"path": "a"}}], input_tokens=3,
            requested_at=timezone.now(),
        )  # fmt: skip

    refused = [turn(1)]
    assert (
        update_with_rows(
            TaskRun,
            {"pk": run.pk, "attempt": before.attempt + 1},
            counter="event_seq",
            rows=event_rows(run=run, events=[{"kind": "note", "title": "no"}]),
            plain=refused,
        )
        is None
    )
    assert refused[0].pk is None and not ModelTurn.objects.filter(run=run).exists()

    stored, rows = [turn(1)], event_rows(run=run, events=[{"kind": "note", "title": "yes"}])
    seq, _ = update_with_rows(
        TaskRun, {"pk": run.pk, "attempt": before.attempt}, counter="event_seq", rows=rows, plain=stored
    )
    assert seq == before.event_seq + 1 and rows[0].pk and stored[0].pk
    row = ModelTurn.objects.get(pk=stored[0].pk)
    assert (row.sent, row.tool_calls, row.input_tokens, row.purpose) == (
        stored[0].sent,
        stored[0].tool_calls,
        3,
        ModelTurn.Purpose.LOOP,
    )
    assert WorkstreamEvent.objects.get(pk=rows[0].pk).seq == seq


def test_model_from_row_reads_what_the_orm_reads(run):
    from django.db import connection

    from tasks.engine.sql import fetch_one, model_from_row

    TaskRun.objects.filter(pk=run.pk).update(started_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), mutates=True)
    StepExecution.objects.filter(run=run).update(result={"nested": {"n": 1}, "text": "ünïcode"})
    for model, pk in ((TaskRun, run.pk), (StepExecution, StepExecution.objects.filter(run=run).first().pk)):
        fields = model._meta.concrete_fields
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        table = connection.ops.quote_name(model._meta.db_table)
        built = model_from_row(model, fetch_one(f"SELECT {columns} FROM {table} WHERE id = %s", [pk]))  # noqa: S608
        orm = model.objects.get(pk=pk)
        assert [getattr(built, f.attname) for f in fields] == [getattr(orm, f.attname) for f in fields]
        assert not built._state.adding


def test_an_update_with_a_condition_writes_only_when_it_holds(run):
    from tasks.engine.sql import Condition

    fewer_than = Condition(f"(SELECT COUNT(*) FROM {TaskRun._meta.db_table} o WHERE o.attempt = %s) < %s", (0, 1))  # noqa: S608
    assert update_where(TaskRun, {"pk": run.pk}, condition=fewer_than, worker_id="refused") == 0
    roomy = Condition(fewer_than.sql, (0, 100))
    assert update_where(TaskRun, {"pk": run.pk}, condition=roomy, worker_id="written") == 1
    assert TaskRun.objects.get(pk=run.pk).worker_id == "written"


def test_states_are_written_into_the_candidates_text_so_its_partial_indexes_can_serve_it():
    sql, params = dispatch._candidates_query(50).sql_params(timezone.now(), 3)
    assert "IN ('running', 'verifying')" in sql
    assert not set(TaskRun.State.values) & {p for p in params if isinstance(p, str)}
    with pytest.raises(ValueError, match="plain lowercase words"):
        CompiledQuery(lambda: TaskRun.objects.filter(state="x'; --"), literals=("x'; --",)).sql_params()
