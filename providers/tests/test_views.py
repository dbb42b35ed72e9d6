"""The providers page: every action, ownership, and keys that are never shown back."""

from __future__ import annotations

import pytest
from django.urls import reverse

from providers.models import ProviderConnection
from providers.services import provider_connection_create
from providers.tests.provider_server import Reply

KEY = "sk-live-ZYXWVUT98765"


@pytest.fixture
def connection(owner):
    return provider_connection_create(
        owner=owner,
        kind="openai_compatible",
        label="Acme Work Conn",
        base_url="https://8.8.8.8/v1",
        model="gpt-x",
        api_key=KEY,
    )


def test_anonymous_is_sent_to_login(anon_client):
    response = anon_client.get(reverse("providers:index"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_empty_state_says_the_builtin_planner_is_used(owner_client):
    page = owner_client.get(reverse("providers:index")).content.decode()
    assert "No provider connected" in page and "built-in, rule-based planner" in page


def test_add_a_connection_and_the_key_is_never_rendered(owner_client, owner):
    response = owner_client.post(
        reverse("providers:index"),
        {
            "kind": "openai_compatible",
            "label": "Acme Work Conn",
            "base_url": "https://8.8.8.8/v1",
            "model": "gpt-x",
            "api_key": KEY,
        },
        follow=True,
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Acme Work Conn" in page and "••••8765" in page
    assert KEY not in page and KEY[:-4] not in page
    assert ProviderConnection.objects.get(owner=owner).is_default


def test_base_url_defaults_to_the_public_api(owner_client, owner):
    response = owner_client.post(
        reverse("providers:index"), {"kind": "anthropic", "label": "C", "model": "claude-x", "api_key": KEY}
    )
    # Offline machines cannot resolve the public host; either way the default URL was the one used.
    created = ProviderConnection.objects.filter(owner=owner).first()
    if created:
        assert created.base_url == "https://api.anthropic.com"
    else:
        assert "“api.anthropic.com” could not be resolved" in response.content.decode()


@pytest.mark.parametrize(
    ("url", "message"),
    [("http://169.254.169.254/", "metadata"), ("ftp://x.example", "http://"), ("http://10.0.0.5/v1", "private")],
)
def test_unsafe_base_url_is_refused_in_the_products_words_and_nothing_is_lost(owner_client, settings, url, message):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = False
    response = owner_client.post(
        reverse("providers:index"),
        {"kind": "openai_compatible", "label": "Sneaky", "base_url": url, "model": "m", "api_key": KEY},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert 'value="Sneaky"' in page  # the rest of the form is kept …
    assert KEY not in page  # … but never the key
    assert not ProviderConnection.objects.exists()


def test_other_users_get_404_for_every_action(other_client, connection):
    for name in ("check", "default", "revoke", "delete"):
        assert other_client.post(reverse(f"providers:{name}", args=[connection.id])).status_code == 404
    assert other_client.get(reverse("providers:index")).content.decode().count("Acme Work Conn") == 0
    assert ProviderConnection.objects.filter(pk=connection.pk, status="unchecked").exists()


def test_actions_need_post(owner_client, connection):
    assert owner_client.get(reverse("providers:revoke", args=[connection.id])).status_code == 405


def test_test_connection_over_htmx_returns_the_row_with_honest_status(owner, owner_client, provider_server):
    c = provider_connection_create(
        owner=owner, kind="openai_compatible", label="Local", base_url=provider_server.url + "/v1", model="m"
    )
    provider_server.script(Reply(status=500, body={"error": {"message": "model not loaded"}}))
    response = owner_client.post(reverse("providers:check", args=[c.id]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="connection-{c.id}"' in html and "Failing" in html and "model not loaded" in html
    assert "<html" not in html


def test_make_default_revoke_and_delete(owner_client, owner, connection):
    second = provider_connection_create(
        owner=owner, kind="anthropic", label="Second", base_url="https://8.8.4.4", model="c", api_key="sk-ant-1111"
    )
    owner_client.post(reverse("providers:default", args=[second.id]))
    second.refresh_from_db()
    assert second.is_default
    owner_client.post(reverse("providers:revoke", args=[second.id]))
    second.refresh_from_db()
    assert second.status == "revoked" and second.api_key_encrypted == ""
    page = owner_client.get(reverse("providers:index")).content.decode()
    assert "destroyed" in page
    owner_client.post(reverse("providers:delete", args=[connection.id]))
    assert not ProviderConnection.objects.filter(pk=connection.pk).exists()


def test_admin_never_shows_the_key_and_a_blank_key_field_keeps_it(admin_client, connection):
    url = reverse("admin:providers_providerconnection_change", args=[connection.id])
    page = admin_client.get(url).content.decode()
    assert KEY not in page and connection.api_key_encrypted not in page and "••••8765" in page
    before = connection.api_key_encrypted
    response = admin_client.post(
        url,
        {
            "owner": connection.owner_id,
            "kind": "openai_compatible",
            "label": "Renamed",
            "base_url": "https://8.8.8.8/v1",
            "model": "gpt-x",
            "api_key": "",
        },
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.label == "Renamed" and connection.api_key_encrypted == before


@pytest.mark.parametrize("url", ["http://[::1/", "http://[169.254.169.254]/", "http://[2002:a9fe:a9fe::]/"])
def test_a_malformed_or_disguised_base_url_is_a_form_error_not_a_crash(owner_client, settings, url):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = False
    response = owner_client.post(
        reverse("providers:index"),
        {"kind": "openai_compatible", "label": "Sneaky", "base_url": url, "model": "m", "api_key": KEY},
    )
    assert response.status_code == 400
    assert "Sneaky" in response.content.decode()  # what was typed is kept
    assert not ProviderConnection.objects.filter(label="Sneaky").exists()


def test_prices_are_optional_both_or_neither_and_editable_on_the_connection(owner_client, owner, other_user):
    from decimal import Decimal

    base = {"kind": "openai_compatible", "label": "Priced", "base_url": "https://8.8.8.8/v1", "model": "gpt-x"}
    response = owner_client.post(reverse("providers:index"), {**base, "input_price_per_mtok": "3"})
    assert response.status_code == 400 and "Give both prices" in response.content.decode()
    assert not ProviderConnection.objects.exists()

    owner_client.post(reverse("providers:index"), {**base, "input_price_per_mtok": "3", "output_price_per_mtok": "15"})
    connection = ProviderConnection.objects.get(owner=owner)
    assert (connection.input_price_per_mtok, connection.output_price_per_mtok) == (Decimal("3"), Decimal("15"))
    assert connection.cost_usd(1_000_000, 100_000) == pytest.approx(4.5)
    page = owner_client.get(reverse("providers:index")).content.decode()
    assert "US$3 in · US$15 out per million tokens" in page

    url = reverse("providers:prices", args=[connection.pk])
    owner_client.post(url, {"input_price_per_mtok": "", "output_price_per_mtok": ""})
    connection.refresh_from_db()
    assert not connection.priced and connection.cost_usd(1_000_000, 0) is None
    owner_client.post(url, {"input_price_per_mtok": "-1", "output_price_per_mtok": "2"})
    connection.refresh_from_db()
    assert not connection.priced

    owner_client.force_login(other_user)
    assert owner_client.post(url, {"input_price_per_mtok": "1", "output_price_per_mtok": "2"}).status_code == 404
    connection.refresh_from_db()
    assert not connection.priced
