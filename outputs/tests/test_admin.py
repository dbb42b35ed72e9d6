"""The back office lists assets and re-checks their stored bytes; it cannot invent assets."""

from __future__ import annotations

from django.urls import reverse


def test_admin_lists_assets_and_rechecks_stored_bytes(client, django_user_model, deliver, generated):
    asset = deliver(generated["image"])
    admin = django_user_model.objects.create_superuser(username="ops", email="ops@example.com", password="x")
    client.force_login(admin)
    changelist = reverse("admin:outputs_outputasset_changelist")
    assert asset.title in client.get(changelist).content.decode()
    assert client.get(reverse("admin:outputs_outputasset_add")).status_code == 403
    response = client.post(
        changelist, {"action": "recheck_stored_bytes", "_selected_action": [str(asset.pk)]}, follow=True
    )
    assert "All 5 checks passed." in response.content.decode()
