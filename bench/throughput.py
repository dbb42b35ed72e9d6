"""Queue throughput and overhead: 1,000 no-op runs through Command's dispatcher and django-q2 on
PostgreSQL with 2 workers, against 1,000 bare `async_task` no-ops on the same cluster settings.

The Command side is the whole engine path (dispatch job → claim with lease → step record →
events → verification gate → completed) with a no-op step handler (bench.noop_handlers). Both
sides enqueue everything in one transaction while the cluster is already up, and the clock runs
from that commit until the last run is completed / the last bare task is acknowledged.

This process queues the runs with the same COMMAND_WORKERS as the cluster (in a deployment the
web and the worker read one configuration), so the batch's transaction enqueues one draining
dispatch job per worker (tasks.engine.dispatch.enqueue_dispatch), as the product does.

The target figure runs without a Redis channel layer, as the issue sets it ("on PostgreSQL"); a
second, reported figure runs the same runs with one (with_redis), where every event is also
pushed to Redis by the worker.
"""

from __future__ import annotations

import os
import sys
import time

from bench.harness import emit, figure, make_user, setup_django, workers

RUNS = 1000
WORKER_ENV = {
    "COMMAND_WORKERS": "2",
    "COMMAND_HANDLER_MODULES": "bench.noop_handlers",
    "COMMAND_Q_POLL": "0.05",
}


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _plan_json() -> dict:
    from providers.contracts import ActionType, Plan, PlanStep, StepExplanation

    step = PlanStep(
        id="noop",
        title="Do nothing",
        action_type=ActionType.READ_FILE,
        inputs={"path": "index.html"},
        explanation=StepExplanation(what="Nothing.", why="Queue benchmark.", expect_next="Completed."),
    )
    return Plan(steps=[step]).model_dump(mode="json")


def _command(owner, n: int) -> tuple[float, int]:
    from django.db import transaction

    from tasks.engine.dispatch import run_create
    from tasks.models import PlanRevision, Task, TaskRun

    plan = _plan_json()
    with transaction.atomic():
        runs = []
        for i in range(n):
            task = Task.objects.create(owner=owner, raw_prompt=f"no-op {i}", title=f"no-op {i}")
            PlanRevision.objects.create(task=task, number=1, planner="bench", plan=plan)
            runs.append(run_create(task=task).pk)
    t0 = time.perf_counter()
    done = lambda: TaskRun.objects.filter(pk__in=runs, state__in=TaskRun.TERMINAL_STATES).count() == n  # noqa: E731
    _wait(done, 900)
    elapsed = time.perf_counter() - t0
    completed = TaskRun.objects.filter(pk__in=runs, state=TaskRun.State.COMPLETED).count()
    return elapsed, completed


def _bare(n: int) -> float:
    from django.db import transaction
    from django_q.models import OrmQ
    from django_q.tasks import async_task

    with transaction.atomic():
        for _ in range(n):
            async_task("bench.noop_handlers.noop")
    t0 = time.perf_counter()
    _wait(lambda: not OrmQ.objects.exists(), 900)
    return time.perf_counter() - t0


def main() -> list[dict]:
    os.environ["COMMAND_WORKERS"] = WORKER_ENV["COMMAND_WORKERS"]
    setup_django()
    owner = make_user()
    with workers(1, log="queue.log", **WORKER_ENV):
        # Warm-up: the cluster is up and has run one of each before the clock starts.
        _command(owner, 1)
        _bare(1)
        bare = _bare(RUNS)
        elapsed, completed = _command(owner, RUNS)
        bare_again = _bare(RUNS)
    bare_best = min(bare, bare_again)
    rate, bare_rate = completed / elapsed, RUNS / bare_best
    return [
        figure(
            "queue",
            f"queue throughput, {RUNS:,} no-op runs, 2 workers",
            rate,
            "runs/s",
            target="≥ 100 runs/s",
            met=rate >= 100 and completed == RUNS,
            note=f"{completed} of {RUNS} completed in {elapsed:.1f} s",
        ),
        figure(
            "queue",
            f"queue time for {RUNS:,} runs vs bare django-q2",
            elapsed,
            "s",
            baseline=bare_best,
            baseline_name=f"{RUNS:,} bare async_task no-ops ({bare_rate:.0f}/s; best of 2)",
            target="≤ 2× bare",
            met=elapsed <= 2 * bare_best,
        ),
    ]


def with_redis() -> list[dict]:
    """The same runs with the Redis channel layer configured (REDIS_URL): each of a run's events is
    then also pushed to Redis for the live workstream, which the workers pay for. Reported, with no
    target, beside the figure without Redis (`python -m bench.throughput redis`)."""
    os.environ["COMMAND_WORKERS"] = WORKER_ENV["COMMAND_WORKERS"]
    setup_django()
    owner = make_user()
    with workers(1, log="queue-redis.log", **WORKER_ENV):
        _command(owner, 1)
        elapsed, completed = _command(owner, RUNS)
    return [
        figure(
            "queue",
            f"queue throughput with pushes to Redis, {RUNS:,} no-op runs, 2 workers",
            completed / elapsed,
            "runs/s",
            note=f"{completed} of {RUNS} completed in {elapsed:.1f} s; every event also pushed to the run's group",
        )
    ]


if __name__ == "__main__":
    emit(with_redis() if sys.argv[1:] == ["redis"] else main())
