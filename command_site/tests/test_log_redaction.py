"""Password-reset links and preview tokens never reach the web process's log (access log and
Django's request log), nor does mail: without a mail server it goes to an owner-only outbox."""

from __future__ import annotations

import re
import stat
import time

import httpx
import pytest

from command_site.log_redaction import redact_urls

pytestmark = pytest.mark.django_db(transaction=True)


def test_redact_urls_hides_keys_tokens_and_query_values():
    line = (
        '"GET /accounts/password/reset/key/3-c9x8-2a1b3c/ HTTP/1.1" '
        "/accounts/confirm-email/MQ:1tABC:xyz/ /workspaces/5a/preview/eyJ3Ijoi.abc.def/index.html "
        "/accounts/oidc/oidc/login/callback/?code=abc123&state=zz /accounts/password/reset/key/done/"
    )
    hidden = redact_urls(line)
    for secret in ("3-c9x8-2a1b3c", "MQ:1tABC:xyz", "eyJ3Ijoi.abc.def", "abc123", "state=zz"):
        assert secret not in hidden
    assert "/preview/[hidden]/index.html" in hidden and "code=[hidden]&state=[hidden]" in hidden
    assert "/accounts/password/reset/key/done/" in hidden


def _log(web) -> str:
    time.sleep(0.5)  # the access log is written when the response completes
    return web.log.read_text(errors="replace")


def test_a_reset_link_is_mailed_to_the_outbox_and_never_logged(web, owner):
    with httpx.Client(base_url=web.url, follow_redirects=False, timeout=20) as client:
        page = client.get("/accounts/password/reset/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        sent = client.post(
            "/accounts/password/reset/",
            data={"email": owner.email, "csrfmiddlewaretoken": token},
            headers={"Referer": web.url + "/accounts/password/reset/"},
        )
        assert sent.status_code == 302
        messages = list(web.outbox.iterdir())
        assert len(messages) == 1 and stat.S_IMODE(messages[0].stat().st_mode) & 0o077 == 0
        link = re.search(r"http://\S+/accounts/password/reset/key/(\S+?)/", messages[0].read_text())
        assert link, "the outbox message holds the reset link"
        key = link.group(1)
        opened = client.get(f"/accounts/password/reset/key/{key}/")
        assert opened.status_code in (200, 302)
    log = _log(web)
    assert key not in log and key.split("-", 1)[1] not in log
    assert "/accounts/password/reset/key/[hidden]/" in log
    assert "e-mail message(s) written to" in log


def test_a_preview_token_and_query_values_are_not_logged(web):
    token = "eyJ3IjoiMTIzIn0:1tPreviewTokenValue:abcdefSIGNATURE"
    with httpx.Client(base_url=web.url, timeout=20) as client:
        client.get(f"/workspaces/5f0e9c52-0000-4000-8000-000000000000/preview/{token}/missing.html")
        client.get("/accounts/login/?next=/&code=oauth-code-value")
    log = _log(web)
    assert token not in log and "PreviewTokenValue" not in log and "oauth-code-value" not in log
    assert "/preview/[hidden]/missing.html" in log


def test_every_handler_of_the_request_log_gets_the_redacted_line():
    """Filtered at the logger too: a handler on the "django" logger (as Django adds in DEBUG)
    handles the record before the console handler's filter would, and must not see the token."""
    import logging

    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logging.getLogger("django").addHandler(handler)
    try:
        logging.getLogger("django.request").warning("Not Found: %s", "/workspaces/x/preview/SECRETTOKEN1/a.html")
    finally:
        logging.getLogger("django").removeHandler(handler)
    assert seen == ["Not Found: /workspaces/x/preview/[hidden]/a.html"]
