"""Provider connection services on the real database, checks against a real HTTP server."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from providers.crypto import SecretError, secret_decrypt
from providers.endpoint_safety import UnsafeEndpoint
from providers.models import ProviderConnection
from providers.selectors import provider_connection_default
from providers.services import (
    ProviderRefused,
    provider_connection_check,
    provider_connection_create,
    provider_connection_delete,
    provider_connection_revoke,
    provider_connection_set_default,
    provider_secrets_rotate,
)
from providers.tests.provider_server import Reply

KEY = "sk-proj-abcdefgh12345678"


def create(owner, url="https://8.8.8.8/v1", **kw):
    return provider_connection_create(
        owner=owner,
        kind=kw.pop("kind", "openai_compatible"),
        label=kw.pop("label", "Mine"),
        base_url=url,
        model=kw.pop("model", "gpt-x"),
        api_key=kw.pop("api_key", KEY),
        **kw,
    )


def test_create_encrypts_the_key_and_keeps_only_the_last_four(owner):
    c = create(owner)
    c.refresh_from_db()
    assert KEY not in c.api_key_encrypted
    assert secret_decrypt(c.api_key_encrypted) == KEY
    assert c.masked_key == "••••5678"
    assert c.status == ProviderConnection.Status.UNCHECKED
    assert c.is_default  # the first one becomes the default


def test_create_refuses_unsafe_urls_and_keyless_anthropic(owner, settings):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = False
    with pytest.raises(UnsafeEndpoint):
        create(owner, url="http://169.254.169.254/v1")
    with pytest.raises(UnsafeEndpoint):
        create(owner, url="http://127.0.0.1:11434/v1")
    with pytest.raises(ProviderRefused, match="Anthropic needs an API key"):
        create(owner, kind="anthropic", api_key="")
    assert not ProviderConnection.objects.exists()


def test_one_default_per_user_is_held_by_the_database(owner, other_user):
    a = create(owner, label="A")
    b = create(owner, label="B")
    theirs = create(other_user, label="Theirs")
    assert (a.is_default, b.is_default, theirs.is_default) == (True, False, True)
    provider_connection_set_default(connection=b)
    a.refresh_from_db()
    assert not a.is_default and provider_connection_default(owner=owner) == b
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderConnection.objects.filter(pk=a.pk).update(is_default=True)


def test_make_default_on_create_moves_the_default(owner):
    a = create(owner, label="A")
    b = create(owner, label="B", make_default=True)
    a.refresh_from_db()
    assert b.is_default and not a.is_default


def test_revoke_destroys_the_key_and_the_default(owner):
    c = create(owner)
    c = provider_connection_revoke(connection=c)
    assert c.api_key_encrypted == "" and c.status == "revoked" and not c.is_default
    assert provider_connection_default(owner=owner) is None
    with pytest.raises(ProviderRefused):
        provider_connection_set_default(connection=c)
    with pytest.raises(ProviderRefused):
        provider_connection_check(connection=c)


def test_delete(owner):
    c = create(owner)
    provider_connection_delete(connection=c)
    assert not ProviderConnection.objects.exists()


def test_check_records_connected_then_failing(owner, provider_server):
    c = create(owner, url=provider_server.url + "/v1")
    provider_server.script(
        Reply(body={"data": [{"id": "gpt-x"}]}), Reply(status=401, body={"error": {"message": "bad key"}})
    )
    c = provider_connection_check(connection=c)
    assert c.status == "connected" and c.last_checked_at and c.last_error == ""
    assert provider_server.seen[0].headers["authorization"] == f"Bearer {KEY}"
    c = provider_connection_check(connection=c)
    assert c.status == "failing" and c.last_error == "HTTP 401: bad key"


def test_check_says_so_when_the_model_is_missing(owner, provider_server):
    c = create(owner, url=provider_server.url + "/v1", model="gpt-nope")
    provider_server.script(Reply(body={"data": [{"id": "gpt-x"}]}))
    c = provider_connection_check(connection=c)
    assert c.status == "failing" and "gpt-nope" in c.last_error


def test_check_with_an_unreadable_key_is_failing_not_silent(owner, provider_server, settings):
    c = create(owner, url=provider_server.url + "/v1")
    settings.COMMAND_SECRET_KEYS = [Fernet.generate_key().decode()]
    c = provider_connection_check(connection=c)
    assert c.status == "failing" and "could not be decrypted" in c.last_error
    assert provider_server.seen == []


def test_rotate_re_encrypts_every_row_with_the_newest_key(owner, other_user, settings):
    old = settings.COMMAND_SECRET_KEYS[0]
    a, b = create(owner), create(other_user, api_key="sk-other-0000")
    keyless = create(owner, label="Ollama", api_key="")
    new = Fernet.generate_key().decode()
    settings.COMMAND_SECRET_KEYS = [new, old]
    assert provider_secrets_rotate() == 2
    settings.COMMAND_SECRET_KEYS = [new]
    a.refresh_from_db(), b.refresh_from_db(), keyless.refresh_from_db()
    assert secret_decrypt(a.api_key_encrypted) == KEY
    assert secret_decrypt(b.api_key_encrypted) == "sk-other-0000"
    assert keyless.api_key_encrypted == ""


def test_rotate_command_refuses_and_changes_nothing_when_a_key_is_unreadable(owner, settings):
    c = create(owner)
    before = c.api_key_encrypted
    settings.COMMAND_SECRET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_provider_secrets")
    c.refresh_from_db()
    assert c.api_key_encrypted == before


def test_rotate_command_reports_the_count(owner, settings, capsys):
    create(owner)
    settings.COMMAND_SECRET_KEYS = [Fernet.generate_key().decode(), *settings.COMMAND_SECRET_KEYS]
    call_command("rotate_provider_secrets")
    assert "Re-encrypted 1 provider key(s)" in capsys.readouterr().out


def test_missing_keys_setting_refuses_to_store(owner, settings):
    settings.COMMAND_SECRET_KEYS = []
    with pytest.raises(SecretError):
        create(owner)
