"""Reads for a task's thread and record: the task itself, each run with its rows, approvals,
changes and results, the task record's timeline one page at a time, and the operator
workspace's left panel.

History must not slow a page: no read here loads, counts or skips over a run's whole workstream.
A run's seqs are gapless from 1 (the engine hands each one out in the event's own transaction;
the audit checks it), so a run's newest seq is how many rows it has and a row's seq is its place:
"how many are earlier" is arithmetic, and a window is an index range on (run, seq). The thread
shows each run's newest rows (older ones a click away); the record shows one page of its timeline."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from tasks.models import Task, TaskRun
from tasks.selectors.runs import run_status, run_statuses

# Newest workstream rows per run on the thread page, and how many "Show earlier rows" adds.
THREAD_ROWS = 25
EARLIER_ROWS = 50
# When a run's settled card replaces the live one, it keeps the rows the page already showed
# (from its first row on), up to this many.
KEPT_ROWS_MAX = 1000
# Events per page of the task record's timeline: a short page by default (every row costs its
# render), and longer pages for reading on, chosen on the page (`?size=`).
TIMELINE_PAGE = 25
TIMELINE_SIZES = (25, 100, 250)
# Threads per page of /command/.
THREADS_PAGE = 12
# Runs shown on the thread and on the record (the newest; "Earlier runs" pages back), and the
# newest file changes, rollback points and results the record lists (`?changes=` pages back).
RUNS_SHOWN = 5
RECORD_LIST = 50
RECORD_ASSETS = 12


def task_list_recent(*, owner, limit: int = 8) -> QuerySet[Task]:
    return Task.objects.filter(owner=owner).select_related("workspace")[:limit]


def task_get_for_owner(*, owner, task_id) -> Task:
    """The task, or 404 when it does not exist or belongs to someone else."""
    return get_object_or_404(Task.objects.select_related("workspace"), pk=task_id, owner=owner)


class PageOutOfRange(ValueError):
    """A page number that is not a whole number, or names no page; the message says which pages exist."""

    def __init__(self, message: str, *, malformed: bool):
        super().__init__(message)
        self.malformed = malformed


def _page_number(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    try:
        number = int(raw)
    except ValueError:
        raise PageOutOfRange(f"“{raw[:40]}” is not a page number; pages are whole numbers from 1.", malformed=True)
    if number < 1:
        raise PageOutOfRange(f"There is no page {number}; pages are numbered from 1.", malformed=False)
    return number


def _page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return TIMELINE_PAGE
    sizes = ", ".join(str(n) for n in TIMELINE_SIZES[:-1]) + f" or {TIMELINE_SIZES[-1]}"
    if not raw.isdigit() or int(raw) not in TIMELINE_SIZES:
        raise PageOutOfRange(f"“{raw[:40]}” is not a page size; pages show {sizes} events.", malformed=True)
    return int(raw)


def task_page_for_owner(*, owner, page: str | None, per_page: int = THREADS_PAGE) -> Page:
    """One page of the owner's threads, newest first (page 1 is the newest). Raises
    PageOutOfRange for a page that is not a number or does not exist (page 1 always exists)."""
    number = _page_number(page)
    paginator = Paginator(
        Task.objects.filter(owner=owner).select_related("workspace").order_by("-created_at", "-pk"),
        per_page,
        allow_empty_first_page=True,
    )
    try:
        return paginator.page(number)
    except (EmptyPage, PageNotAnInteger):
        pages = paginator.num_pages
        raise PageOutOfRange(
            f"There is no page {number} of threads: there {'is' if pages == 1 else 'are'} {pages} "
            f"page{'' if pages == 1 else 's'}.",
            malformed=False,
        )


# --- Workstream rows of one run ----------------------------------------------------------------


def run_rows_newest(*, run, limit: int) -> tuple[list, int]:
    """The run's newest `limit` rows, oldest first, and how many rows are earlier than those.

    `run.event_seq` (the newest seq handed out) bounds the read to a range of the (run, seq)
    index, so the database never sorts the whole workstream, even before it has statistics for
    it. The bound hides nothing: every row above it is read, and the newest `limit` are kept."""
    from tasks.models import WorkstreamEvent

    rows = list(WorkstreamEvent.objects.filter(run=run, seq__gt=run.event_seq - limit).order_by("-seq")[:limit])
    rows.reverse()
    return rows, (rows[0].seq - 1 if rows else 0)


def run_rows_from(*, run, first: int, limit: int = KEPT_ROWS_MAX) -> tuple[list, int]:
    """The run's rows from seq `first` on (at most the newest `limit` of them), oldest first, and
    how many rows are earlier: a settled card keeps the rows the page already showed."""
    from tasks.models import WorkstreamEvent

    rows = list(
        WorkstreamEvent.objects.filter(run=run, seq__gte=max(first, run.event_seq - limit + 1)).order_by("-seq")[:limit]
    )
    rows.reverse()
    return rows, (rows[0].seq - 1 if rows else 0)


def run_rows_before(*, run, before: int, limit: int = EARLIER_ROWS) -> tuple[list, int]:
    """The `limit` rows just before seq `before`, oldest first, and how many rows are still earlier
    than those: what "Show earlier rows" prepends, never a row the page already has."""
    from tasks.models import WorkstreamEvent

    rows = list(WorkstreamEvent.objects.filter(run=run, seq__lt=before, seq__gte=before - limit).order_by("seq"))
    return rows, (rows[0].seq - 1 if rows else 0)


# --- The thread and the record -----------------------------------------------------------------


def _runs_parts(*, owner, runs: list, statuses: list[dict]) -> list[dict]:
    """What the thread and the record show about each run apart from its rows, read in batches:
    one query each for the steps, approvals, file changes and results of all `runs`."""
    from approvals.models import ApprovalRequest
    from outputs.models import OutputAsset
    from tasks.models import StepExecution
    from workspaces.models import FileChange

    ids = [run.pk for run in runs]
    if not ids:
        return []

    def grouped(rows) -> dict[int, list]:
        out: dict[int, list] = {pk: [] for pk in ids}
        for row in rows:
            out[row.run_id].append(row)
        return out

    steps = grouped(StepExecution.objects.filter(run_id__in=ids).order_by("run_id", "position"))
    approvals = grouped(
        ApprovalRequest.objects.filter(owner=owner, run_id__in=ids)
        .select_related("auto_decided_by")
        .order_by("created_at")
    )
    changes = grouped(FileChange.objects.filter(run_id__in=ids).order_by("created_at", "id"))
    assets = grouped(OutputAsset.objects.filter(owner=owner, run_id__in=ids).order_by("created_at"))
    return [
        {
            "status": status,
            "run": run,
            "steps": steps[run.pk],
            "approvals": approvals[run.pk],
            "changes": changes[run.pk],
            "assets": assets[run.pk],
        }
        for run, status in zip(runs, statuses, strict=True)
    ]


def _run_parts(*, owner, run, status: dict | None = None) -> dict:
    """What the thread and the record show about one run, apart from its rows."""
    return _runs_parts(owner=owner, runs=[run], statuses=[status if status is not None else run_status(run=run)])[0]


def _newest_seq():
    from tasks.models import WorkstreamEvent

    return (
        WorkstreamEvent.objects.filter(run=OuterRef("pk"), seq__gte=OuterRef("event_seq"))
        .order_by("-seq")
        .values("seq")[:1]
    )


@dataclass(frozen=True)
class RunsPage:
    """One page of a task's runs, the newest first: page 1 holds the newest RUNS_SHOWN runs."""

    runs: list  # oldest first, as the thread reads them
    number: int
    total: int
    size: int = RUNS_SHOWN

    @property
    def earlier(self) -> int:
        """How many runs are older than those shown."""
        return max(0, self.total - self.number * self.size)

    @property
    def has_earlier(self) -> bool:
        return self.earlier > 0

    @property
    def earlier_number(self) -> int:
        return self.number + 1

    @property
    def newer_number(self) -> int:
        return self.number - 1


def task_runs_page(*, task, page: str | None = None, size: int = RUNS_SHOWN) -> RunsPage:
    """The newest `size` runs of the task (page 1), or an earlier page, in two queries however
    many runs the task has. A page that is not a whole number from 1 is page 1; a page past the
    oldest shows the oldest runs."""
    try:
        number = max(1, int(page or 1))
    except ValueError:
        number = 1
    total = task.runs.count()
    number = min(number, max(1, -(-total // size)))
    newest_first = list(
        task.runs.select_related("workspace", "task")
        .annotate(newest_seq=Coalesce(Subquery(_newest_seq()), F("event_seq")))
        .order_by("-created_at", "-pk")[(number - 1) * size : number * size]
    )
    return RunsPage(runs=newest_first[::-1], number=number, total=total, size=size)


def thread_runs(
    *,
    owner,
    task,
    limit_rows: int = THREAD_ROWS,
    keep_from: dict | None = None,
    runs_page: RunsPage | None = None,
    focus: str | int | None = None,
) -> list[dict]:
    """The task's newest runs (RUNS_SHOWN of them, or `runs_page`), oldest first. Those shown in
    full (`runs_in_full`; `focus` is the run a deep link points at) carry what the thread shows
    under each: its status, steps, its newest `limit_rows` workstream rows (and how
    many earlier rows there are), approvals, file changes and results. The cost grows neither
    with a run's history nor with the task's number of runs: details are read in batches, and
    rows with one index range read per shown run.

    `keep_from` ({run id: seq}) asks for a run's rows from that seq on instead: the page already
    shows them (its settled card must not drop rows the operator was reading)."""
    page = runs_page or task_runs_page(task=task)
    full = runs_in_full(runs_page=page, asked=(*(keep_from or {}), *([focus] if focus else [])))
    in_full = [run for run in page.runs if run.pk in full]
    parts = iter(_runs_parts(owner=owner, runs=in_full, statuses=run_statuses(in_full)))
    runs = []
    for run in page.runs:
        if run.pk not in full:
            runs.append({"run": run, "full": False})
            continue
        first = (keep_from or {}).get(run.pk)
        if first:
            events, earlier = run_rows_from(run=run, first=first)
        else:
            events, earlier = run_rows_newest(run=run, limit=limit_rows)
        runs.append({**next(parts), "events": events, "earlier_rows": earlier, "full": True})
    return runs


def runs_in_full(*, runs_page: RunsPage, asked=()) -> set[int]:
    """Which runs of a page the thread and the record show in full; the others are one line each
    (reference, state, when, a link that opens it in full). In full: the task's newest run (on
    the newest page), every run still under way (its card stays live), and the runs the request
    asked about (`?run=`, a settled card keeping its rows). So a task run a thousand times shows
    what a task run once shows, plus a line per earlier run."""
    asked_ids = set()
    for pk in asked:
        try:
            asked_ids.add(int(pk))
        except (TypeError, ValueError):
            continue
    full = {run.pk for run in runs_page.runs if run.pk in asked_ids or run.state not in TaskRun.TERMINAL_STATES}
    if runs_page.number == 1 and runs_page.runs:
        full.add(runs_page.runs[-1].pk)
    return full


@dataclass(frozen=True)
class TimelinePage:
    """One page of a task's timeline (every run's events, oldest first). Pages are counted from
    the newest: page 1 holds the newest events, the last page the oldest."""

    events: list
    number: int
    pages: int
    total: int
    first: int  # position (1-based, oldest first) of the first event shown; 0 when there are none
    last: int
    size: int = TIMELINE_PAGE

    @property
    def has_earlier(self) -> bool:
        return self.number < self.pages

    @property
    def has_newer(self) -> bool:
        return self.number > 1

    @property
    def earlier_number(self) -> int:
        return self.number + 1

    @property
    def newer_number(self) -> int:
        return self.number - 1

    @property
    def size_query(self) -> str:
        """What links to other pages add to keep the chosen page size ("" for the default)."""
        return "" if self.size == TIMELINE_PAGE else f"&size={self.size}"

    @property
    def sizes(self) -> tuple[int, ...]:
        return TIMELINE_SIZES


def task_timeline(*, task, runs: list, page: str | None, size: str | None = None) -> TimelinePage:
    """One page of the task's timeline across its runs (`runs`: from `_timeline_runs`, oldest first).

    The total is the sum of each run's newest seq; the page is one query of one index range per
    run it touches, however many runs it spans. Both are read from the seqs as they were when the
    runs were read, so a row written meanwhile neither shifts the page nor makes the count wrong.
    Raises PageOutOfRange for a bad or missing page, or a page size that is not one of
    TIMELINE_SIZES."""
    from tasks.models import WorkstreamEvent

    per_page = _page_size(size)
    number = _page_number(page)
    total = sum(run.newest_seq or 0 for run in runs)
    pages = max(1, -(-total // per_page))
    if number > pages:
        raise PageOutOfRange(
            f"There is no page {number} of this timeline: it has {total:,} event{'' if total == 1 else 's'} "
            f"on {pages} page{'' if pages == 1 else 's'}.",
            malformed=False,
        )
    if total == 0:
        return TimelinePage(events=[], number=1, pages=1, total=0, first=0, last=0, size=per_page)
    last = total - (number - 1) * per_page
    first = max(1, last - per_page + 1)
    ranges = Q()
    order: dict[int, tuple[int, object]] = {}  # run id -> (its place, the run)
    before = 0  # events in earlier runs
    for place, run in enumerate(runs):
        n = run.newest_seq or 0
        lo, hi = max(first, before + 1) - before, min(last, before + n) - before  # seqs of this run shown
        before += n
        if hi < lo:
            continue
        ranges |= Q(run_id=run.pk, seq__gte=lo, seq__lte=hi)
        # The divider names the run: an unsaved TaskRun with its id is all it needs.
        order[run.pk] = (place, run if isinstance(run, TaskRun) else TaskRun(pk=run.pk, state=run.state))
    # One query for every run the page touches (a page of short runs touches many).
    events = sorted(WorkstreamEvent.objects.filter(ranges), key=lambda e: (order[e.run_id][0], e.seq))
    for event in events:
        event.run = order[event.run_id][1]  # the run divider names it without a query per row
    return TimelinePage(events=events, number=number, pages=pages, total=total, first=first, last=last, size=per_page)


@dataclass(frozen=True)
class TimelineRun:
    """What the timeline knows of a run: enough to place a page and name the run's divider."""

    pk: int
    state: str
    newest_seq: int

    @property
    def reference(self) -> str:
        return f"RUN-{self.pk:03d}"


def _timeline_runs(task) -> list[TimelineRun]:
    """Every run of the task with its newest seq, oldest first, as plain values (one light query,
    no model built per run)."""
    rows = (
        task.runs.annotate(newest_seq=Coalesce(Subquery(_newest_seq()), F("event_seq")))
        .order_by("created_at", "pk")
        .values_list("id", "state", "newest_seq")
    )
    return [TimelineRun(pk, state, newest or 0) for pk, state, newest in rows]


def _list_page(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


def task_record(
    *,
    owner,
    task,
    page: str | None = None,
    size: str | None = None,
    runs_page: str | None = None,
    changes_page: str | None = None,
) -> dict:
    """The full record of a task for its detail page: its newest runs (`runs_page` pages back),
    one page of the event timeline (page 1 = the newest events; `size` events a page, one of
    TIMELINE_SIZES), the approvals of the runs shown, the newest RECORD_LIST file changes and
    rollback points (`changes_page` pages back) and the results of its newest run (at most
    RECORD_ASSETS; the task's newest when that run filed none). The runs not in full
    (`runs_in_full`) are one line each. A fixed number of queries however
    many runs the task has. Raises PageOutOfRange for a timeline page that is not a number or
    does not exist, or a size that is not offered."""
    from outputs.selectors import asset_list_for_task
    from workspaces.models import FileChange, RollbackPoint

    timeline_runs = _timeline_runs(task)
    timeline = task_timeline(task=task, runs=timeline_runs, page=page, size=size)
    shown = task_runs_page(task=task, page=runs_page)
    full = runs_in_full(runs_page=shown)
    runs = [
        {**part, "full": part["run"].pk in full}
        for part in _runs_parts(owner=owner, runs=shown.runs, statuses=run_statuses(shown.runs))
    ]
    number = _list_page(changes_page)
    window = slice((number - 1) * RECORD_LIST, number * RECORD_LIST)
    changes = FileChange.objects.filter(run__task=task).select_related("run").order_by("-created_at", "-id")
    points = RollbackPoint.objects.filter(run__task=task, workspace__owner=owner)
    assets = asset_list_for_task(owner=owner, task=task)
    counts = {"changes": changes.count(), "points": points.count(), "assets": assets.count()}
    newest_results, assets_run = [], None
    for item in reversed(runs):
        latest = [asset for asset in item["assets"] if asset.is_latest]
        if item["full"] and latest:
            newest_results, assets_run = latest[-RECORD_ASSETS:], item["run"]
            break
    live = None
    if timeline.number == 1:
        working = next((r.pk for r in reversed(timeline_runs) if r.state not in TaskRun.TERMINAL_STATES), None)
        shown_runs = {run.pk: run for run in shown.runs}
        live = shown_runs.get(working) or (task.runs.filter(pk=working).first() if working else None)
    return {
        "record_runs": runs,
        "record_runs_page": shown,
        "timeline": timeline.events,
        "timeline_page": timeline,
        # The newest page follows a run that is still working (it refreshes itself; older pages
        # are history and stay still).
        "timeline_live_run": live,
        "record_approvals": [(r["run"], a) for r in runs for a in r["approvals"]],
        "record_changes": [(change.run, change) for change in changes[window]],
        "record_changes_page": number,
        "record_counts": counts,
        "record_has_earlier_changes": max(counts["changes"], counts["points"]) > number * RECORD_LIST,
        "rollback_points": list(points.select_related("workspace").order_by("-created_at", "-id")[window]),
        # The results of the newest run shown in full that has any (every one is in the library),
        # else the task's newest: as many cards for a task run a thousand times as for one run.
        "assets": newest_results or list(assets.order_by("-created_at")[:RECORD_ASSETS])[::-1],
        "assets_run": assets_run,
    }


def workspace_sidebar(*, owner, task=None) -> dict:
    """The left panel: memory summary, the thread's assets, the owner's workspaces."""
    from approvals.selectors import memory_counts_for
    from outputs.selectors import asset_list_for_task
    from workspaces.models import Workspace

    counts = memory_counts_for(owner=owner)
    return {
        "memory": {key: counts[key] for key in ("approvals", "formats", "styles", "clarifications", "empty")},
        "pending_approvals": counts["pending"],
        "thread_assets": list(asset_list_for_task(owner=owner, task=task)[:8]) if task is not None else [],
        "sidebar_workspaces": list(Workspace.objects.filter(owner=owner).order_by("name")[:8]),
    }
