"""Reads for a task's thread and record: the task itself, each run with its rows, approvals,
changes and results, the task record's timeline one page at a time, and the operator
workspace's left panel.

History must not slow a page: no read here loads a run's whole workstream. The thread shows each
run's newest rows (older ones a click away), the record shows one page of its timeline, and the
counts the pages print come from COUNT queries, never from loading rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import Count, Max, QuerySet
from django.shortcuts import get_object_or_404

from tasks.models import Task
from tasks.selectors.runs import run_status, run_steps

# Newest workstream rows per run on the thread page, and how many "Show earlier rows" adds.
THREAD_ROWS = 30
EARLIER_ROWS = 50
# Events per page of the task record's timeline.
TIMELINE_PAGE = 100
# Threads per page of /command/.
THREADS_PAGE = 12


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
    """The run's newest `limit` rows, oldest first, and how many earlier rows there are (a COUNT,
    asked only when the window is full)."""
    from tasks.models import WorkstreamEvent

    rows = list(WorkstreamEvent.objects.filter(run=run).order_by("-seq")[:limit])
    rows.reverse()
    earlier = 0
    if rows and len(rows) == limit:
        earlier = WorkstreamEvent.objects.filter(run=run, seq__lt=rows[0].seq).count()
    return rows, earlier


def run_rows_before(*, run, before: int, limit: int = EARLIER_ROWS) -> tuple[list, int]:
    """The `limit` rows just before seq `before`, oldest first, and how many rows are still earlier
    than those: what "Show earlier rows" prepends, never a row the page already has."""
    from tasks.models import WorkstreamEvent

    rows = list(WorkstreamEvent.objects.filter(run=run, seq__lt=before).order_by("-seq")[:limit])
    rows.reverse()
    earlier = 0
    if rows and len(rows) == limit:
        earlier = WorkstreamEvent.objects.filter(run=run, seq__lt=rows[0].seq).count()
    return rows, earlier


# --- The thread and the record -----------------------------------------------------------------


def _run_parts(*, owner, run) -> dict:
    """What the thread and the record show about one run, apart from its rows."""
    from approvals.selectors import approvals_for_run
    from outputs.selectors import asset_list_for_run
    from workspaces.models import FileChange

    return {
        "status": run_status(run=run),
        "run": run,
        "steps": run_steps(run=run),
        "approvals": list(approvals_for_run(owner=owner, run_id=run.pk).order_by("created_at")),
        "changes": list(FileChange.objects.filter(run=run).order_by("created_at", "id")),
        "assets": list(asset_list_for_run(owner=owner, run=run)),
    }


def _task_runs(task):
    return list(task.runs.select_related("workspace", "task").order_by("created_at", "pk"))


def thread_runs(*, owner, task, limit_rows: int = THREAD_ROWS) -> list[dict]:
    """Each run of the task, oldest first, with what the thread shows under it: its status, steps,
    its newest `limit_rows` workstream rows (and how many earlier rows there are), approvals,
    file changes and results. The cost does not grow with a run's history."""
    runs = []
    for run in _task_runs(task):
        events, earlier = run_rows_newest(run=run, limit=limit_rows)
        runs.append({**_run_parts(owner=owner, run=run), "events": events, "earlier_rows": earlier})
    return runs


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


def task_timeline(*, task, runs: list, page: str | None, per_page: int = TIMELINE_PAGE) -> TimelinePage:
    """One page of the task's timeline across its runs (`runs`: the task's runs, oldest first).

    Counting is one grouped COUNT; reading is at most one bounded query per run the page touches.
    Each run's count and newest seq are read together, so a row written meanwhile neither shifts
    the page nor makes the count wrong. Raises PageOutOfRange for a bad or missing page."""
    from tasks.models import WorkstreamEvent

    number = _page_number(page)
    stats = {
        row["run_id"]: (row["n"], row["last"])
        for row in WorkstreamEvent.objects.filter(run__task=task)
        .values("run_id")
        .annotate(n=Count("id"), last=Max("seq"))
        .order_by()
    }
    total = sum(n for n, _ in stats.values())
    pages = max(1, -(-total // per_page))
    if number > pages:
        raise PageOutOfRange(
            f"There is no page {number} of this timeline: it has {total:,} event{'' if total == 1 else 's'} "
            f"on {pages} page{'' if pages == 1 else 's'}.",
            malformed=False,
        )
    if total == 0:
        return TimelinePage(events=[], number=1, pages=1, total=0, first=0, last=0)
    last = total - (number - 1) * per_page
    first = max(1, last - per_page + 1)
    events = []
    before = 0  # events in earlier runs
    for run in runs:
        n, newest_seq = stats.get(run.pk, (0, 0))
        lo, hi = max(first, before + 1) - before - 1, min(last, before + n) - before  # [lo, hi) in this run
        before += n
        if hi <= lo:
            continue
        rows = WorkstreamEvent.objects.filter(run=run, seq__lte=newest_seq)
        if lo < n - hi:
            part = list(rows.order_by("seq")[lo:hi])
        else:  # nearer the newest end: read backwards so no long OFFSET is scanned
            part = list(rows.order_by("-seq")[n - hi : n - lo])
            part.reverse()
        for event in part:
            event.run = run  # the run divider names it without a query per row
        events.extend(part)
    return TimelinePage(events=events, number=number, pages=pages, total=total, first=first, last=last)


def task_record(*, owner, task, page: str | None = None) -> dict:
    """The full record of a task for its detail page: runs, one page of the event timeline
    (page 1 = the newest events), approvals, changes, rollback points and outputs. Raises
    PageOutOfRange for a timeline page that is not a number or does not exist."""
    from outputs.selectors import asset_list_for_task
    from workspaces.models import RollbackPoint

    task_runs = _task_runs(task)
    timeline = task_timeline(task=task, runs=task_runs, page=page)
    runs = [_run_parts(owner=owner, run=run) for run in task_runs]
    run_ids = [run.pk for run in task_runs]
    return {
        "record_runs": runs,
        "timeline": timeline.events,
        "timeline_page": timeline,
        "record_approvals": [(r["run"], a) for r in runs for a in r["approvals"]],
        "record_changes": [(r["run"], c) for r in runs for c in r["changes"]],
        "rollback_points": list(
            RollbackPoint.objects.filter(run_id__in=run_ids, workspace__owner=owner)
            .select_related("workspace")
            .order_by("created_at")
        ),
        "assets": list(asset_list_for_task(owner=owner, task=task)),
    }


def workspace_sidebar(*, owner, task=None) -> dict:
    """The left panel: memory summary, the thread's assets, the owner's workspaces."""
    from approvals.selectors import approvals_pending_count, memory_for_owner
    from outputs.selectors import asset_list_for_task
    from workspaces.models import Workspace

    memory = memory_for_owner(owner=owner)
    return {
        "memory": {
            "approvals": len(memory.approvals),
            "formats": len(memory.formats),
            "styles": len(memory.styles),
            "clarifications": len(memory.clarifications),
            "empty": memory.is_empty,
        },
        "pending_approvals": approvals_pending_count(owner=owner),
        "thread_assets": list(asset_list_for_task(owner=owner, task=task)[:8]) if task is not None else [],
        "sidebar_workspaces": list(Workspace.objects.filter(owner=owner).order_by("name")[:8]),
    }
