"""`manage.py audit`: the truthfulness audit over the whole database and the snapshot store."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from command_site.audit import audit_run


class Command(BaseCommand):
    help = "List every claim Command made that it cannot prove. Exits non-zero when there is one."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        try:
            report = audit_run()
        except DatabaseError as exc:
            raise CommandError(
                f"The audit could not read the database ({exc}). Is it reachable and migrated (manage.py migrate)?"
            ) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict(), indent=2))
        else:
            checked = ", ".join(f"{n} {what}" for what, n in report.checked.items())
            self.stdout.write(f"Checked {checked} in {report.seconds:.1f} s.")
            for violations in report.by_rule().values():
                self.stdout.write(self.style.ERROR(f"\n{violations[0].rule_label} ({len(violations)}):"))
                for v in violations:
                    self.stdout.write(f"  {v.subject}: {v.message}")
        if not report.ok:
            n = len(report.violations)
            raise CommandError(f"{n} violation{'s' if n != 1 else ''} of “never claim what you cannot prove”.")
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS("No violations: every claim checked is backed by a record."))
