"""Workstream events: every engine fact, written first, then published after commit.

The database is the source of truth; the channel layer is only delivery, so a publishing
failure is logged and never fatal. Pushes carry ids, and the push to the run's group also carries
the committed row (`pushed_row`), which a consumer whose cursor is right behind it renders without
reading it back. Consumers check ownership (when they subscribe) and render the row themselves;
what a push cannot settle (a gap, a replay, a large row, the run's card after a change) is read
from the database.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime
import functools
import json
import logging
import os
import sqlite3
import threading

from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from tasks.engine.errors import LeaseLost
from tasks.engine.sql import fetch_one, insert_rows
from tasks.models import TaskRun, WorkstreamEvent

logger = logging.getLogger(__name__)


def run_group(run_id: int) -> str:
    return f"run-{run_id}"


def user_group(user_id) -> str:
    return f"user-{user_id}"


# Kinds that only add a row to the workstream: nothing the task switcher shows (state, steps done,
# the current step, queue position, approvals) nor the run's step list and status card changes with
# them. Any other kind, including one not listed here, counts as a possible change of those: the
# engine writes every change of a run's state or a step's status in one transaction with an event
# of such a kind (run.state, step.started, step.succeeded, …).
ROW_ONLY_KINDS = frozenset(
    {"command.started", "command.output", "command.finished", "file.written", "note", "step.progress", "model.text"}
)


def kind_changes_run(kind: str) -> bool:
    """Whether an event of this kind may change the run's state, steps or approvals (rather than
    only add a row): such events are announced to the owner's group and bring the run's card."""
    return kind not in ROW_ONLY_KINDS


# The largest row (as JSON) a push carries; a consumer reads a larger one from the database.
PUSHED_ROW_LIMIT = 16_384
# The fields of a pushed row: everything a workstream row shows (tasks.templatetags.workstream),
# with the type each must have when it is read back.
PUSHED_ROW_FIELDS = {
    "kind": str,
    "phase": str,
    "status": str,
    "title": str,
    "explanation": str,
    "step_id": str,
    "file_path": str,
    "command": str,
    "payload": dict,
    "attempt": int,
}


def pushed_row(event: WorkstreamEvent) -> str | None:
    """The committed row as its push carries it (JSON), or None when the push carries ids only
    (a row larger than PUSHED_ROW_LIMIT). The payload goes through JSON exactly as the JSONField
    stored it (so this cannot fail for a row that was written), and the pushed row renders as the
    stored one does. The run's card is never pushed: after a row that may have changed it
    (`kind_changes_run`), the consumer reads it."""
    row = {name: getattr(event, name) for name in PUSHED_ROW_FIELDS}
    row["created_at"] = event.created_at.isoformat()
    text = json.dumps(row, separators=(",", ":"))
    return text if len(text) <= PUSHED_ROW_LIMIT else None


def event_from_pushed_row(*, run_id: int, seq: int, row: str) -> WorkstreamEvent | None:
    """The unsaved event a push's `row` describes, or None when it is not a row `pushed_row`
    wrote: not JSON, a field missing or of another type, a time without its time zone."""
    try:
        data = json.loads(row)
        fields = {name: data[name] for name in PUSHED_ROW_FIELDS}
        created_at = datetime.datetime.fromisoformat(data["created_at"])
    except (TypeError, ValueError, KeyError):
        return None
    typed = all(isinstance(fields[name], kind) for name, kind in PUSHED_ROW_FIELDS.items())
    if not typed or created_at.tzinfo is None:
        return None
    return WorkstreamEvent(run_id=run_id, seq=seq, created_at=created_at, **fields)


def event_emit(
    *,
    run: TaskRun,
    kind: str,
    title: str,
    phase: str = "",
    status: str = "",
    explanation: str = "",
    step_id: str = "",
    file_path: str = "",
    command: str = "",
    payload: dict | None = None,
    lease: tuple[int, str] | None = None,
    advanced: tuple[int, int] | None = None,
) -> WorkstreamEvent:
    """Persist one workstream event with the run's next gapless `seq`, publish it after commit.

    The seq counter on the run row is incremented in the same transaction as the insert, so a
    rolled-back event leaves no gap and two writers never share a number (the counter's row lock
    orders them). With `lease` (attempt, worker_id) the write is fenced: a worker whose lease was
    superseded, or whose run left its leased states, gets LeaseLost and writes nothing.
    `advanced` is (seq, attempt) when the caller has just taken the seq itself, in this
    transaction's UPDATE of the run row (a state transition does, to save a statement).
    """
    # No savepoint inside a caller's transaction (two statements fewer per event): a refused fence
    # wrote nothing and LeaseLost is raised outside the block, so the caller's transaction stays
    # usable; a database error here dooms the caller's transaction whichever way.
    with transaction.atomic(savepoint=False):
        if advanced is None:
            advanced = _counter_advance(run_id=run.pk, lease=lease)
        if advanced is not None:
            fields = {"kind": kind, "phase": phase, "status": status, "title": title, "explanation": explanation}
            fields.update(step_id=step_id, file_path=file_path, command=command, payload=payload)
            (event,) = events_write(run=run, events=[fields], advanced=advanced)
    if advanced is None:
        raise LeaseLost(f"{run.reference}: this worker's lease was superseded; event not written.")
    return event


def event_revise(*, run: TaskRun, event: WorkstreamEvent, explanation: str, lease: tuple[int, str] | None = None):
    """Rewrite the explanation of a row-only event already written, and push the row again after
    commit: the model's words as they stream are one row per reply that grows, not a row per piece.

    Only the row changes (its seq stays): a socket that already showed the row gets the new text
    (`revised` pushes, tasks.consumers), one that had not yet reads it as it is now. The caller
    throttles (one revision per COMMAND_LOOP_STREAM_SECONDS). With `lease`, fenced like event_emit.
    """
    rows = WorkstreamEvent.objects.filter(pk=event.pk)
    if lease is not None:
        rows = rows.filter(run__attempt=lease[0], run__worker_id=lease[1], run__state__in=TaskRun.LEASED_STATES)
    if not rows.update(explanation=explanation):
        raise LeaseLost(f"{run.reference}: this worker's lease was superseded; event not revised.")
    event.explanation = explanation
    owner_id = run.owner_id
    transaction.on_commit(
        lambda: event_publish(
            run_id=run.pk,
            owner_id=owner_id,
            event_id=event.pk,
            seq=event.seq,
            kind=event.kind,
            event=event,
            revised=True,
        )
    )


def events_write(*, run: TaskRun, events: list[dict], advanced: tuple[int, int]) -> list[WorkstreamEvent]:
    """Inside the caller's transaction: persist several events of `run` in one INSERT, with the
    seqs the caller has just taken in its UPDATE of the run row (`advanced` is (the last of them,
    the attempt); the events get the len(events) seqs ending there, in order), and publish each
    after commit as event_emit does. Each item holds event_emit's fields (kind and title at least)."""
    rows = event_rows(run=run, events=events)
    _numbered(rows, advanced)
    insert_rows(rows)
    _published(run=run, rows=rows, last=advanced[0])
    return rows


def event_rows(*, run: TaskRun, events: list[dict]) -> list[WorkstreamEvent]:
    """The unsaved events of `run` that `events` describe (event_emit's fields), without seq."""
    return [
        WorkstreamEvent(
            run_id=run.pk,
            kind=item["kind"],
            phase=item.get("phase", ""),
            status=item.get("status", ""),
            title=item["title"][:300],
            explanation=item.get("explanation", ""),
            step_id=item.get("step_id", ""),
            file_path=item.get("file_path", ""),
            command=item.get("command", ""),
            payload=item.get("payload") or {},
        )
        for item in events
    ]


def events_written(*, run: TaskRun, rows: list[WorkstreamEvent], advanced: tuple[int, int]) -> None:
    """After `rows` were inserted with the seqs ending at advanced's: note their seq and attempt,
    and publish each after commit."""
    _numbered(rows, advanced)
    _published(run=run, rows=rows, last=advanced[0])


def _numbered(rows: list[WorkstreamEvent], advanced: tuple[int, int]) -> None:
    """Give `rows` the len(rows) seqs ending at advanced's, in order, and its attempt."""
    last, attempt = advanced
    for i, row in enumerate(rows):
        row.seq, row.attempt = last - len(rows) + 1 + i, attempt


def _published(*, run: TaskRun, rows: list[WorkstreamEvent], last: int) -> None:
    """Note the run's newest seq and publish each of `rows` after commit."""
    run.event_seq = last
    owner_id = run.owner_id
    for event in rows:
        transaction.on_commit(
            functools.partial(
                event_publish,
                run_id=run.pk,
                owner_id=owner_id,
                event_id=event.pk,
                seq=event.seq,
                kind=event.kind,
                event=event,
            )
        )


def _counter_advance(*, run_id: int, lease: tuple[int, str] | None) -> tuple[int, int] | None:
    """Increment the run's event counter and read it back in one statement (UPDATE … RETURNING,
    PostgreSQL and SQLite ≥ 3.35): (new seq, the run's attempt), or None when no row matched —
    the run is gone or, with `lease`, the fence refused (another attempt, another worker, or no
    longer running or verifying)."""
    if connection.vendor == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        raise ImproperlyConfigured(
            f"Command needs SQLite 3.35 or newer (UPDATE … RETURNING); this Python has {sqlite3.sqlite_version}."
        )
    params: list = [run_id]
    if lease is not None:
        params += [lease[0], lease[1], *TaskRun.LEASED_STATES]
    row = fetch_one(_counter_sql(connection.vendor, fenced=lease is not None), params)
    return None if row is None else (row[0], row[1])


@functools.cache
def _counter_sql(vendor: str, *, fenced: bool) -> str:
    """The counter statement, from the model's own table and column names (no outside input)."""
    meta, quote = TaskRun._meta, connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    seq = column("event_seq")
    sql = f"UPDATE {quote(meta.db_table)} SET {seq} = {seq} + 1 WHERE {column('id')} = %s"  # noqa: S608
    if fenced:
        states = ", ".join(["%s"] * len(TaskRun.LEASED_STATES))
        sql += f" AND {column('attempt')} = %s AND {column('worker_id')} = %s AND {column('state')} IN ({states})"
    return f"{sql} RETURNING {seq}, {column('attempt')}"


# How long a push to the owner's group waits for more of the run's events (see event_publish).
USER_PUSH_DELAY = 0.1


def event_publish(
    *,
    run_id: int,
    owner_id,
    event_id: int,
    seq: int,
    kind: str = "",
    event: WorkstreamEvent | None = None,
    revised: bool = False,
) -> None:
    """Tell listeners that an event exists. Never raises: the database already has the event.

    The run's group gets it (that is what delivers the row), with the committed `event`'s row
    when there is one (`pushed_row`, worked out only when a socket can be reached). The owner's
    group, which feeds the task switcher of every page of the owner's that shows one, gets the
    same news only when the kind may change what the switcher shows (`kind_changes_run`; an
    unknown or empty kind does): a row-only event would make every such socket look at the
    switcher for nothing but its "latest row" line, which each consumer's periodic look at the
    switcher refreshes anyway (at the table tail's pace, at least a second apart: every 1–2 s).
    `revised`: the row `seq` was rewritten (event_revise), not added; only the run's group hears.
    """
    try:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": "workstream.event", "run_id": run_id, "event_id": event_id, "seq": seq}
        if revised:
            message["revised"] = True
        # "group" lets a socket in both groups tell the copies apart: only the owner's copy
        # concerns the switcher.
        targets = [(run_group(run_id), "run")]
        if kind_changes_run(kind) and not revised:
            targets.append((user_group(owner_id), "user"))
        in_memory = _is_in_memory(layer)
        if in_memory:
            # The in-process layer reaches only sockets served by this process: none in a worker
            # process, where a send would only start a thread and an event loop to find no one.
            targets = [(group, tag) for group, tag in targets if layer.groups.get(group)]
            if not targets:
                return
        row = pushed_row(event) if event is not None else None
        if in_memory:
            # Its queues belong to the serving event loop, which async_to_sync reaches from a
            # sync_to_async thread.
            async def send() -> None:
                for group, tag in targets:
                    await layer.group_send(group, _message(message, tag, row))

            async_to_sync(send)()
        else:
            for group, tag in targets:
                # The owner's copy only makes the switcher look again, which it does at most every
                # half second (tasks.consumers.SWITCHER_PAUSE): it waits a moment to take in the
                # run's next events, so a burst of them is one send, not one each.
                delay = USER_PUSH_DELAY if tag == "user" else 0.0
                _publisher.push(layer, group, _message(message, tag, row), delay=delay)
    except Exception:  # noqa: BLE001 - delivery is best effort; the event is persisted
        logger.warning("Could not publish workstream event %s of run %s", event_id, run_id, exc_info=True)


def _message(message: dict, tag: str, row: str | None) -> dict:
    """The push for one group: only the run's group delivers rows, so only its copy has the row."""
    if tag == "run" and row is not None:
        return {**message, "group": tag, "row": row}
    return {**message, "group": tag}


def _is_in_memory(layer) -> bool:
    from channels.layers import InMemoryChannelLayer

    return isinstance(layer, InMemoryChannelLayer)


class _Publisher:
    """One event loop thread per process that publishes to a networked channel layer without
    making the writer wait, and sends each run's news once however far it has fallen behind.

    async_to_sync from a plain thread (a worker, the bench) starts a new event loop per call, and
    channels-redis opens a new connection per loop: measured ~10 ms per published event. This
    loop lives as long as the process, so the layer's connection does too. Waiting for each send
    still cost the writer about 1 ms per event (five per one-step run), so a push is queued and
    the writer goes on: the event is already committed, and every socket's table tail delivers a
    row whose push was lost or dropped (a send that fails, takes longer than SEND_TIMEOUT, or
    finds QUEUE_LIMIT pushes waiting is logged and dropped).

    A push says "run R has events up to seq N", and a socket that gets it delivers every row up
    to N it has not delivered yet (tasks.consumers). So while a push for a group and run still
    waits, a newer one for the same group and run replaces its seq instead of queueing behind
    it: nothing a socket would have shown is lost, and a busy worker sends fewer (each
    channels-redis group send is at least two round trips to Redis). A push may also wait
    `delay` seconds on purpose, to take in the pushes that follow it. Pushes leave in the order
    their group and run first queued (after their delay). The loop is woken once for however
    many pushes arrive while it is busy. A forked child (django-q2 workers fork) has no such
    thread, so it starts its own on first use.
    """

    SEND_TIMEOUT = 10.0
    QUEUE_LIMIT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Under _lock: pushes handed over by writers, and whether the loop was asked to take them.
        self._incoming: list[tuple[object, str, dict, float]] = []
        self._wake_asked = False
        # The loop's own: (group, run id) → the newest (layer, message) not sent yet, and the
        # order in which those keys are due.
        self._waiting: dict[tuple, tuple[object, dict]] = {}
        self._queue: asyncio.Queue | None = None

    def reset_after_fork(self) -> None:
        # The parent's loop thread does not exist here: its queued pushes are the parent's to send.
        self.__init__()

    def push(self, layer, group: str, message: dict, *, delay: float = 0.0) -> None:
        """Queue a group send of `message` (a workstream push: run_id, seq); never waits for it."""
        loop = self._running_loop()
        with self._lock:
            self._incoming.append((layer, group, message, delay))
            if self._wake_asked:
                return
            self._wake_asked = True
        loop.call_soon_threadsafe(self._take_incoming)

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every queued push has been tried (at exit, and for tests); False on timeout."""
        with self._lock:
            loop = self._loop
        if loop is None:
            return True

        async def tried() -> None:
            self._take_incoming()
            while self._waiting:  # a delayed push is due later
                await asyncio.sleep(0.01)
                self._take_incoming()
            await self._queue.join()

        try:
            asyncio.run_coroutine_threadsafe(tried(), loop).result(timeout)
        except Exception:  # noqa: BLE001 - a timeout or a closed loop: the tails deliver the rest
            return False
        return True

    def _take_incoming(self) -> None:
        with self._lock:
            incoming, self._incoming, self._wake_asked = self._incoming, [], False
        for layer, group, message, delay in incoming:
            self._enqueue(layer, group, message, delay)

    def _enqueue(self, layer, group: str, message: dict, delay: float) -> None:
        # A revision of row N waits under its own key, and a newer revision of it replaces it.
        revised = bool(message.get("revised"))
        key = (group, message["run_id"], message["seq"]) if revised else (group, message["run_id"])
        waiting = self._waiting.get(key)
        if waiting is not None:
            if revised or message["seq"] > waiting[1]["seq"]:
                self._waiting[key] = (layer, message)
            return
        if len(self._waiting) >= self.QUEUE_LIMIT:
            logger.warning(
                "Publishing is %s pushes behind; dropped the push of run %s's event %s",
                self.QUEUE_LIMIT,
                message["run_id"],
                message["seq"],
            )
            return
        self._waiting[key] = (layer, message)
        if delay > 0:
            self._loop.call_later(delay, self._queue.put_nowait, key)
        else:
            self._queue.put_nowait(key)

    async def _send_in_order(self) -> None:
        while True:
            key = await self._queue.get()
            layer, message = self._waiting.pop(key)
            try:
                await self._send(layer, key[0], message)
            finally:
                self._queue.task_done()

    async def _send(self, layer, group: str, message: dict) -> None:
        """One group send; a send that fails at once is tried once more (after a Redis restart
        the first command on a pooled connection finds it closed, and the next one reconnects)."""
        for tries_left in (1, 0):
            try:
                await asyncio.wait_for(layer.group_send(group, message), self.SEND_TIMEOUT)
                return
            except Exception as exc:  # noqa: BLE001 - delivery is best effort; the event is persisted
                if tries_left and not isinstance(exc, TimeoutError):
                    continue
                # One line, not a traceback: while Redis is down every push fails the same way.
                logger.warning(
                    "Could not publish run %s's event %s to %s: %s: %s",
                    message["run_id"],
                    message["seq"],
                    group,
                    type(exc).__name__,
                    exc,
                )

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._queue = asyncio.Queue()
                threading.Thread(target=loop.run_forever, name="workstream-publisher", daemon=True).start()
                asyncio.run_coroutine_threadsafe(self._send_in_order(), loop)
                self._loop = loop
            return self._loop


_publisher = _Publisher()
os.register_at_fork(after_in_child=_publisher.reset_after_fork)
atexit.register(_publisher.flush)


def publish_flush(timeout: float = 2.0) -> bool:
    """Wait until every push this process queued has been tried; False when `timeout` ran out."""
    return _publisher.flush(timeout)
