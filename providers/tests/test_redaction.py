"""Provider error text is masked (the key, and anything that looks like a credential) and capped
before it is stored or shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from providers.models import ProviderConnection
from providers.redaction import redact
from providers.services import provider_connection_check, provider_connection_create
from providers.tests.provider_server import Reply

KEY = "sk-live-ZYXWVUT98765abcdef"
ANTHROPIC_KEY = "k" + "9Q7zT2pL4vX8rN1m" * 2


@pytest.mark.parametrize(
    "secret",
    [
        "Bearer abcdefgh12345678ijkl",
        "sk-proj-AbC123dEf456GhI789jKl",
        "sk-ant-api03-AbC123dEf456GhI789jKl",
        "api_key=hunter2hunter2",
        '"password": "correct-horse-battery"',
        "token: ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "AKIAIOSFODNN7EXAMPLE",
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz12345",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "x-api-key: 0123456789abcdef0123456789abcdef",
    ],
)
def test_credential_like_text_is_masked(secret):
    masked = redact(f"HTTP 401: nope ({secret}) try again")
    value = secret.split()[-1].split("=")[-1].strip('"')
    assert value not in masked and "••••" in masked
    assert masked.startswith("HTTP 401: nope (") and masked.endswith(") try again")


def test_the_key_itself_is_masked_even_when_it_looks_harmless():
    assert redact("your key kitten-secret-value is wrong", secrets=["kitten-secret-value"]) == (
        "your key •••• is wrong"
    )


def test_plain_words_and_numbers_survive_and_text_is_capped():
    assert redact("HTTP 404: model gpt-4o-mini not found (request 1234)") == (
        "HTTP 404: model gpt-4o-mini not found (request 1234)"
    )
    long = redact("x " * 5000, limit=300)
    assert len(long) <= 300 and long.endswith("…")


@pytest.fixture
def echoing(owner, provider_server):
    connection = provider_connection_create(
        owner=owner,
        kind="openai_compatible",
        label="Echoing",
        base_url=provider_server.url + "/v1",
        model="gpt-x",
        api_key=KEY,
    )
    body = {"error": {"message": f"Incorrect API key provided: {KEY}. Header was Bearer {KEY}. " + "pad " * 400}}
    provider_server.script(Reply(status=401, body=body))
    return connection


def test_an_error_body_that_echoes_the_key_is_stored_masked_and_capped(echoing):
    connection = provider_connection_check(connection=echoing)
    assert connection.status == "failing"
    assert KEY not in connection.last_error and KEY[8:20] not in connection.last_error
    assert "Incorrect API key provided: ••••" in connection.last_error
    assert len(connection.last_error) <= 500


def test_an_error_body_that_echoes_the_key_is_shown_masked(echoing, owner_client):
    response = owner_client.post(reverse("providers:check", args=[echoing.pk]), follow=True)
    page = response.content.decode()
    assert "Incorrect API key provided" in page and KEY not in page and KEY[8:20] not in page
    stored = ProviderConnection.objects.get(pk=echoing.pk).last_error
    assert KEY not in stored


def test_an_anthropic_key_echoed_by_the_provider_is_masked(owner, provider_server):
    connection = provider_connection_create(
        owner=owner,
        kind="anthropic",
        label="Claude",
        base_url=provider_server.url,
        model="claude-x",
        api_key=ANTHROPIC_KEY,
    )
    provider_server.script(Reply(status=403, body={"error": {"message": f"key {ANTHROPIC_KEY} is disabled"}}))
    connection = provider_connection_check(connection=connection)
    assert ANTHROPIC_KEY not in connection.last_error and "key •••• is disabled" in connection.last_error
