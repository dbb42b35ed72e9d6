"""procrastinate, the queue's peer baseline: a PostgreSQL-only job queue, on the same private
PostgreSQL database as Command's queue figure (DATABASE_URL), with no-op jobs.

    python -m procrastinate --app=bench.procrastinate_peer.app worker --concurrency=1   # one worker

bench.throughput starts two such workers (as Command runs two), defers the jobs and clocks them
from the moment they are submitted until the last one has succeeded.
"""

from __future__ import annotations

import os

import procrastinate

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=os.environ.get("DATABASE_URL", "")))


@app.task(name="noop")
def noop() -> None:
    """Nothing: the queue's own cost is what is measured."""


def install() -> None:
    """procrastinate's tables, in the same database."""
    with app.open():
        app.schema_manager.apply_schema()


def submit(n: int) -> None:
    """Defer `n` no-op jobs in one batch (as Command's side queues its runs in one transaction)."""
    with app.open():
        noop.batch_defer(*([{}] * n))
