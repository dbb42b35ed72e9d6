"""Server time of Command's pages, measured in-process with Django's test client (no network):

    python -m bench.pages submit   # POST a request → understanding + plan stored and the thread rendered
    python -m bench.pages pages    # task, thread and workspace pages with a 10,000-event run and 500 tasks

`submit` follows the redirect, so the figure covers storing the request, the built-in planner,
starting the run and rendering the thread with its understanding and plan. Baseline: the page
the request is typed on (GET /), in the same process.

`pages` compares the same pages for an operator with 500 tasks whose latest run has 10,000
events against an operator with one task whose run has 10 events: history must not slow the
page (target ≤ 1.2×).
"""

from __future__ import annotations

import sys
import time

from bench.harness import emit, figure, make_run, make_user, percentile, setup_django

PROMPT = "creat a premium B2B landng page for Acme Analytics + a pdf proposal"


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


def _operator(name: str, *, tasks: int, events: int):
    from django.utils import timezone

    from tasks.models import Task, WorkstreamEvent
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
            for i in range(1, events + 1)
        ],
        batch_size=2000,
    )
    run.event_seq = events
    run.save(update_fields=["event_seq"])
    return owner, workspace, task, run


def pages(n: int = 40) -> list[dict]:
    setup_django()
    from django.test import Client
    from django.urls import reverse

    big = _operator("big", tasks=500, events=10_000)
    small = _operator("small", tasks=1, events=10)
    # Separates the two kinds of history: many tasks but a short run.
    mid = _operator("mid", tasks=500, events=10)
    out = []
    for label, url_of in (
        ("task page", lambda o: reverse("tasks:detail", args=[o[2].pk])),
        ("thread page (/command/<task>/)", lambda o: reverse("tasks:command_task", args=[o[2].pk])),
        ("workspace page", lambda o: reverse("workspaces:detail", args=[o[1].pk])),
        ("run events partial", lambda o: reverse("tasks:run_events", args=[o[3].pk])),
    ):
        timings = {}
        for name, operator in (("big", big), ("small", small), ("mid", mid)):
            client = Client(HTTP_HOST="127.0.0.1")
            client.force_login(operator[0])
            timings[name] = _time(client, "get", url_of(operator), n)
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
                note=f"with 500 tasks but a 10-event run: p95 {percentile(timings['mid'], 95):.0f} ms",
            )
        )
    return out


if __name__ == "__main__":
    emit(submit() if (sys.argv[1:] or ["submit"])[0] == "submit" else pages())
