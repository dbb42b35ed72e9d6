"""`manage.py runs`: a table of runs with state, queue position and why each one waits."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tasks.models import TaskRun
from tasks.selectors.runs import run_statuses


class Command(BaseCommand):
    help = "List runs: state, queue position, blocking reason (unfinished runs unless --all)."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Include finished runs.")
        parser.add_argument("--user", default=None, help="Only this user's runs (email).")
        parser.add_argument("--limit", type=int, default=50)

    def handle(self, *args, all: bool, user: str | None, limit: int, **options):
        runs = TaskRun.objects.select_related("task", "owner", "workspace").order_by("-created_at")
        if not all:
            runs = runs.exclude(state__in=TaskRun.TERMINAL_STATES)
        if user:
            runs = runs.filter(owner__email__iexact=user)
            if not runs.exists() and not TaskRun.objects.filter(owner__email__iexact=user).exists():
                raise CommandError(f"No runs for {user}.")
        rows = list(runs[:limit])
        if not rows:
            self.stdout.write("No runs." if all else "No unfinished runs. Use --all to include finished ones.")
            return
        header = f"{'RUN':<9} {'STATE':<17} {'PRI':>3} {'POS':>3}  {'TASK':<32} WHY"
        self.stdout.write(header)
        # Positions and reasons for every listed run in a fixed number of queries.
        for status in run_statuses(rows):
            run, position = status["run"], status["queue_position"]
            why = status["blocking_reason"] if run.state == TaskRun.State.QUEUED else run.state_reason
            if run.state in TaskRun.LEASED_STATES and run.current_step_id:
                why = f"on step {run.current_step_id}"
            self.stdout.write(
                f"{run.reference:<9} {run.state:<17} {run.priority:>3} {position or '-':>3}  "
                f"{str(run.task)[:32]:<32} {' '.join((why or '').split())[:90]}"
            )
