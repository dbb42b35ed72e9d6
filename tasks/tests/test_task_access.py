"""Task pages belong to their owner: others get 404, anonymous visitors are sent to sign in."""

from __future__ import annotations

import pytest

from tasks.services import task_submit
from workspaces.models import Workspace


@pytest.fixture
def task(owner):
    return task_submit(owner=owner, prompt="a landing page for Acme")


def test_owner_sees_the_task(owner_client, task):
    response = owner_client.get(f"/task/{task.id}/")
    assert response.status_code == 200
    assert b"a landing page for Acme" in response.content


def test_other_user_gets_404(other_client, task):
    assert other_client.get(f"/task/{task.id}/").status_code == 404


def test_anonymous_is_sent_to_sign_in(anon_client, task):
    response = anon_client.get(f"/task/{task.id}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_unknown_and_malformed_ids(owner_client):
    assert owner_client.get("/task/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert owner_client.get("/task/not-a-uuid/").status_code == 404


def test_other_users_tasks_are_not_listed(other_client, task):
    assert b"a landing page for Acme" not in other_client.get("/").content


def test_submit_refuses_someone_elses_workspace(owner, other_user):
    theirs = Workspace.objects.create(owner=other_user, name="theirs", path="/tmp/theirs-2")
    with pytest.raises(PermissionError):
        task_submit(owner=owner, prompt="edit", workspace=theirs)
