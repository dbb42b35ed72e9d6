"""Database ids in URLs: one too large for a 64-bit column is simply not found (never a 500)."""

from __future__ import annotations

import pytest
from django.urls import reverse


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("tasks:run_status", {"run_id": 1}),
        ("tasks:run_events", {"run_id": 1}),
        ("tasks:run_priority", {"run_id": 1}),
        ("tasks:run_control", {"run_id": 1, "action": "stop"}),
        ("approvals:memory_forget", {"kind": "preference", "item_id": 1}),
    ],
)
def test_an_id_too_large_for_the_database_is_not_found(owner_client, name, kwargs):
    url = reverse(name, kwargs=kwargs).replace("/1/", "/99999999999999999999/")
    assert "99999999999999999999" in url
    assert owner_client.get(url).status_code in (404, 405)
    assert owner_client.post(url).status_code == 404
