"""Project-level URLs (command_site.urls)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_the_mark(anon_client):
    response = anon_client.get("/favicon.ico", follow=True)
    assert response.status_code == 200 and response.redirect_chain[-1][0].endswith("/static/img/mark.svg")
