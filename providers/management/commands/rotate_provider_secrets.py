from django.core.management.base import BaseCommand, CommandError

from providers.crypto import SecretError
from providers.services import provider_secrets_rotate


class Command(BaseCommand):
    help = "Re-encrypt every stored provider key with the newest key in COMMAND_SECRET_KEYS (the first one)."

    def handle(self, *args, **options):
        try:
            count = provider_secrets_rotate()
        except SecretError as exc:
            raise CommandError(f"Nothing was changed: {exc}")
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} provider key(s) with the newest key."))
