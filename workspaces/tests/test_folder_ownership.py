"""A folder belongs to one account: nobody else registers it, its parent or its child, and the
refusal never tells whether a path exists. An admin can hand a workspace to another account."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from workspaces.models import Workspace
from workspaces.services import (
    WorkspaceError,
    workspace_create,
    workspace_register,
    workspace_relink,
    workspace_transfer,
)


@pytest.fixture
def alices(roots, owner):
    folder = roots["main"] / "alice-project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "secret.txt").write_text("alice's")
    return workspace_register(owner=owner, path=str(folder))


def _refusal(owner, path) -> str:
    with pytest.raises(WorkspaceError) as caught:
        workspace_register(owner=owner, path=str(path))
    return str(caught.value)


def test_another_account_cannot_register_the_folder_its_parent_or_its_child(alices, other_user, roots):
    folder = roots["main"] / "alice-project"
    for path in (folder, folder / "src", roots["main"] / "alice-project" / ".." / "alice-project"):
        _refusal(other_user, path)
    # Her folder sits in a parent the other account tries to take whole.
    wrapper = roots["main"] / "team"
    (wrapper / "alice").mkdir(parents=True)
    workspace_relink(workspace=alices, path=str(wrapper / "alice"))
    _refusal(other_user, wrapper)
    # A symlink to her folder is her folder.
    os.symlink(wrapper / "alice", roots["main"] / "shortcut")
    _refusal(other_user, roots["main"] / "shortcut")
    assert not Workspace.objects.filter(owner=other_user).exists()


def test_the_refusal_is_the_same_for_a_foreign_a_missing_a_file_and_an_unreadable_path(alices, other_user, roots):
    (roots["main"] / "file.txt").write_text("x")
    messages = {
        _refusal(other_user, roots["main"] / "alice-project" / "src").replace("alice-project/src", "P"),
        _refusal(other_user, roots["main"] / "alice-project" / "nope").replace("alice-project/nope", "P"),
        _refusal(other_user, roots["main"] / "nothing-here").replace("nothing-here", "P"),
        _refusal(other_user, roots["main"] / "file.txt").replace("file.txt", "P"),
    }
    assert len(messages) == 1, messages
    assert "alice" not in messages.pop()


def test_the_owner_can_still_nest_her_own_folders_and_others_keep_their_own(alices, owner, other_user, roots):
    assert workspace_register(owner=owner, path=str(roots["main"] / "alice-project" / "src"))
    (roots["main"] / "bobs").mkdir()
    assert workspace_register(owner=other_user, path=str(roots["main"] / "bobs"))
    assert workspace_create(owner=other_user, name="Fresh")


def test_relinking_onto_another_accounts_folder_is_refused(alices, other_user, roots):
    (roots["main"] / "bobs").mkdir()
    bobs = workspace_register(owner=other_user, path=str(roots["main"] / "bobs"))
    with pytest.raises(WorkspaceError, match="no folder .* you can use"):
        workspace_relink(workspace=bobs, path=str(roots["main"] / "alice-project" / "src"))
    bobs.refresh_from_db()
    assert bobs.path == str(roots["main"] / "bobs")


def test_the_register_form_says_the_same_for_foreign_and_missing(alices, other_client, roots):
    url = reverse("workspaces:index")
    foreign = other_client.post(url, {"action": "register", "register-path": str(roots["main"] / "alice-project")})
    missing = other_client.post(url, {"action": "register", "register-path": str(roots["main"] / "alice-projecT")})
    assert foreign.status_code == missing.status_code == 400
    assert "no folder at" in foreign.content.decode() and "no folder at" in missing.content.decode()


def test_transfer_hands_the_workspace_and_its_history_to_the_new_account(alices, owner, other_user, roots):
    from approvals.models import ApprovalPreference
    from tasks.models import Task

    nested = workspace_register(owner=owner, path=str(roots["main"] / "alice-project" / "src"))
    task = Task.objects.create(owner=owner, raw_prompt="x", workspace=alices)
    ApprovalPreference.objects.create(
        owner=owner, category="run_command", scope="workspace", workspace=alices, decision="allow"
    )
    with pytest.raises(WorkspaceError, match="src"):
        # Her nested folder would stay hers inside a folder that is no longer hers.
        workspace_transfer(workspaces=[alices], to_owner=other_user)
    moved = workspace_transfer(workspaces=[alices, nested], to_owner=other_user)
    assert {w.pk for w in moved} == {alices.pk, nested.pk}
    assert set(Workspace.objects.filter(owner=other_user)) == {alices, nested}
    # Her old request keeps its history but can no longer start work in a folder that is not hers.
    task.refresh_from_db()
    assert task.workspace is None and task.raw_prompt == "x"
    assert not ApprovalPreference.objects.filter(workspace=alices).exists()
    # And now she is the outsider.
    _refusal(owner, roots["main"] / "alice-project")


def test_transfer_waits_for_unfinished_runs(alices, owner, other_user):
    from tasks.models import PlanRevision, Task, TaskRun

    task = Task.objects.create(owner=owner, raw_prompt="x", workspace=alices)
    revision = PlanRevision.objects.create(task=task, number=1)
    TaskRun.objects.create(task=task, owner=owner, plan_revision=revision, workspace=alices, state="waiting_approval")
    with pytest.raises(WorkspaceError, match="unfinished"):
        workspace_transfer(workspaces=[alices], to_owner=other_user)
    assert Workspace.objects.get(pk=alices.pk).owner == owner


def test_admin_transfer_action(alices, client, django_user_model, other_user):
    admin_user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(admin_user)
    url = reverse("admin:workspaces_workspace_changelist")
    form = client.post(url, {"action": "transfer_workspaces", "_selected_action": [str(alices.pk)]})
    assert form.status_code == 200 and "Transfer" in form.content.decode()
    done = client.post(
        url,
        {
            "action": "transfer_workspaces",
            "_selected_action": [str(alices.pk)],
            "apply": "1",
            "to_owner": other_user.email,
        },
        follow=True,
    )
    assert done.status_code == 200
    assert Workspace.objects.get(pk=alices.pk).owner == other_user
    refused = client.post(
        url,
        {"action": "transfer_workspaces", "_selected_action": [str(alices.pk)], "apply": "1", "to_owner": "x@nowhere"},
    )
    assert "No account" in refused.content.decode()


def test_the_admin_lists_folders_two_accounts_claimed_before_the_rule(alices, other_user, client, django_user_model):
    # A claim from before folders belonged to one account (written directly, as an old install holds it).
    older = Workspace.objects.create(owner=other_user, name="Bob's copy", path=alices.path + "/src")
    admin_user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(admin_user)
    page = client.get(reverse("admin:workspaces_workspace_changelist")).content.decode()
    assert "other@example.com (Bob&#x27;s copy)" in page and "owner@example.com (" in page
    workspace_transfer(workspaces=[older], to_owner=alices.owner)
    page = client.get(reverse("admin:workspaces_workspace_changelist")).content.decode()
    assert "Bob&#x27;s copy)" not in page
