"""Pages with long histories: the task record's timeline one page at a time, the thread's newest
rows with "Show earlier rows", the thread list on /command/ page by page — windows, navigation,
bad page numbers, ownership, and query counts that do not grow with the history."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers.contracts import ActionType
from tasks.engine.dispatch import run_create
from tasks.models import Task, WorkstreamEvent
from tasks.selectors import EARLIER_ROWS, THREAD_ROWS, THREADS_PAGE, TIMELINE_PAGE, TIMELINE_SIZES
from tasks.tests.engine_support import make_task, make_workspace, step

pytestmark = pytest.mark.django_db


def _run(owner, tmp_path, *, rows: int, task=None, name="site"):
    """A run whose workstream holds `rows` rows (seq 1 is the engine's own "queued" row)."""
    if task is None:
        ws = make_workspace(owner, tmp_path / name, name=name)
        task = make_task(owner, ws, [step("build", ActionType.RUN_COMMAND, "Build the site", command="echo built")])
    run = run_create(task=task)
    _add_rows(run, rows)
    return run


def _add_rows(run, upto: int) -> None:
    first = WorkstreamEvent.objects.filter(run=run).count() + 1
    WorkstreamEvent.objects.bulk_create(
        [
            WorkstreamEvent(run=run, seq=seq, kind="note", status="info", title=f"{run.reference} row {seq}")
            for seq in range(first, upto + 1)
        ]
    )
    run.__class__.objects.filter(pk=run.pk).update(event_seq=upto)


def _seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]


def _rows(html: str) -> list[tuple[int, int]]:
    """(run id, seq) of every row, in page order."""
    return [(int(r), int(s)) for r, s in re.findall(r'id="event-(\d+)-(\d+)"', html)]


# --- The task record's timeline -----------------------------------------------------------------


def test_the_record_shows_the_newest_page_says_which_range_and_links_to_earlier_pages(owner_client, owner, tmp_path):
    total = 2 * TIMELINE_PAGE + 10
    run = _run(owner, tmp_path, rows=total)
    url = f"/task/{run.task_id}/"

    newest = owner_client.get(url).content.decode()
    assert _seqs(newest) == list(range(TIMELINE_PAGE + 11, total + 1))
    assert f"Events {TIMELINE_PAGE + 11}–{total} of {total}" in newest
    assert "Page 1 of 3, newest first" in newest
    assert f'href="{url}?page=2#timeline"' in newest and "Earlier events" in newest
    assert "Newer events" not in newest
    # The replay steps through this page and names positions in the whole timeline.
    assert f'data-replay-first="{TIMELINE_PAGE + 11}" data-replay-total="{total}"' in newest

    middle = owner_client.get(url + "?page=2").content.decode()
    assert _seqs(middle) == list(range(11, TIMELINE_PAGE + 11))
    assert f"Events 11–{TIMELINE_PAGE + 10} of {total}" in middle
    assert f'href="{url}?page=3#timeline"' in middle and f'href="{url}?page=1#timeline"' in middle

    oldest = owner_client.get(url + "?page=3").content.decode()
    assert _seqs(oldest) == list(range(1, 11))
    assert "Earlier events" not in oldest and "Newer events" in oldest and "Newest events" in oldest


def test_a_longer_page_size_is_offered_and_kept_by_the_page_links(owner_client, owner, tmp_path):
    size = TIMELINE_SIZES[1]
    total = size + 7
    run = _run(owner, tmp_path, rows=total)
    url = f"/task/{run.task_id}/"
    default = owner_client.get(url).content.decode()
    assert (
        f'href="{url}?size={size}#timeline"' in default
        and f'<strong aria-current="true">{TIMELINE_PAGE}</strong>' in default
    )

    longer = owner_client.get(f"{url}?size={size}").content.decode()
    assert _seqs(longer) == list(range(8, total + 1))
    assert f"Events 8–{total} of {total}" in longer and "Page 1 of 2, newest first" in longer
    assert f'href="{url}?page=2&amp;size={size}#timeline"' in longer
    assert _seqs(owner_client.get(f"{url}?page=2&size={size}").content.decode()) == list(range(1, 8))

    refused = owner_client.get(f"{url}?size=100000")
    assert refused.status_code == 400
    sizes = ", ".join(str(n) for n in TIMELINE_SIZES[:-1]) + f" or {TIMELINE_SIZES[-1]}"
    assert f"“100000” is not a page size; pages show {sizes} events." in refused.content.decode()
    assert len(_seqs(refused.content.decode())) == TIMELINE_PAGE


def test_a_page_spanning_two_runs_keeps_their_order_and_names_each_run(owner_client, owner, tmp_path):
    first = _run(owner, tmp_path, rows=TIMELINE_PAGE + 10)
    second = _run(owner, tmp_path, rows=TIMELINE_PAGE - 5, task=first.task)
    total = 2 * TIMELINE_PAGE + 5
    html = owner_client.get(f"/task/{first.task_id}/").content.decode()
    # Page 1 is the newest TIMELINE_PAGE events: the last 5 of the first run, then all of the second.
    newest_of_first = list(range(TIMELINE_PAGE + 6, TIMELINE_PAGE + 11))
    assert _rows(html) == [(first.pk, s) for s in newest_of_first] + [
        (second.pk, s) for s in range(1, TIMELINE_PAGE - 4)
    ]
    dividers = re.findall(r"data-replay-divider>([^<]*)<", html)
    assert dividers == [first.reference, second.reference]
    assert f"Events {TIMELINE_PAGE + 6}–{total} of {total}" in html
    earlier = owner_client.get(f"/task/{first.task_id}/?page=2").content.decode()
    assert _rows(earlier) == [(first.pk, s) for s in range(6, TIMELINE_PAGE + 6)]
    assert re.findall(r"data-replay-divider>([^<]*)<", earlier) == [first.reference]


def test_a_short_timeline_is_one_page_without_navigation(owner_client, owner, tmp_path):
    run = _run(owner, tmp_path, rows=3)
    html = owner_client.get(f"/task/{run.task_id}/").content.decode()
    assert _seqs(html) == [1, 2, 3]
    assert "3 events" in html and "Earlier events" not in html and "Page 1 of" not in html


@pytest.mark.parametrize(
    ("page", "status", "message"),
    [
        ("abc", 400, "“abc” is not a page number; pages are whole numbers from 1."),
        ("0", 404, "There is no page 0; pages are numbered from 1."),
        ("-3", 404, "There is no page -3; pages are numbered from 1."),
        ("4", 404, f"There is no page 4 of this timeline: it has {2 * TIMELINE_PAGE + 1} events on 3 pages."),
    ],
)
def test_a_bad_page_number_says_what_is_wrong_and_shows_the_newest_page(
    owner_client, owner, tmp_path, page, status, message
):
    total = 2 * TIMELINE_PAGE + 1
    run = _run(owner, tmp_path, rows=total)
    response = owner_client.get(f"/task/{run.task_id}/?page={page}")
    html = response.content.decode()
    assert response.status_code == status
    assert message in html and "Showing the newest events." in html
    assert _seqs(html)[-1] == total


def test_a_page_of_the_timeline_loads_in_place_as_its_card_alone(owner_client, owner, tmp_path):
    run = _run(owner, tmp_path, rows=TIMELINE_PAGE + 5)
    response = owner_client.get(f"/task/{run.task_id}/?page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith("<section") and 'id="timeline"' in html and "<html" not in html
    assert _seqs(html) == [1, 2, 3, 4, 5]
    assert 'hx-target="#timeline"' in html and 'hx-swap="outerHTML"' in html


def test_another_users_record_pages_do_not_exist_for_them(other_client, owner, tmp_path):
    run = _run(owner, tmp_path, rows=TIMELINE_PAGE + 5)
    for url in (f"/task/{run.task_id}/", f"/task/{run.task_id}/?page=2", f"/task/{run.task_id}/?page=zz"):
        assert other_client.get(url).status_code == 404, url
    assert other_client.get(f"/run/{run.pk}/events/?before=50").status_code == 404


def test_the_records_queries_do_not_grow_with_its_history(owner_client, owner, tmp_path):
    short = _run(owner, tmp_path, rows=2 * TIMELINE_PAGE + 1, name="short")
    long = _run(owner, tmp_path, rows=200 * TIMELINE_PAGE, name="long")
    counts = []
    for run in (short, long):
        owner_client.get(f"/task/{run.task_id}/")  # warm the session and caches alike
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(f"/task/{run.task_id}/?page=2").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- The thread: newest rows, "Show earlier rows" -----------------------------------------------


def test_the_thread_shows_the_newest_rows_and_a_way_to_the_earlier_ones(owner_client, owner, tmp_path):
    total = THREAD_ROWS + EARLIER_ROWS + 10
    run = _run(owner, tmp_path, rows=total)
    html = owner_client.get(f"/command/{run.task_id}/").content.decode()
    assert _seqs(html) == list(range(total - THREAD_ROWS + 1, total + 1))
    earlier = total - THREAD_ROWS
    assert f"{earlier} earlier rows · all of them in" in html
    assert f'hx-get="/run/{run.pk}/events/"' in html and f'data-cursor-before="{run.pk}"' in html
    assert f'hx-target="#workstream-{run.pk}" hx-swap="afterbegin"' in html
    # Without JavaScript the same control is a link to the full record.
    assert f'href="/task/{run.task_id}/#timeline" data-earlier-rows="{run.pk}"' in html


def test_show_earlier_rows_returns_the_rows_before_the_first_one_in_order_then_stops(owner_client, owner, tmp_path):
    total = THREAD_ROWS + EARLIER_ROWS + 10
    run = _run(owner, tmp_path, rows=total)
    first_shown = total - THREAD_ROWS + 1
    shown = list(range(first_shown, total + 1))

    part = owner_client.get(f"/run/{run.pk}/events/?before={first_shown}").content.decode()
    rows = _seqs(part)
    assert rows == list(range(first_shown - EARLIER_ROWS, first_shown))
    assert f'<div id="earlier-{run.pk}" class="thread-earlier" hx-swap-oob="true">' in part
    assert "10 earlier rows" in part and "Show earlier rows" in part
    shown = rows + shown

    last = owner_client.get(f"/run/{run.pk}/events/?before={shown[0]}").content.decode()
    shown = _seqs(last) + shown
    # Prepending both answers gives every row once, in order, and nothing earlier is offered.
    assert shown == list(range(1, total + 1))
    assert "Show earlier rows" not in last and f'<div id="earlier-{run.pk}"' in last
    assert _seqs(owner_client.get(f"/run/{run.pk}/events/?before=1").content.decode()) == []


def test_show_earlier_rows_refuses_a_before_that_is_not_a_seq(owner_client, owner, tmp_path):
    run = _run(owner, tmp_path, rows=5)
    response = owner_client.get(f"/run/{run.pk}/events/?before=latest")
    assert response.status_code == 400
    assert "must be the seq of a row" in response.content.decode()


def test_a_short_thread_has_no_earlier_rows_control(owner_client, owner, tmp_path):
    run = _run(owner, tmp_path, rows=4)
    html = owner_client.get(f"/command/{run.task_id}/").content.decode()
    assert _seqs(html) == [1, 2, 3, 4]
    assert "Show earlier rows" not in html and f'<div id="earlier-{run.pk}" class="thread-earlier"></div>' in html


def test_the_threads_queries_do_not_grow_with_its_history(owner_client, owner, tmp_path):
    short = _run(owner, tmp_path, rows=THREAD_ROWS + 1, name="short")
    long = _run(owner, tmp_path, rows=50 * THREAD_ROWS, name="long")
    counts, earlier = [], []
    for run in (short, long):
        owner_client.get(f"/command/{run.task_id}/")
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(f"/command/{run.task_id}/").status_code == 200
        counts.append(len(queries))
        with CaptureQueriesContext(connection) as queries:
            owner_client.get(f"/run/{run.pk}/events/?before={THREAD_ROWS}")
        earlier.append(len(queries))
    assert counts[0] == counts[1]
    assert earlier[0] == earlier[1]


# --- /command/: the thread list page by page ----------------------------------------------------


def test_the_thread_list_pages_through_every_thread_newest_first(owner_client, owner):
    total = 2 * THREADS_PAGE + 3
    for i in range(total):
        Task.objects.create(owner=owner, raw_prompt=f"request {i}", title=f"Request number {i:02d}")
    first = owner_client.get("/command/").content.decode()
    titles = re.findall(r'<span class="task-title">Request number (\d+)</span>', first)
    assert titles == [f"{i:02d}" for i in range(total - 1, total - 1 - THREADS_PAGE, -1)]
    assert f"Threads 1–{THREADS_PAGE} of {total}, newest first" in first
    assert 'href="/command/?page=2#threads"' in first and "Older threads" in first and "Newer threads" not in first

    seen = list(titles)
    for page in (2, 3):
        html = owner_client.get(f"/command/?page={page}").content.decode()
        seen += re.findall(r'<span class="task-title">Request number (\d+)</span>', html)
    assert sorted(seen) == sorted(f"{i:02d}" for i in range(total)) and len(seen) == total
    last = owner_client.get("/command/?page=3").content.decode()
    assert "Newer threads" in last and "Older threads" not in last


def test_the_thread_list_says_when_a_page_does_not_exist(owner_client, owner):
    for i in range(THREADS_PAGE + 1):
        Task.objects.create(owner=owner, raw_prompt=f"request {i}", title=f"Request {i}")
    missing = owner_client.get("/command/?page=9")
    assert missing.status_code == 404
    assert "There is no page 9 of threads: there are 2 pages." in missing.content.decode()
    malformed = owner_client.get("/command/?page=two")
    assert malformed.status_code == 400 and "“two” is not a page number" in malformed.content.decode()


def test_the_thread_list_loads_in_place_and_keeps_other_peoples_threads_out(owner_client, owner, other_user):
    Task.objects.create(owner=other_user, raw_prompt="theirs", title="Their secret request")
    for i in range(THREADS_PAGE + 2):
        Task.objects.create(owner=owner, raw_prompt=f"request {i}", title=f"Mine {i}")
    part = owner_client.get("/command/?page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="threads").content.decode()
    assert part.lstrip().startswith("{#") is False and '<section id="threads"' in part and "<html" not in part
    assert "Mine 0" in part and "Mine 1" in part and "Their secret request" not in part
    assert "Their secret request" not in owner_client.get("/command/").content.decode()


def test_no_threads_yet_is_said_plainly(owner_client):
    html = owner_client.get("/command/").content.decode()
    assert "No threads yet. Your first request starts one." in html and "Older threads" not in html


# --- The row's clock ----------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
def test_the_rows_clock_reads_like_the_time_filter_in_the_display_time_zone(settings, zone):
    from datetime import UTC, datetime

    from django.template import engines
    from django.utils import timezone

    settings.TIME_ZONE = zone
    moment = datetime(2026, 3, 29, 0, 30, 5, tzinfo=UTC)
    engine = engines["django"]
    with timezone.override(zone):
        ours = engine.from_string("{% load workstream %}{{ t|clock }}").render({"t": moment})
        django = engine.from_string('{{ t|time:"H:i:s" }}').render({"t": moment})
    assert ours == django == timezone.localtime(moment, timezone.get_current_timezone()).strftime("%H:%M:%S")
    assert engine.from_string("{% load workstream %}[{{ t|clock }}]").render({"t": None}) == "[]"


def test_a_settled_card_keeps_the_rows_the_page_already_shows(owner_client, owner, tmp_path):
    total = THREAD_ROWS + EARLIER_ROWS + 10
    run = _run(owner, tmp_path, rows=total)
    # The page had loaded earlier rows down to seq 11 when the run finished.
    html = owner_client.get(f"/command/{run.task_id}/?rows_of={run.pk}&rows_from=11").content.decode()
    card = html.split(f'id="run-{run.pk}"', 1)[1]
    assert _seqs(card) == list(range(11, total + 1))
    assert "10 earlier rows" in card
    # No rows on the page (rows_from=0): the usual newest window.
    html = owner_client.get(f"/command/{run.task_id}/?rows_of={run.pk}&rows_from=0").content.decode()
    assert _seqs(html) == list(range(total - THREAD_ROWS + 1, total + 1))
    bad = owner_client.get(f"/command/{run.task_id}/?rows_of=x&rows_from=3")
    assert bad.status_code == 400 and "must be a run id and the seq of a row" in bad.content.decode()


def test_the_finished_runs_refresh_asks_to_keep_the_pages_rows(owner, tmp_path):
    from tasks import realtime

    run = _run(owner, tmp_path, rows=3)
    run.__class__.objects.filter(pk=run.pk).update(state="completed", finished_at=run.created_at)
    events = list(WorkstreamEvent.objects.filter(run=run).order_by("seq"))
    html = realtime.render_rows_oob(run_id=run.pk, events=events).html
    assert f'data-rows-of="{run.pk}"' in html


def test_the_newest_timeline_page_follows_a_working_run_and_older_pages_stay_still(owner_client, owner, tmp_path):
    from tasks.models import TaskRun

    run = _run(owner, tmp_path, rows=TIMELINE_PAGE + 5)
    url = f"/task/{run.task_id}/"
    TaskRun.objects.filter(pk=run.pk).update(state=TaskRun.State.RUNNING)
    newest = owner_client.get(url).content.decode()
    live = 'hx-trigger="every 4s" data-poll-if="timeline-idle"'
    assert live in newest
    assert f"{run.reference} is running: this page shows its new events as they are recorded." in newest
    # Its own refresh answers the card alone, still live.
    card = owner_client.get(f"{url}?page=1", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline").content.decode()
    assert "<html" not in card and 'id="timeline"' in card and live in card
    older = owner_client.get(f"{url}?page=2").content.decode()
    assert live not in older and "data-timeline-live" not in older

    TaskRun.objects.filter(pk=run.pk).update(state=TaskRun.State.COMPLETED)
    settled = owner_client.get(url).content.decode()
    assert live not in settled and "data-timeline-live" not in settled


# --- Many runs of one task: the newest on the page, "Earlier runs" for the rest -------------------


def _runs_of_one_task(owner, tmp_path, n: int, name: str):
    """`n` runs of one task, each with a few rows and a recorded file change."""
    from workspaces.models import Actor, FileChange

    first = _run(owner, tmp_path, rows=3, name=name)
    runs = [first] + [_run(owner, tmp_path, rows=3, task=first.task) for _ in range(n - 1)]
    FileChange.objects.bulk_create(
        [
            FileChange(
                workspace=first.workspace,
                run=run,
                path=f"pages/{run.pk}.html",
                change_type="created",
                summary=f"Created pages/{run.pk}.html (1 line)",
                actor=Actor.STEP,
            )
            for run in runs
        ]
    )
    return runs


def test_the_thread_and_the_record_make_as_many_queries_for_40_runs_as_for_the_few_they_show(
    owner_client, owner, tmp_path, django_assert_max_num_queries
):
    from tasks.selectors import RUNS_SHOWN

    one = _runs_of_one_task(owner, tmp_path, RUNS_SHOWN, "few")[0].task_id
    many = _runs_of_one_task(owner, tmp_path, 40, "many")[-1].task_id
    for page in ("/command/{}/", "/task/{}/"):
        owner_client.get(page.format(one))  # warm the session alike
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(page.format(one)).status_code == 200
        with django_assert_max_num_queries(len(queries)):
            html = owner_client.get(page.format(many)).content.decode()
        shown = {int(r) for r, _ in _rows(html)} if page.startswith("/command/") else None
        if shown is not None:
            assert len(shown) == RUNS_SHOWN, "the thread shows the newest runs only"


def test_earlier_runs_page_back_through_every_run_of_the_task(owner_client, owner, tmp_path):
    from tasks.selectors import RUNS_SHOWN

    runs = _runs_of_one_task(owner, tmp_path, RUNS_SHOWN + 3, "pager")
    task_id = runs[0].task_id
    newest = owner_client.get(f"/command/{task_id}/").content.decode()
    assert {r for r, _ in _rows(newest)} == {run.pk for run in runs[3:]}
    assert "Earlier runs (3 more)" in newest and "?runs=2" in newest
    earlier = owner_client.get(f"/command/{task_id}/?runs=2").content.decode()
    assert {r for r, _ in _rows(earlier)} == {run.pk for run in runs[:3]}
    assert "Earlier runs" not in earlier and "Newer runs" in earlier
    record = owner_client.get(f"/task/{task_id}/").content.decode()
    assert f"Showing {RUNS_SHOWN} of {RUNS_SHOWN + 3} runs" in record and "?runs=2#record-runs-title" in record
    assert (
        runs[0].reference
        not in owner_client.get(f"/task/{task_id}/?runs=1&page=99")
        .content.decode()
        .split("record-runs-title")[1]
        .split("timeline")[0]
    )


def test_the_records_changes_list_pages_back_through_every_change(owner_client, owner, tmp_path):
    from tasks.selectors import RECORD_LIST
    from workspaces.models import Actor, FileChange

    run = _run(owner, tmp_path, rows=3, name="changes")
    FileChange.objects.bulk_create(
        [
            FileChange(
                workspace=run.workspace,
                run=run,
                path=f"pages/p{i:03d}.html",
                change_type="created",
                summary=f"Created pages/p{i:03d}.html (1 line)",
                actor=Actor.STEP,
            )
            for i in range(RECORD_LIST + 5)
        ]
    )

    def paths(html: str) -> set[str]:
        return set(re.findall(r"<code>(pages/p\d{3}\.html)</code>", html))

    newest = owner_client.get(f"/task/{run.task_id}/").content.decode()
    earlier = owner_client.get(f"/task/{run.task_id}/?changes=2").content.decode()
    assert len(paths(newest)) == RECORD_LIST and len(paths(earlier)) == 5
    assert paths(newest) | paths(earlier) == {f"pages/p{i:03d}.html" for i in range(RECORD_LIST + 5)}
    assert f"{RECORD_LIST + 5} changes" in newest and "?changes=2#record-changes-title" in newest
    assert "?changes=1#record-changes-title" in earlier


# --- A task run many times: the newest run in full, earlier runs one line each --------------------


def _finished_runs_of_one_task(owner, tmp_path, n: int, name: str, *, results: int = 0):
    """`n` finished runs of one task; the newest `results` runs filed one result each."""
    from django.utils import timezone

    from outputs.models import OutputAsset
    from tasks.models import TaskRun

    runs = _runs_of_one_task(owner, tmp_path, n, name)
    done = {"state": TaskRun.State.COMPLETED, "finished_at": timezone.now()}
    TaskRun.objects.filter(pk__in=[r.pk for r in runs]).update(**done)
    OutputAsset.objects.bulk_create(
        [
            OutputAsset(
                owner=owner,
                category="document",
                title=f"Proposal {run.pk}",
                deliverable_key=f"proposal-{run.pk}",
                mime_type="application/pdf",
                size=1000,
                sha256="0" * 64,
                file=f"assets/test/{run.pk}.pdf",
                task=run.task,
                run=run,
                workspace=run.workspace,
            )
            for run in runs[-results:]
            if results
        ]
    )
    return [TaskRun.objects.get(pk=r.pk) for r in runs]


def _run_lines(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<p id="run-(\d+)" class="run-line', html)]


def _full_runs(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article id="run-(\d+)" class="thread-run', html)]


def test_the_newest_run_is_in_full_and_earlier_runs_are_one_line_each_with_a_link(owner_client, owner, tmp_path):
    from tasks.models import TaskRun
    from tasks.selectors import RUNS_SHOWN

    runs = _finished_runs_of_one_task(owner, tmp_path, RUNS_SHOWN + 2, "lines")
    task_id = runs[0].task_id
    html = owner_client.get(f"/command/{task_id}/").content.decode()
    assert _full_runs(html) == [runs[-1].pk]
    assert {r for r, _ in _rows(html)} == {runs[-1].pk}, "only the run in full reads its rows"
    assert _run_lines(html) == [r.pk for r in runs[-RUNS_SHOWN:-1]]
    line = html.split(f'<p id="run-{runs[-2].pk}"')[1].split("</p>")[0]
    assert runs[-2].reference in line and "Completed" in line and "finished" in line
    assert f"?run={runs[-2].pk}#run-{runs[-2].pk}" in line
    # The line's link opens that run in full, rows and all; on an earlier page every run is a line.
    opened = owner_client.get(f"/command/{task_id}/?run={runs[-2].pk}").content.decode()
    assert _full_runs(opened) == [runs[-2].pk, runs[-1].pk]
    earlier = owner_client.get(f"/command/{task_id}/?runs=2").content.decode()
    assert _full_runs(earlier) == [] and _run_lines(earlier) == [r.pk for r in runs[:2]]
    assert f"?runs=2&amp;run={runs[0].pk}#run-{runs[0].pk}" in earlier
    # A run still under way stays in full (its card is live), wherever it is on the page.
    TaskRun.objects.filter(pk=runs[-3].pk).update(state=TaskRun.State.PAUSED, finished_at=None)
    assert _full_runs(owner_client.get(f"/command/{task_id}/").content.decode()) == [runs[-3].pk, runs[-1].pk]
    # The record lists the same way: one run card, the others as lines.
    record = owner_client.get(f"/task/{task_id}/").content.decode()
    assert record.count('class="card run-status"') == 2 and len(_run_lines(record)) == RUNS_SHOWN - 2


def test_a_task_run_many_times_shows_as_much_as_a_task_run_once(owner_client, owner, tmp_path):
    """The thread, the record and the switcher of a task run 40 times with 40 results show what
    those of a task run once with one result show (one run in full, its results, one switcher
    line), plus one line per earlier run, with no more queries."""
    from tasks.selectors import RUNS_SHOWN

    one = _finished_runs_of_one_task(owner, tmp_path, 1, "once", results=1)[-1]
    many = _finished_runs_of_one_task(owner, tmp_path, 40, "again", results=40)[-1]
    for page in ("/command/{}/", "/task/{}/"):
        owner_client.get(page.format(one.task_id))  # warm the session alike
        with CaptureQueriesContext(connection) as queries:
            once = owner_client.get(page.format(one.task_id)).content.decode()
        with CaptureQueriesContext(connection) as queries_many:
            again = owner_client.get(page.format(many.task_id)).content.decode()
        assert len(queries_many) <= len(queries), page
        cards = 'class="card result-card'
        assert once.count(cards) == again.count(cards) >= 1, page
        assert len(_run_lines(once)) == 0 and len(_run_lines(again)) == RUNS_SHOWN - 1
        if page.startswith("/command/"):
            switcher = again.split('id="task-switcher"')[1].split("</section>")[0]
            assert switcher.count('class="switcher-entry') == 2, "one line per task, its newest finished run"
            assert f'id="switcher-run-{many.pk}"' in switcher and f'id="switcher-run-{one.pk}"' in switcher
    record = owner_client.get(f"/task/{many.task_id}/").content.decode()
    assert f"The results of {many.reference}; all 40 results of this task are in" in record


def test_the_library_the_record_links_to_pages_through_every_result(owner_client, owner, tmp_path):
    from outputs.views import PAGE_SIZE

    runs = _finished_runs_of_one_task(owner, tmp_path, PAGE_SIZE + 3, "library", results=PAGE_SIZE + 3)
    record = owner_client.get(f"/task/{runs[0].task_id}/").content.decode()
    assert f'all {PAGE_SIZE + 3} results of this task are in <a href="/assets/">' in record
    titles = set()
    for page in (1, 2):
        html = owner_client.get("/assets/", {"page": page}).content.decode()
        titles |= set(re.findall(r"Proposal \d+", html))
        assert f"Page {page} of 2" in html
    assert titles == {f"Proposal {run.pk}" for run in runs}
