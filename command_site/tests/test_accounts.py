"""Accounts: sign-up, login, logout, password reset, rate limits and OpenID Connect login."""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from werkzeug.serving import make_server


def test_signup_creates_an_account_that_confirms_by_mail_or_signs_in_with_its_password(anon_client, db, password):
    response = anon_client.post(
        "/accounts/signup/", {"email": "new@example.com", "password1": password, "password2": password}
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(email="new@example.com")
    assert not anon_client.get("/").context["user"].is_authenticated  # the same answer as a taken address
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", mail.outbox[0].body).group(1)
    anon_client.post(link)
    assert anon_client.get("/").context["user"] == user
    anon_client.post("/accounts/logout/")
    anon_client.post("/accounts/login/", {"login": "new@example.com", "password": password})
    assert anon_client.get("/").context["user"] == user


def test_signup_does_not_reveal_whether_an_address_has_an_account(anon_client, owner, password):
    def page(email: str) -> str:
        sent = anon_client.post("/accounts/signup/", {"email": email, "password1": password, "password2": password})
        assert sent.status_code == 302
        text = anon_client.get(sent["Location"]).content.decode().replace(email, "ADDRESS")
        return sent["Location"] + re.sub(r'"X-CSRFToken": "[^"]+"', "", text)

    assert page(owner.email) == page("fresh@example.com")
    assert "A new account can sign in with its password right away" in page("third@example.com")
    assert get_user_model().objects.filter(email=owner.email).count() == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["fresh@example.com", owner.email, "third@example.com"]
    owner.refresh_from_db()
    assert owner.check_password(password)  # untouched


@pytest.mark.parametrize("weak", ["123456", "password", "qwerty1", "owner@example", "12345678901"])
def test_signup_refuses_common_short_and_numeric_passwords(anon_client, db, weak):
    response = anon_client.post(
        "/accounts/signup/", {"email": "owner@example.com", "password1": weak, "password2": weak}
    )
    assert response.status_code == 200
    assert b"password" in response.content and b'value="owner@example.com"' in response.content
    assert not get_user_model().objects.filter(email="owner@example.com").exists()


def test_password_reset_does_not_reveal_whether_an_address_has_an_account(anon_client, owner):
    known = anon_client.post("/accounts/password/reset/", {"email": owner.email})
    unknown = anon_client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    # What the page says is what happened: both addresses got an e-mail.
    assert "handed to the mail system" in anon_client.get(known["Location"]).content.decode()
    assert sorted(m.to[0] for m in mail.outbox) == ["nobody@example.com", owner.email]


@pytest.fixture
def fresh_rate_limits():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_a_stranger_guessing_passwords_does_not_lock_out_the_owner(anon_client, owner, password, fresh_rate_limits):
    from django.test import Client

    stranger = Client(REMOTE_ADDR="203.0.113.9")
    replies = [
        stranger.post("/accounts/login/", {"login": owner.email, "password": f"guess{i}"}).content for i in range(7)
    ]
    assert b"Too many failed login attempts" in replies[-1]
    locked = stranger.post("/accounts/login/", {"login": owner.email, "password": password})
    assert b"Too many failed login attempts" in locked.content
    mine = Client(REMOTE_ADDR="198.51.100.7")
    assert mine.post("/accounts/login/", {"login": owner.email, "password": password}).status_code == 302
    assert mine.get("/").context["user"] == owner


def test_behind_a_proxy_the_forwarded_client_address_counts(owner, password, fresh_rate_limits, settings):
    from django.test import Client

    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    stranger = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
    for i in range(7):
        stranger.post("/accounts/login/", {"login": owner.email, "password": f"guess{i}"})
    mine = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert mine.post("/accounts/login/", {"login": owner.email, "password": password}).status_code == 302


def test_an_idle_session_is_signed_out(owner_client, owner, settings):
    from command_site.idle_sessions import LAST_SEEN

    settings.COMMAND_SESSION_IDLE_SECONDS = 600
    assert owner_client.get("/").context["user"] == owner
    session = owner_client.session
    assert session[LAST_SEEN]
    session[LAST_SEEN] -= 601
    session.save()
    response = owner_client.get("/")
    assert not response.context["user"].is_authenticated
    assert "signed out after 10 minutes without activity" in response.content.decode()
    assert owner_client.get("/workspaces/").status_code == 302  # and stays signed out


def test_an_active_session_stays_signed_in(owner_client, owner, settings):
    from command_site.idle_sessions import LAST_SEEN

    settings.COMMAND_SESSION_IDLE_SECONDS = 600
    owner_client.get("/")
    session = owner_client.session
    session[LAST_SEEN] -= 599
    session.save()
    assert owner_client.get("/").context["user"] == owner


def test_signup_with_a_bad_password_explains_and_keeps_the_email(anon_client, db):
    response = anon_client.post(
        "/accounts/signup/", {"email": "new@example.com", "password1": "abc", "password2": "abc"}
    )
    assert response.status_code == 200
    assert b"too short" in response.content
    assert b'value="new@example.com"' in response.content
    assert not get_user_model().objects.filter(email="new@example.com").exists()


def test_login_and_logout(anon_client, owner, password):
    response = anon_client.post("/accounts/login/", {"login": owner.email, "password": password})
    assert response.status_code == 302
    assert anon_client.get("/").context["user"] == owner
    anon_client.post("/accounts/logout/")
    assert not anon_client.get("/").context["user"].is_authenticated


def test_wrong_password_is_refused(anon_client, owner):
    response = anon_client.post("/accounts/login/", {"login": owner.email, "password": "wrong"})
    assert response.status_code == 200
    assert b"not correct" in response.content


def test_password_reset_sends_a_working_link(anon_client, owner):
    anon_client.post("/accounts/password/reset/", {"email": owner.email})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)
    response = anon_client.get(link, follow=True)
    new_password = "a brand new password 99"
    response = anon_client.post(response.redirect_chain[-1][0], {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(new_password)


def test_failed_logins_are_rate_limited(anon_client, owner, settings):
    from django.core.cache import cache

    cache.clear()
    replies = [
        anon_client.post("/accounts/login/", {"login": owner.email, "password": f"wrong{i}"}).content for i in range(7)
    ]
    assert b"Too many failed login attempts" not in replies[0]
    assert b"Too many failed login attempts" in replies[-1]
    # Even the right password is refused while the limit holds.
    from conftest import PASSWORD

    locked = anon_client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD})
    assert b"Too many failed login attempts" in locked.content
    assert not anon_client.get("/").context["user"].is_authenticated
    cache.clear()


def test_admin_login_goes_through_the_rate_limited_login(anon_client, db):
    response = anon_client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_superuser_reaches_the_back_office(client, db, django_user_model):
    admin = django_user_model.objects.create_superuser("admin@example.com", "admin@example.com", "pw-admin-123456")
    client.force_login(admin)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/tasks/task/").status_code == 200


def test_createsuperuser_command_works(db):
    from django.core.management import call_command

    call_command("createsuperuser", "--no-input", username="root", email="root@example.com")
    assert get_user_model().objects.get(username="root").is_superuser


# --- OpenID Connect against a real provider on 127.0.0.1 ------------------------------------


@pytest.fixture
def oidc_server():
    from oidc_provider_mock import app as oidc_app

    server = make_server("127.0.0.1", 0, oidc_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_openid_connect_login_end_to_end(anon_client, db, settings, oidc_server):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "oidc",
                    "name": "Test SSO",
                    "client_id": "command-test",
                    "secret": "command-secret",
                    "settings": {"server_url": oidc_server},
                }
            ]
        }
    }
    login_page = anon_client.get("/accounts/login/")
    assert b"Test SSO" in login_page.content

    # allauth needs a POST to start the flow; it redirects to the provider's authorize endpoint.
    start = anon_client.post("/accounts/oidc/oidc/login/")
    assert start.status_code == 302
    authorize_url = start["Location"]
    assert authorize_url.startswith(f"{oidc_server}/oauth2/authorize")

    # The person signs in at the provider (a real HTTP form post), which redirects back with a code.
    reply = httpx.post(authorize_url, data={"sub": "sso-person@example.com"}, follow_redirects=False)
    assert reply.status_code in (302, 303)
    callback = urlparse(reply.headers["location"])
    assert callback.path == "/accounts/oidc/oidc/login/callback/"
    assert "code" in parse_qs(callback.query)

    # allauth exchanges the code with the provider over real HTTP and signs the person in.
    finished = anon_client.get(f"{callback.path}?{callback.query}", follow=True)
    assert finished.status_code == 200
    user = finished.context["user"]
    assert user.is_authenticated
    assert user.email == "sso-person@example.com"
    assert user.socialaccount_set.get().provider == "oidc"
