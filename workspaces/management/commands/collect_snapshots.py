"""`manage.py collect_snapshots`: delete snapshot blobs no rollback point or change refers to."""

from django.core.management.base import BaseCommand

from workspaces.services import snapshot_garbage_collect, snapshot_gc_schedule_ensure


class Command(BaseCommand):
    help = "Delete snapshot-store blobs that no rollback point or recorded change needs."

    def add_arguments(self, parser):
        parser.add_argument("--grace", type=int, default=3600, help="Keep blobs younger than this many seconds.")
        parser.add_argument("--schedule", action="store_true", help="Also make sure the daily GC schedule exists.")

    def handle(self, *args, grace: int, schedule: bool, **options):
        if schedule:
            snapshot_gc_schedule_ensure()
        deleted, freed = snapshot_garbage_collect(grace_seconds=grace)
        self.stdout.write(f"Deleted {deleted} unreferenced blobs, freed {freed} bytes.")
