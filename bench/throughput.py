"""Queue throughput and overhead: 1,000 no-op runs through Command's dispatcher and django-q2 on
PostgreSQL with 2 workers, against procrastinate (the peer baseline: 1,000 no-op jobs, 2 worker
processes, the same private PostgreSQL database) and, reported beside it, 1,000 bare django-q2
`async_task` no-ops on the same cluster settings.

The Command side is the whole engine path (dispatch job → claim with lease → step record →
events → verification gate → completed) with a no-op step handler (bench.noop_handlers). Every
side is clocked from submit: from before the runs (tasks, plans, runs) or jobs are created, in
one transaction or batch while the workers are already up, until the last run is completed /
the last job has succeeded / the last bare task is acknowledged.

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


def _command(owner, n: int) -> tuple[float, int, float]:
    from django.db import transaction

    from tasks.engine.dispatch import run_create
    from tasks.models import PlanRevision, Task, TaskRun

    plan = _plan_json()
    t0 = time.perf_counter()  # from submit: creating the runs is part of what a user waits for
    with transaction.atomic():
        runs = []
        for i in range(n):
            task = Task.objects.create(owner=owner, raw_prompt=f"no-op {i}", title=f"no-op {i}")
            revision = PlanRevision.objects.create(task=task, number=1, planner="bench", plan=plan)
            runs.append(run_create(task=task, plan_revision=revision).pk)
    submitted = time.perf_counter() - t0  # the batch is committed: the workers can see it
    done = lambda: TaskRun.objects.filter(pk__in=runs, state__in=TaskRun.TERMINAL_STATES).count() == n  # noqa: E731
    _wait(done, 900)
    elapsed = time.perf_counter() - t0
    completed = TaskRun.objects.filter(pk__in=runs, state=TaskRun.State.COMPLETED).count()
    return elapsed, completed, submitted


def _bare(n: int) -> float:
    from django.db import transaction
    from django_q.models import OrmQ
    from django_q.tasks import async_task

    t0 = time.perf_counter()
    with transaction.atomic():
        for _ in range(n):
            async_task("bench.noop_handlers.noop")
    _wait(lambda: not OrmQ.objects.exists(), 900)
    return time.perf_counter() - t0


def _procrastinate_succeeded() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")
        return cursor.fetchone()[0]


def _procrastinate(n: int) -> float:
    """Seconds for `n` no-op procrastinate jobs with 2 worker processes, from submit (after one
    warm-up job each side has had)."""
    import subprocess

    from bench import procrastinate_peer

    procrastinate_peer.install()
    command = [sys.executable, "-m", "procrastinate", "--app=bench.procrastinate_peer.app", "worker", "--concurrency=1"]
    procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        procrastinate_peer.submit(1)
        if not _wait(lambda: _procrastinate_succeeded() >= 1, 120):
            raise RuntimeError("procrastinate's workers did not run the warm-up job")
        t0 = time.perf_counter()
        procrastinate_peer.submit(n)
        if not _wait(lambda: _procrastinate_succeeded() >= n + 1, 900):
            raise RuntimeError("procrastinate did not finish its jobs")
        return time.perf_counter() - t0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> list[dict]:
    os.environ["COMMAND_WORKERS"] = WORKER_ENV["COMMAND_WORKERS"]
    setup_django()
    owner = make_user()
    with workers(1, log="queue.log", **WORKER_ENV):
        # Warm-up: the cluster is up and has run one of each before the clock starts.
        _command(owner, 1)
        _bare(1)
        bare = _bare(RUNS)
        elapsed, completed, submitted = _command(owner, RUNS)
        bare_again = _bare(RUNS)
    # The peer runs alone, as Command's side did (its workers stopped first).
    peer = _procrastinate(RUNS)
    bare_best = min(bare, bare_again)
    rate, bare_rate, peer_rate = completed / elapsed, RUNS / bare_best, RUNS / peer
    return [
        figure(
            "queue",
            f"queue throughput vs procrastinate, {RUNS:,} no-op runs, 2 workers, clock from submit",
            rate,
            "runs/s",
            baseline=peer_rate,
            baseline_name=f"procrastinate, {RUNS:,} no-op jobs, 2 workers, same PostgreSQL",
            target="≥ 0.5× procrastinate",
            met=rate >= 0.5 * peer_rate and completed == RUNS,
            note=(
                f"{completed} of {RUNS} completed in {elapsed:.1f} s (of which creating and committing the "
                f"{RUNS:,} tasks, plans and runs: {submitted:.1f} s); procrastinate {peer:.1f} s"
            ),
        ),
        figure(
            "queue",
            f"queue time for {RUNS:,} runs vs bare django-q2, clock from submit",
            elapsed,
            "s",
            baseline=bare_best,
            baseline_name=f"{RUNS:,} bare async_task no-ops ({bare_rate:.0f}/s; best of 2)",
            note="reported beside the peer: django-q2's ORM broker is the muscle Command runs on",
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
        elapsed, completed, _submitted = _command(owner, RUNS)
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
