"""manage.py clean_output_scratch: delete generation folders no delivery released (failed runs)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from outputs.jobs import SCRATCH_MAX_AGE_HOURS
from outputs.services import output_scratch_sweep


class Command(BaseCommand):
    help = (
        "Delete outputs-scratch folders untouched for longer than --hours (default 24). The workers run "
        "this hourly by themselves (outputs.jobs.clean_output_scratch); run it by hand to clean now."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=float, default=SCRATCH_MAX_AGE_HOURS)

    def handle(self, *args, hours: float, **options):
        minimum = settings.Q_TIMEOUT / 3600
        if hours <= minimum:
            self.stderr.write(
                f"--hours must be longer than the job timeout ({minimum:.2f} h): a generation may be running."
            )
            return
        deleted = output_scratch_sweep(older_than_seconds=hours * 3600)
        self.stdout.write(f"Deleted {len(deleted)} scratch folder{'s' if len(deleted) != 1 else ''}.")
