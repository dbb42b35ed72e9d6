"""Shared fixtures: fixed personas (owner, other user, anonymous) used by every permission test."""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM must still be usable.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct horse battery staple 42"

# The scripted model server's fixture (`scripted_model`), for every app's tests.
pytest_plugins = ["providers.tests.scripted_model"]


@pytest.fixture(scope="session", autouse=True)
def _release_stray_database_sessions(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end the sessions this run left open on it elsewhere.

    Playwright's sync API runs browser tests in a greenlet with its own context, so the database
    connection a browser test's body opens is not one Django's teardown can reach; on PostgreSQL
    that session, idle, made the drop fail ("being accessed by other users")."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        own = connection.connection.info.backend_pid if connection.connection is not None else None
        name = connection.settings_dict["NAME"]
        with connection._nodb_cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid() AND pid IS DISTINCT FROM %s AND state = 'idle'",
                [name, own],
            )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are created per test; the production hasher costs ~0.5 s per user on a small machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _test_folders_are_workspace_roots(settings, tmp_path_factory):
    # Every test keeps its workspace folders under pytest's base temp folder; making it the
    # workspace root (and keeping snapshots beside it) lets the real path-safety rules apply.
    base = tmp_path_factory.getbasetemp()
    settings.COMMAND_WORKSPACE_ROOTS = [base]
    settings.COMMAND_SNAPSHOT_DIR = base / "_snapshots"
    settings.COMMAND_SANDBOX_HOME_DIR = base / "_sandbox"


@pytest.fixture
def password() -> str:
    return PASSWORD


def _make_user(django_user_model, email: str):
    from allauth.account.models import EmailAddress

    user = django_user_model.objects.create_user(username=email, email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


@pytest.fixture
def owner(db, django_user_model):
    return _make_user(django_user_model, "owner@example.com")


@pytest.fixture
def other_user(db, django_user_model):
    return _make_user(django_user_model, "other@example.com")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def other_client(db, other_user):
    from django.test import Client

    c = Client()
    c.force_login(other_user)
    return c


@pytest.fixture
def anon_client(db):
    from django.test import Client

    return Client()


def _signed_in_chromium_page(live_server, owner, client, **context_options):
    from django.conf import settings

    from command_site.testing import chromium_browser

    client.force_login(owner)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    with chromium_browser() as browser:
        context = browser.new_context(**context_options)
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        yield context.new_page()


@pytest.fixture
def browser_page(live_server, owner, client):
    """A Chromium page signed in as `owner` against pytest-django's live server (CSP enforced)."""
    yield from _signed_in_chromium_page(live_server, owner, client)


@pytest.fixture
def browser_page_without_csp(live_server, owner, client):
    """The same, with the pages' Content-Security-Policy bypassed: Playwright's wait_for_function
    evaluates strings, which the policy forbids (the policy is tested in
    command_site/tests/test_browser_headers.py)."""
    yield from _signed_in_chromium_page(live_server, owner, client, bypass_csp=True)


def _flush_retrying_deadlocks() -> None:
    """A transactional test's teardown flushes every table with TRUNCATE. With a real worker still
    polling the queue (the browser tests' module-wide stack), PostgreSQL can pick the TRUNCATE as a
    deadlock victim; the flush is then tried again instead of leaving the next test a dirty database."""
    import time

    from django.db import OperationalError
    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def teardown(self):
        for attempt in range(5):
            try:
                return original(self)
            except Exception as exc:  # CommandError wraps the OperationalError of a failed flush
                cause = exc if isinstance(exc, OperationalError) else exc.__cause__ or exc.__context__
                if attempt == 4 or not isinstance(cause, OperationalError) or "deadlock" not in str(cause):
                    raise
                time.sleep(0.2 * (attempt + 1))

    TransactionTestCase._fixture_teardown = teardown


_flush_retrying_deadlocks()
