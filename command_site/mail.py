"""The default outgoing mail for a machine without a mail server: an outbox folder.

Mail used to be printed to the web process's console, so password-reset links ended up in its
log. Now each message is a file in COMMAND_OUTBOX_DIR (readable by the owner only), and the log
says only that a message was written and where.
"""

from __future__ import annotations

import logging
import os

from django.core.mail.backends.filebased import EmailBackend as FileEmailBackend

logger = logging.getLogger(__name__)


class OutboxEmailBackend(FileEmailBackend):
    def __init__(self, *args, file_path=None, **kwargs):
        super().__init__(*args, file_path=file_path, **kwargs)
        os.chmod(self.file_path, 0o700)

    def send_messages(self, email_messages):
        old_umask = os.umask(0o077)
        try:
            sent = super().send_messages(email_messages)
        finally:
            os.umask(old_umask)
        if sent:
            logger.info(
                "%d e-mail message(s) written to %s (no mail server is configured: set EMAIL_BACKEND)",
                sent,
                self._fname,
            )
        return sent
