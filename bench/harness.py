"""Shared plumbing for the benchmark modules: Django set-up on the bench database, a signed-in
session, real daphne / qcluster processes, percentiles, and the figure format of latest.json.

Each benchmark module runs in its own process (`python -m bench.<name>`), started by bench.run
with DATABASE_URL / REDIS_URL / COMMAND_DATA_DIR pointing at throw-away places, and writes its
figures as JSON to $BENCH_OUT.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from command_site.testing import free_port, session_cookie  # noqa: F401 - the benchmarks import them from here

REPO = Path(__file__).resolve().parents[1]


def setup_django() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_site.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("django-q").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def figure(
    bench: str,
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_name: str = "",
    target: str = "",
    met: bool | None = None,
    note: str = "",
    extra: dict | None = None,
) -> dict:
    ratio = (value / baseline) if baseline else None
    return {
        "bench": bench,
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline_name": baseline_name,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": None if ratio is None else round(ratio, 3),
        "target": target,
        "met": met,
        "note": note,
        **({"extra": extra} if extra else {}),
    }


def emit(figures: list[dict]) -> None:
    out = os.environ.get("BENCH_OUT")
    text = json.dumps(figures, indent=2)
    if out:
        Path(out).write_text(text)
    else:
        print(text)


def make_user(username: str = "bench"):
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    return user or user_model.objects.create_user(username=username, email=f"{username}@example.com", password=None)


def child_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BENCH_OUT",)}
    env.update({"PYTHONUNBUFFERED": "1", "COMMAND_ENV_FILE": ""})
    env.update(overrides)
    return env


def _logs() -> Path:
    # bench.run always sets COMMAND_DATA_DIR to a throw-away folder.
    return Path(os.environ.get("COMMAND_DATA_DIR") or tempfile.gettempdir()) / "logs"


@contextlib.contextmanager
def daphne(
    app: str = "command_site.asgi:application", log: str = "daphne.log", **env: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    from command_site.testing import daphne_command, spawn, stop_process, wait_until_answering

    port = free_port()
    logs = _logs()
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / log, "ab") as out:
        proc = spawn(daphne_command(port, app), env=child_env(**env), out=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(proc, base, timeout=60, log_hint=f"; see {logs / log}")
        yield base, proc
    finally:
        stop_process(proc)


@contextlib.contextmanager
def workers(count: int = 1, log: str = "worker.log", **env: str) -> Iterator[list[subprocess.Popen]]:
    from command_site.testing import QCLUSTER_COMMAND, spawn, stop_process

    logs = _logs()
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / log, "ab") as out:
        procs = [spawn(QCLUSTER_COMMAND, env=child_env(**env), out=out) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            stop_process(proc)


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (daphne is one process)."""
    total = 0
    pids = [pid]
    with contextlib.suppress(FileNotFoundError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def make_run(owner, *, workspace=None, steps: int = 1, title: str = "bench run"):
    """A task with a one-step plan and a run row (not dispatched): something to hang events on."""
    from providers.contracts import ActionType, Plan, PlanStep, StepExplanation
    from tasks.models import PlanRevision, Task, TaskRun

    task = Task.objects.create(owner=owner, raw_prompt=title, title=title, workspace=workspace)
    plan = Plan(
        steps=[
            PlanStep(
                id=f"s{i}",
                title=f"Step {i}",
                action_type=ActionType.READ_FILE,
                inputs={"path": "index.html"},
                explanation=StepExplanation(what="Read.", why="Bench.", expect_next="Next."),
            )
            for i in range(1, steps + 1)
        ]
    )
    revision = PlanRevision.objects.create(task=task, number=1, planner="bench", plan=plan.model_dump(mode="json"))
    run = TaskRun.objects.create(
        task=task, owner=owner, plan_revision=revision, workspace=workspace, state=TaskRun.State.RUNNING, mutates=False
    )
    return task, run
