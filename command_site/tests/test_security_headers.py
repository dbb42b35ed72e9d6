"""Every page's security headers, over Django's test client (the browser test checks the policy
is one the pages pass)."""

from __future__ import annotations

from pathlib import Path

from workspaces.views import PREVIEW_CSP


def test_signed_in_pages_are_not_stored_and_carry_the_policy(owner_client):
    response = owner_client.get("/workspaces/")
    assert response["Cache-Control"] == "no-store"
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "connect-src 'self' ws://testserver" in policy
    assert "geolocation=()" in response["Permissions-Policy"]


def test_signed_out_pages_carry_the_policy_and_may_be_cached(anon_client):
    response = anon_client.get("/roadmap/")
    assert "Content-Security-Policy" in response and "Permissions-Policy" in response
    assert "no-store" not in response.get("Cache-Control", "")


def test_a_response_with_its_own_policy_keeps_it(owner_client, owner):
    from workspaces.services import workspace_create

    workspace = workspace_create(owner=owner, name="Preview site")
    (Path(workspace.path) / "index.html").write_text("<h1>hi</h1>")
    response = owner_client.get(f"/workspaces/{workspace.pk}/preview/", follow=True)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == PREVIEW_CSP
    assert response["Cache-Control"] == "private, no-store"
