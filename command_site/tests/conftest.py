"""A real daphne for the site-level security tests (origins, request sizes, headers)."""

from __future__ import annotations

import pytest

from command_site.testing import daphne_process


@pytest.fixture(scope="module")
def daphne_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """daphne serving Command (HTTP + websockets) on this run's test database, for the module."""
    logs = tmp_path_factory.mktemp("daphne")
    with django_db_blocker.unblock(), daphne_process(logs / "daphne.log", COMMAND_TAIL_INTERVAL="0.2") as url:
        yield url
