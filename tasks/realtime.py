"""Realtime delivery of the workstream: the database is the log, the socket only delivers it.

The consumer keeps a per-run cursor (the last `seq` the browser has) and always reads what comes
after it from the database, so a push, a replay after reconnect and the embedded-mode table tail
all go through the same path: rows arrive once, in order, without gaps.

Consumers in one process share that work (`SharedReads`): those at the same cursor of the same run
get one database read and one render between them, since rows are immutable and the pushed HTML
is the run's, not the viewer's.

One shortcut: a push carries the committed row (tasks.engine.events.pushed_row), sent only after
its transaction committed. A consumer whose cursor is right behind it renders that row
(`pushed_delivery`) instead of reading it back: the same HTML, without a database round trip on
the way to the screen. When the row may have changed the run's card (state, steps, approvals),
the card is read next (`shared_card`). Any other case reads from the database as above.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError, connection
from django.db.models import F
from django.template.loader import render_to_string

from tasks.models import TaskRun, WorkstreamEvent

REPLAY_BATCH = 200


def run_group(run_id: int) -> str:
    return f"run-{run_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def run_tone_for(*, run_id: int, user) -> str | None:
    """Ownership check for a socket subscription: the run's task tone (its rows' wording, fixed
    when the task is made), or None when the run is not visible to `user` (404-equivalent: the
    same answer for "no such run" and "someone else's run")."""
    return TaskRun.objects.filter(pk=run_id, owner_id=user.pk).values_list("task__tone", flat=True).first()


def events_after(*, run_id: int, after: int, limit: int = REPLAY_BATCH) -> list[WorkstreamEvent]:
    return list(WorkstreamEvent.objects.filter(run_id=run_id, seq__gt=after).order_by("seq")[:limit])


def tail_check(*, run_ids: list[int]) -> dict[int, tuple[int, bool]]:
    """Per run: the newest seq and whether the engine is working on it, in one query (the cheap
    check the table tail makes; the newest seq comes from the (run, seq) index, not a scan)."""
    from django.db.models import OuterRef, Subquery

    newest = WorkstreamEvent.objects.filter(run_id=OuterRef("pk")).order_by("-seq").values("seq")[:1]
    rows = TaskRun.objects.filter(pk__in=run_ids).annotate(last=Subquery(newest)).values_list("pk", "last", "state")
    return {pk: (last or 0, state in TaskRun.LEASED_STATES) for pk, last, state in rows}


@dataclass(frozen=True)
class Delivery:
    html: str
    last_seq: int
    count: int
    # With the run's card: the run's event counter when it was read (the card shows every change
    # up to that seq); None when the card did not come.
    card_seq: int | None = None
    kinds: tuple[str, ...] = ()  # the rows' kinds, oldest first


@dataclass(frozen=True)
class Card:
    """The run's card alone (`card_now`), read after a pushed row that may have changed it."""

    html: str
    seen_seq: int  # the run's event counter when it was read: the card shows every change up to it


def delivery_after(*, run_id: int, after: int, run_card: bool = False) -> Delivery | None:
    """The next batch after the cursor, rendered (one thread hop for the read and the render), or
    None when there is nothing after it.

    The run's card comes with the rows when `run_card` is asked for (a replay) or when one of them
    is of a kind that may change the run's state, steps or approvals (`kind_changes_run`). A push
    of command output or progress rows leaves the card as it was, without reading it: every change
    of state or step comes with an event of its own, which brings the card then."""
    from tasks.engine.events import kind_changes_run

    events = _rows_after(run_id=run_id, after=after)
    if not events:
        return None
    if run_card or any(kind_changes_run(event.kind) for event in events):
        return render_rows_oob(run_id=run_id, events=events)
    return render_rows_oob(run_id=run_id, events=events, run_card=False, tone=events[0].task_tone)


def _rows_after(*, run_id: int, after: int) -> list[WorkstreamEvent]:
    """The rows after the cursor, oldest first, at most REPLAY_BATCH, each with its task's tone
    (`task_tone`): the (run, seq) index and one join, as the ORM would read them.

    The SQL is compiled once per process and run as a raw queryset (same fields, same converters):
    compiling the same queryset on every push took longer than PostgreSQL takes to answer it
    (measured: ~1.3 ms of a ~2.3 ms read of one row)."""
    return list(WorkstreamEvent.objects.raw(_rows_after_sql(connection.vendor), [run_id, after]))


@functools.cache
def _rows_after_sql(vendor: str) -> str:
    run_mark, after_mark = 987_654_321, 123_456_789  # stand-ins for the parameters, checked below
    query = (
        WorkstreamEvent.objects.filter(run_id=run_mark, seq__gt=after_mark)
        .annotate(task_tone=F("run__task__tone"))
        .order_by("seq")[:REPLAY_BATCH]
        .query
    )
    sql, params = query.sql_with_params()
    if [int(p) for p in params] != [run_mark, after_mark]:
        raise RuntimeError(f"The workstream rows query has unexpected parameters on {vendor}: {params!r}")
    return sql


def render_rows_oob(
    *,
    run_id: int,
    events: list[WorkstreamEvent],
    run: TaskRun | None = None,
    run_card: bool = True,
    tone: str | None = None,
) -> Delivery:
    """Rows as one htmx out-of-band swap appended to the run's workstream container and an empty
    narration line (a real event replaces any fallback narration at once), plus, with `run_card`
    (the default: the polling fallback and replays always bring it), the run's card: its step list
    (live plan-step status), status, task status and approvals. Without the card and with the
    task's `tone`, nothing but the rows is read."""
    if run is None and (run_card or tone is None):
        run = TaskRun.objects.select_related("task").get(pk=run_id)
    context = {
        "run_id": run_id,
        "run": run,
        "events": events,
        "tone": run.task.tone if run is not None else tone,
        "run_card": run_card,
        "oob": True,
    }
    if run_card:
        context.update(_run_card_context(run=run, kinds=[event.kind for event in events]))
    html = render_to_string("tasks/partials/workstream_oob.html", context)
    return Delivery(
        html=html,
        last_seq=events[-1].seq,
        count=len(events),
        card_seq=run.event_seq if run_card else None,
        kinds=tuple(event.kind for event in events),
    )


def card_now(*, run_id: int, kinds: list[str]) -> Card | None:
    """The run's card as the database has it now, for the kinds of events announced since the
    last one (an approval's event brings the approvals too); None when the run is gone."""
    run = TaskRun.objects.select_related("task").filter(pk=run_id).first()
    if run is None:
        return None
    context = {"run_id": run_id, "run": run, "oob": True, **_run_card_context(run=run, kinds=kinds)}
    return Card(html=render_to_string("tasks/partials/run_card_oob.html", context), seen_seq=run.event_seq)


def _approval_news(kinds) -> bool:
    """Whether events of these kinds may have changed the run's approvals (the card then shows them)."""
    return any(kind.startswith("approval") for kind in kinds)


def _run_card_context(*, run: TaskRun, kinds: list[str]) -> dict:
    from approvals.selectors import approvals_for_run
    from tasks.selectors import run_status, run_steps

    approvals = None
    if run.state == TaskRun.State.WAITING_APPROVAL or _approval_news(kinds):
        approvals = list(approvals_for_run(owner=run.owner_id, run_id=run.pk).order_by("created_at"))
    steps = run_steps(run=run)
    return {"approvals": approvals, "steps": steps, "status": run_status(run=run, steps=steps)}


# --- Rows that came with their push ----------------------------------------------------------

# Recent renders of pushed rows, shared by the consumers of this process (one render per row and
# tone, not one per socket).
_pushed_renders: OrderedDict = OrderedDict()
PUSHED_RENDERS_KEPT = 256


def pushed_delivery(*, run_id: int, seq: int, row: str, tone: str) -> Delivery | None:
    """The rendered row a push carried (its committed JSON, `tasks.engine.events.pushed_row`), or
    None when the push's row is not one this process can render as the database would give it
    (the consumer then reads the row). The row alone: when its kind may have changed the run's
    card, the consumer asks for the card next (`shared_card`). Pure: no database, so it runs on
    the event loop."""
    key = (run_id, seq, tone, row)
    delivery = _pushed_renders.get(key)
    if delivery is None:
        from tasks.engine.events import event_from_pushed_row

        event = event_from_pushed_row(run_id=run_id, seq=seq, row=row)
        if event is None:
            return None
        delivery = render_rows_oob(run_id=run_id, events=[event], run_card=False, tone=tone)
        _pushed_renders[key] = delivery
        while len(_pushed_renders) > PUSHED_RENDERS_KEPT:
            _pushed_renders.popitem(last=False)
    return delivery


def revised_words(*, run_id: int, seq: int, row: str) -> str | None:
    """The new text of a streamed-words row the page already shows (a `revised` push), as an
    out-of-band swap of that row's text, from the row the push carried; None when the push's row
    cannot be rendered as the database would give it (revised_words_read then reads it). Pure."""
    from tasks.engine.events import event_from_pushed_row
    from tasks.templatetags.workstream import revised_words_oob

    event = event_from_pushed_row(run_id=run_id, seq=seq, row=row)
    if event is None or event.kind != "model.text":
        return None
    return revised_words_oob(event)


def revised_words_read(*, run_id: int, seq: int) -> str:
    """revised_words, from the database ("" when the row is gone or is not streamed words)."""
    from tasks.templatetags.workstream import revised_words_oob

    event = WorkstreamEvent.objects.filter(run_id=run_id, seq=seq, kind="model.text").first()
    return revised_words_oob(event) if event is not None else ""


# --- Work shared by the consumers of one process -----------------------------------------------


@dataclass
class _Read:
    started: float  # event-loop time just before the read was handed to the database thread
    task: asyncio.Future


class _ReadThread:
    """The one database thread of an event loop's shared reads, which keeps its connection.

    database_sync_to_async closes the thread's connection around every call, so each push took a
    connection from the pool and gave it back, on top of asgiref's hop (measured on PostgreSQL: a
    row's read and render 1.13 ms p50 that way, 0.70 ms on a kept connection). These reads only
    read, in autocommit, so a kept connection holds nothing; one found cut (PostgreSQL restarted)
    is closed and the read runs once more on a new one.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="shared-reads")

    async def run(self, read: Callable):
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._read, read)

    @staticmethod
    def _read(read: Callable):
        for last_try in (False, True):
            try:
                return read()
            except (OperationalError, InterfaceError):
                connection.close()  # the next try connects anew
                if last_try:
                    raise

    def close(self) -> None:
        """Give the connection back and let the thread end (its event loop is gone)."""
        # `connection` is resolved in the thread that runs the call (it is per thread), not here.
        self._executor.submit(lambda: connection.close())
        self._executor.shutdown(wait=False)


class SharedReads:
    """Single-flight with a short memory: a read keyed by what it reads, shared by every consumer
    of this process that asks while it runs or shortly after — if the caller's `accept` rule says
    the result is recent enough for it. Otherwise the caller gets a read of its own.

    Sharing changes who does the work, never what a consumer delivers: each consumer still moves
    its own cursor over what it received.
    """

    def __init__(self, *, keep_seconds: float = 5.0, max_entries: int = 256) -> None:
        self.keep_seconds, self.max_entries = keep_seconds, max_entries
        self.reads = 0  # reads actually made (the tests count them)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._entries: OrderedDict = OrderedDict()
        self._threads: dict[str, _ReadThread] = {}

    async def get(self, key, read: Callable, *, accept: Callable[[float, object], bool], lane: str = "rows"):
        """`lane` names the database thread the read runs on: the task switcher's reads (about
        twice a second per owner) and the run cards read after pushed rows have one each, so a
        run's rows never queue behind them."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests): nothing of the old one is usable
            for thread in self._threads.values():
                thread.close()
            self._loop, self._entries, self._threads = loop, OrderedDict(), {}
        entry = self._entries.get(key)
        if entry is not None and loop.time() - entry.started <= self.keep_seconds:
            # A failed shared read is reported to the consumer that started it; this one reads again.
            with contextlib.suppress(Exception):
                result = await asyncio.shield(entry.task)
                if accept(entry.started, result):
                    return result
        return await self._read(key, read, loop, lane)

    async def _read(self, key, read: Callable, loop: asyncio.AbstractEventLoop, lane: str):
        thread = self._threads.get(lane)
        if thread is None:
            thread = self._threads[lane] = _ReadThread()
        entry = _Read(started=loop.time(), task=asyncio.ensure_future(thread.run(read)))
        self.reads += 1
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

        def forget_failure(task: asyncio.Future) -> None:
            if (task.cancelled() or task.exception()) and self._entries.get(key) is entry:
                del self._entries[key]

        entry.task.add_done_callback(forget_failure)
        # Shielded: a consumer that goes away must not cancel a read others are waiting for.
        return await asyncio.shield(entry.task)


shared = SharedReads()


async def shared_delivery_after(
    *, run_id: int, after: int, target: int | None = None, fresh_after: float | None = None
) -> Delivery | None:
    """`delivery_after`, shared between the consumers of this process.

    A shared result is taken only when it is good enough for this caller: it reaches `target` (the
    seq a push announced, or the newest seq the tail saw), or its read started after `fresh_after`
    (event-loop time; a new subscription passes the moment it joined the run's group, so nothing
    committed before that can be missing). With neither, the caller reads for itself.

    A new subscription (`fresh_after`: a first load or a replay after reconnect) always gets the
    run's card with its rows, since the page may have missed changes while the socket was down;
    such reads are shared only with each other.
    """
    replay = fresh_after is not None

    def accept(started: float, delivery: Delivery | None) -> bool:
        if replay and started >= fresh_after:
            return True
        return target is not None and delivery is not None and delivery.last_seq >= target

    return await shared.get(
        ("rows", run_id, after, replay),
        lambda: delivery_after(run_id=run_id, after=after, run_card=replay),
        accept=accept,
    )


async def shared_card(*, run_id: int, seq: int, kinds: list[str]) -> Card | None:
    """`card_now`, shared between the consumers of this process: a card already read is taken
    when it shows the run as of `seq` or later."""

    def accept(started: float, card: Card | None) -> bool:
        return card is not None and card.seen_seq >= seq

    return await shared.get(
        ("card", run_id, _approval_news(kinds)),
        lambda: card_now(run_id=run_id, kinds=kinds),
        accept=accept,
        lane="card",
    )


# --- The task switcher over the user's group ---------------------------------------------------


def switcher_signature(*, user) -> tuple:
    from tasks.selectors import switcher_signature as signature

    return signature(owner=user)


@dataclass(frozen=True)
class SwitcherLook:
    signature: tuple
    run_seqs: dict  # run id → its event counter, as this read saw it


def switcher_look(*, user, runs=()) -> SwitcherLook:
    """The switcher's fingerprint, and how far each of `runs` (the owner's runs whose events were
    announced) had got when it was read (the counter moves in the same transaction as the event,
    so this says which events it saw). Only those runs: an owner with thousands of runs is not
    read whole twice a second."""
    runs = list(runs)
    seqs = dict(TaskRun.objects.filter(owner_id=user.pk, pk__in=runs).values_list("pk", "event_seq")) if runs else {}
    return SwitcherLook(signature=switcher_signature(user=user), run_seqs=seqs)


async def shared_switcher_look(*, user, announced: dict[int, int], not_before: float) -> SwitcherLook:
    """`switcher_look`, shared by the owner's sockets in this process: a read is good enough for a
    socket when it saw every event announced to it and started after `not_before` (a read made
    for other announced runs is not: this socket then reads for its own)."""

    def accept(started: float, look: SwitcherLook) -> bool:
        return started >= not_before and all(look.run_seqs.get(run, 0) >= seq for run, seq in announced.items())

    runs = sorted(announced)
    return await shared.get(
        ("switcher-look", user.pk), lambda: switcher_look(user=user, runs=runs), accept=accept, lane="switcher"
    )


async def shared_switcher_html(*, user, signature: tuple) -> str:
    """The switcher rendered once per fingerprint for all the owner's sockets in this process."""
    return await shared.get(
        ("switcher", user.pk, signature),
        lambda: render_switcher_oob(user=user),
        accept=lambda *_: True,
        lane="switcher",
    )


def render_switcher_oob(*, user) -> str:
    """The whole switcher as an out-of-band swap: new runs appear, finished ones move down, and
    the single notice replaces the previous one instead of stacking."""
    from tasks.selectors import switcher_entries, switcher_notice

    context = {"switcher": switcher_entries(owner=user), "notice": switcher_notice(owner=user), "oob": True}
    return render_to_string("tasks/partials/switcher.html", context)


# --- Fallback narration ----------------------------------------------------------------------


def narration_for(*, run_id: int, quiet_seconds: float) -> str:
    """One calm line when a working run's stream has been quiet for `quiet_seconds`, built only
    from persisted state: the current step's number, total and title, and how long it has been
    going. "" when the run is not working or the stream is not quiet. Never names a file, a
    command or a result: those only come from real events."""
    from django.utils import timezone

    from tasks.models import StepExecution

    run = TaskRun.objects.filter(pk=run_id).only("state", "current_step_id", "updated_at").first()
    if run is None or run.state not in TaskRun.LEASED_STATES:
        return ""
    now = timezone.now()
    last = WorkstreamEvent.objects.filter(run_id=run_id).order_by("-seq").values_list("created_at", flat=True).first()
    if last is not None and (now - last).total_seconds() < quiet_seconds:
        return ""
    steps = list(
        StepExecution.objects.filter(run_id=run_id).order_by("position").values("step_id", "title", "started_at")
    )
    index = next((i for i, s in enumerate(steps) if s["step_id"] == run.current_step_id), None)
    since = (steps[index]["started_at"] if index is not None else None) or last
    elapsed = f" — {_duration((now - since).total_seconds())}" if since else ""
    if run.state == TaskRun.State.VERIFYING and index is None:
        return f"Still verifying the results{elapsed}."
    if index is None:
        return f"Still working{elapsed}."
    return f"Still on step {index + 1} of {len(steps)}: {steps[index]['title']}{elapsed}."


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def render_narration_oob(*, run_id: int, text: str) -> str:
    return render_to_string("tasks/partials/narration.html", {"run_id": run_id, "text": text, "oob": True})
