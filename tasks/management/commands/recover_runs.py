"""`manage.py recover_runs`: turn runs whose worker stopped answering into an honest state now."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tasks.engine.recovery import recover_expired_runs, runs_with_expired_leases


class Command(BaseCommand):
    help = "Recover runs whose lease expired: resume them from their last safe point, or mark them recoverable."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only list the runs whose lease expired.")

    def handle(self, *args, dry_run: bool, **options):
        if dry_run:
            expired = list(runs_with_expired_leases())
            for run in expired:
                self.stdout.write(f"{run.reference}  {run.state}  lease expired at {run.lease_expires_at:%H:%M:%S}")
            self.stdout.write(f"{len(expired)} run(s) with an expired lease.")
            return
        results = recover_expired_runs()
        for result in results:
            self.stdout.write(f"{result.run.reference}: {result.outcome}. {result.reason}")
        self.stdout.write(f"Recovered {len(results)} run(s)." if results else "No run needed recovery.")
