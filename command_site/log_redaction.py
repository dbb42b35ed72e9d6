"""Secrets that travel in URLs never reach a log line.

Password-reset and e-mail confirmation links carry their key in the path, a site preview its
signed token (valid for hours, no login needed); OAuth callbacks carry codes in the query string.
The access log (daphne) and Django's own request log ("Not Found: /…") would keep them. Both
pass through `redact_urls`: the token segments become [hidden] and every query value is hidden.
"""

from __future__ import annotations

import logging
import re

from daphne.access import AccessLogGenerator

HIDDEN = "[hidden]"

_SECRET_SEGMENTS = [
    re.compile(r"(/password/reset/key/)(?!done/)[^/?#\s\"']+"),
    re.compile(r"(/confirm-email/)[^/?#\s\"']+"),
    re.compile(r"(/preview/)[^/?#\s\"']+(?=/)"),
]
_QUERY_VALUE = re.compile(r"([?&][^=&#\s\"']+=)[^&#\s\"']+")


def redact_urls(text: str) -> str:
    """`text` with URL secrets (reset and confirmation keys, preview tokens, query values) hidden."""
    for pattern in _SECRET_SEGMENTS:
        text = pattern.sub(lambda m: m.group(1) + HIDDEN, text)
    return _QUERY_VALUE.sub(lambda m: m.group(1) + HIDDEN, text)


class SecretUrlFilter(logging.Filter):
    """A logging filter (settings.LOGGING) that hides URL secrets in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem, not ours
            return True
        hidden = redact_urls(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


class RedactedAccessLog(AccessLogGenerator):
    """daphne's access log, with URL secrets hidden (installed by command_site.web)."""

    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None):
        super().write_entry(host, date, redact_urls(request), status, length, ident, user)
