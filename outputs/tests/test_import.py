"""Import back: an asset from the library becomes an input of a new request (owner only)."""

from __future__ import annotations

from tasks.models import Task


def test_landing_shows_the_imported_asset(deliver, generated, owner_client):
    asset = deliver(generated["pdf"])
    html = owner_client.get("/", {"import": str(asset.id)}).content.decode()
    assert f'name="import_asset" value="{asset.id}"' in html and "One-page proposal" in html


def test_submitting_creates_a_task_carrying_the_asset(deliver, generated, owner_client, owner):
    asset = deliver(generated["presentation"])
    response = owner_client.post(
        "/",
        {
            "prompt": "Turn this deck into a one-page summary",
            "mode": "create",
            "expertise": "new",
            "tone": "mixed",
            "import_asset": str(asset.id),
        },
    )
    assert response.status_code == 302
    task = Task.objects.filter(owner=owner).exclude(pk=asset.task_id).get()
    assert task.raw_prompt == "Turn this deck into a one-page summary"
    assert task.context["imported_assets"] == [
        {"id": str(asset.id), "title": asset.title, "category": "presentation", "version": 1, "sha256": asset.sha256}
    ]


def test_another_users_asset_cannot_be_imported(deliver, generated, other_client, other_user):
    asset = deliver(generated["image"])
    shown = other_client.get("/", {"import": str(asset.id)})
    assert shown.status_code == 404 and "Northwind Cloud brand kit" not in shown.content.decode()
    before = Task.objects.filter(owner=other_user).count()
    response = other_client.post(
        "/",
        {
            "prompt": "Use their logo",
            "mode": "create",
            "expertise": "new",
            "tone": "mixed",
            "import_asset": str(asset.id),
        },
    )
    assert response.status_code == 400 and "not in your library" in response.content.decode()
    assert "Use their logo" in response.content.decode()  # the typed request is not lost
    assert Task.objects.filter(owner=other_user).count() == before


def test_a_malformed_import_id_is_a_clear_error(owner_client):
    response = owner_client.get("/", {"import": "not-a-uuid"})
    assert response.status_code == 404 and "not in your library" in response.content.decode()
