"""Server time of Command's pages, measured in-process with Django's test client (no network):

    python -m bench.pages submit   # POST a request → understanding + plan stored and the thread rendered
    python -m bench.pages pages    # task, thread and workspace pages with a 10,000-event run and 500 tasks,
                                   # and the thread and task pages of a task run 1,000 times with 200 results

`submit` follows the redirect, so the figure covers storing the request, the built-in planner,
starting the run and rendering the thread with its understanding and plan. Baseline: the page
the request is typed on (GET /), in the same process.

`pages` compares the same pages for an operator with 500 tasks whose latest run has 10,000
events against an operator with one task whose run has 10 events: history must not slow the
page (target ≤ 1.2×). The run-events partial is timed as the page really calls it: with the
cursor the rendered thread page holds (its last row's seq, what `window.commandLastSeq` reads)
after NEW_ROWS more rows were written, so each call returns those new rows. The note also gives
the partial from cursor 0 (a page that has no rows yet), which answers one bounded batch.
Requests to the three operators' pages take turns (big, small, mid, big, …), so load on the
shared machine falls on both sides of each ratio alike.
"""

from __future__ import annotations

import re
import sys
import time

from bench.harness import emit, figure, make_run, make_user, percentile, setup_django

PROMPT = "creat a premium B2B landng page for Acme Analytics + a pdf proposal"
# Rows written after the thread page was rendered, before the polling fallback asks for them
# (≈ what a busy run writes between two polls 3 s apart).
NEW_ROWS = 5


def _time(client, method: str, url: str, n: int, warmup: int = 3, **kwargs) -> list[float]:
    call = getattr(client, method)
    for _ in range(warmup):
        call(url, **kwargs)
    values = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = call(url, **kwargs)
        values.append((time.perf_counter() - t0) * 1000)
        if response.status_code >= 400:
            raise RuntimeError(f"{method.upper()} {url} answered {response.status_code}")
    return values


def _time_interleaved(calls: dict[str, tuple], n: int, warmup: int = 3) -> dict[str, list[float]]:
    """`_time` for several (client, url) pairs taking turns, request by request: on a shared,
    loaded machine a burst of load then lands on every side of a comparison alike, instead of on
    whichever side happened to be timed during it."""
    for client, url in calls.values():
        for _ in range(warmup):
            client.get(url)
    values: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, (client, url) in calls.items():
            t0 = time.perf_counter()
            response = client.get(url)
            values[name].append((time.perf_counter() - t0) * 1000)
            if response.status_code >= 400:
                raise RuntimeError(f"GET {url} answered {response.status_code}")
    return values


def submit(n: int = 60) -> list[dict]:
    setup_django()
    from django.test import Client

    from tasks.models import PlanRevision, Task

    owner = make_user()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(owner)
    data = {"prompt": PROMPT, "mode": "create", "expertise": "new", "tone": "mixed"}
    base = _time(client, "get", "/", n)
    before = Task.objects.filter(owner=owner).count()
    values = []
    for i in range(n + 3):
        t0 = time.perf_counter()
        response = client.post("/", data, follow=True)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200 or b"Acme" not in response.content:
            raise RuntimeError(f"submit answered {response.status_code}")
        if i >= 3:
            values.append(elapsed)
    tasks = Task.objects.filter(owner=owner).count() - before
    planned = PlanRevision.objects.filter(task__owner=owner).values("task").distinct().count()
    p95, b95 = percentile(values, 95), percentile(base, 95)
    return [
        figure(
            "submit",
            "submit to plan p95 (POST → understanding + plan stored → thread rendered)",
            p95,
            "ms",
            baseline=b95,
            baseline_name="GET / (the request form) p95",
            target="≤ 150 ms",
            met=p95 <= 150 and planned == tasks,
            note=f"{tasks} requests, {planned} with a stored plan; p50 {percentile(values, 50):.0f} ms; "
            "built-in planner",
        )
    ]


def _history(run, first: int, last: int) -> None:
    from django.utils import timezone

    from tasks.models import WorkstreamEvent

    now = timezone.now()
    WorkstreamEvent.objects.bulk_create(
        [
            WorkstreamEvent(
                run=run,
                seq=i,
                kind="step.progress",
                phase="execute",
                status="info",
                title=f"Event {i}",
                explanation="History for the pages benchmark.",
                step_id="s1",
                created_at=now,
            )
            for i in range(first, last + 1)
        ],
        batch_size=2000,
    )
    run.event_seq = last
    run.save(update_fields=["event_seq"])


def _page_cursor(client, operator) -> int:
    """The cursor the thread page holds for the run: the largest data-seq in its workstream list
    (what window.commandLastSeq reads before each poll)."""
    from django.urls import reverse

    _, _, task, run = operator
    html = client.get(reverse("tasks:command_task", args=[task.pk])).content.decode()
    listing = html.split(f'id="workstream-{run.pk}"', 1)[1].split("</ol>", 1)[0]
    return max(int(seq) for seq in re.findall(r'data-seq="(\d+)"', listing))


def _operator(name: str, *, tasks: int, events: int):
    from tasks.models import Task
    from workspaces.services import workspace_create

    owner = make_user(name)
    workspace = workspace_create(owner=owner, name=f"{name} site")
    Task.objects.bulk_create(
        [
            Task(owner=owner, raw_prompt=f"older request {i}", title=f"Older request {i}", workspace=workspace)
            for i in range(tasks - 1)
        ]
    )
    task, run = make_run(owner, workspace=workspace, title="The long run")
    _history(run, 1, events)
    return owner, workspace, task, run


def _task_with_runs(name: str, *, runs: int, assets: int):
    """An operator with one task run `runs` times (each run finished, with one step and three
    rows) and `assets` results filed by its newest runs."""
    from django.utils import timezone

    from outputs.models import OutputAsset
    from tasks.models import StepExecution, TaskRun, WorkstreamEvent
    from workspaces.services import workspace_create

    owner = make_user(name)
    workspace = workspace_create(owner=owner, name=f"{name} site")
    task, first = make_run(owner, workspace=workspace, title="The task run again and again")
    now = timezone.now()
    done = {"state": TaskRun.State.COMPLETED, "event_seq": 3, "started_at": now, "finished_at": now}
    TaskRun.objects.filter(pk=first.pk).update(**done)
    TaskRun.objects.bulk_create(
        [
            TaskRun(
                task=task, owner=owner, plan_revision=first.plan_revision, workspace=workspace, mutates=False, **done
            )
            for _ in range(runs - 1)
        ],
        batch_size=500,
    )
    all_runs = list(TaskRun.objects.filter(task=task).order_by("pk"))
    StepExecution.objects.bulk_create(
        [
            StepExecution(
                run=run,
                step_id="s1",
                position=10,
                action_type="read_file",
                title="Step 1",
                idempotency_key=f"run-{run.pk}:s1",
                status="succeeded",
                attempts=1,
            )
            for run in all_runs
        ],
        batch_size=1000,
    )
    WorkstreamEvent.objects.bulk_create(
        [
            WorkstreamEvent(run=run, seq=seq, attempt=1, kind="note", status="info", title=f"{run.reference} row {seq}")
            for run in all_runs
            for seq in (1, 2, 3)
        ],
        batch_size=2000,
    )
    OutputAsset.objects.bulk_create(
        [
            OutputAsset(
                owner=owner,
                category="document",
                title=f"Proposal {i}",
                deliverable_key=f"proposal-{i}",
                mime_type="application/pdf",
                size=1000,
                sha256="0" * 64,
                file=f"assets/bench/{i}.pdf",
                verification={"checks": [{"name": "opens", "passed": True}]},
                task=task,
                run=run,
                workspace=workspace,
            )
            for i, run in enumerate(all_runs[-assets:])
        ]
    )
    return owner, task


def many_runs(n: int = 60) -> list[dict]:
    """The thread and the record of a task run 1,000 times with 200 results, against the same
    pages of a task run once with one result (target ≤ 1.2×), requests taking turns."""
    from django.test import Client
    from django.urls import reverse

    sides = {
        "many": _task_with_runs("runs-many", runs=1000, assets=200),
        "one": _task_with_runs("runs-one", runs=1, assets=1),
    }
    clients = {}
    for name, (owner, _task) in sides.items():
        clients[name] = Client(HTTP_HOST="127.0.0.1")
        clients[name].force_login(owner)
    out = []
    for label, view in (("thread page (/command/<task>/)", "tasks:command_task"), ("task page", "tasks:detail")):
        # Cold first: the first request of each page after the data was written, as a user meets it.
        cold = {}
        for name, (_owner, task) in sides.items():
            t0 = time.perf_counter()
            clients[name].get(reverse(view, args=[task.pk]))
            cold[name] = (time.perf_counter() - t0) * 1000
        timings = _time_interleaved(
            {name: (clients[name], reverse(view, args=[t.pk])) for name, (_o, t) in sides.items()}, n
        )
        p95, b95 = percentile(timings["many"], 95), percentile(timings["one"], 95)
        out.append(
            figure(
                "pages",
                f"{label} p95, a task run 1,000 times with 200 results",
                p95,
                "ms",
                baseline=b95,
                baseline_name="same page, the task run once with 1 result",
                target="≤ 1.2× baseline",
                met=p95 <= 1.2 * b95,
                note=f"p50 {percentile(timings['many'], 50):.0f} vs {percentile(timings['one'], 50):.0f} ms; "
                f"first request (cold) {cold['many']:.0f} vs {cold['one']:.0f} ms",
            )
        )
    return out


def pages(n: int = 120) -> list[dict]:
    setup_django()
    from django.test import Client
    from django.urls import reverse

    big = _operator("big", tasks=500, events=10_000)
    small = _operator("small", tasks=1, events=10)
    # Separates the two kinds of history: many tasks but a short run.
    mid = _operator("mid", tasks=500, events=10)
    operators = (("big", big), ("small", small), ("mid", mid))
    clients = {}
    for name, operator in operators:
        clients[name] = Client(HTTP_HOST="127.0.0.1")
        clients[name].force_login(operator[0])
    events_url = lambda o: reverse("tasks:run_events", args=[o[3].pk])  # noqa: E731
    out = []
    for label, url_of in (
        ("task page", lambda o: reverse("tasks:detail", args=[o[2].pk])),
        ("thread page (/command/<task>/)", lambda o: reverse("tasks:command_task", args=[o[2].pk])),
        ("workspace page", lambda o: reverse("workspaces:detail", args=[o[1].pk])),
        ("run events partial", None),
    ):
        timings, extra = {}, ""
        if url_of is None:
            # The polling fallback as the page calls it: its cursor, then NEW_ROWS new rows.
            from_zero = _time_interleaved(
                {name: (clients[name], events_url(o) + "?after=0") for name, o in operators}, n
            )
            calls = {}
            for name, operator in operators:
                cursor = _page_cursor(clients[name], operator)
                _history(operator[3], cursor + 1, cursor + NEW_ROWS)
                url = f"{events_url(operator)}?after={cursor}"
                answer = clients[name].get(url).content.decode()
                if answer.count('data-seq="') != NEW_ROWS:
                    raise RuntimeError(f"{url} did not answer exactly the {NEW_ROWS} new rows")
                calls[name] = (clients[name], url)
            timings = _time_interleaved(calls, n)
            extra = (
                f"; from cursor 0 (a page with no rows yet): p95 {percentile(from_zero['big'], 95):.0f} ms "
                f"vs {percentile(from_zero['small'], 95):.0f} ms"
            )
        else:
            timings = _time_interleaved({name: (clients[name], url_of(o)) for name, o in operators}, n)
        p95, b95 = percentile(timings["big"], 95), percentile(timings["small"], 95)
        out.append(
            figure(
                "pages",
                f"{label} p95, 10,000-event run + 500 tasks",
                p95,
                "ms",
                baseline=b95,
                baseline_name="same page, 10-event run, 1 task",
                target="≤ 1.2× baseline",
                met=p95 <= 1.2 * b95,
                note=f"with 500 tasks but a 10-event run: p95 {percentile(timings['mid'], 95):.0f} ms{extra}",
            )
        )
    return out + many_runs()


if __name__ == "__main__":
    emit(submit() if (sys.argv[1:] or ["submit"])[0] == "submit" else pages())
