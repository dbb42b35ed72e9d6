"""Workspace pages over HTTP: flows a user sees, and ownership on every URL."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from workspaces.models import FileChange, RollbackPoint, Workspace
from workspaces.services import file_write, rollback_point_create, workspace_root


@pytest.fixture
def site(workspace):
    root = Path(workspace_root(workspace=workspace))
    (root / "index.html").write_text('<h1>Acme</h1>\n<link rel="stylesheet" href="site.css">\n')
    (root / "site.css").write_text("h1 { color: red; }\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (root / "payload.exe").write_bytes(b"MZ" + bytes(10))
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("x")
    return root


@pytest.fixture
def recorded(workspace, site):
    point = rollback_point_create(workspace=workspace, kind=RollbackPoint.Kind.MANUAL)
    change = file_write(workspace=workspace, path="site.css", content=b"h1 { color: blue; }\n")
    return point, change


def _urls(workspace, point, change):
    ws = workspace.pk
    return [
        ("get", reverse("workspaces:detail", args=[ws])),
        ("get", reverse("workspaces:tree", args=[ws]) + "?path="),
        ("get", reverse("workspaces:file", args=[ws]) + "?path=index.html"),
        ("post", reverse("workspaces:file_save", args=[ws])),
        ("get", reverse("workspaces:changes", args=[ws])),
        ("get", reverse("workspaces:change", args=[ws, change.pk])),
        ("post", reverse("workspaces:checkpoint", args=[ws])),
        ("get", reverse("workspaces:point_revert", args=[ws, point.pk])),
        ("post", reverse("workspaces:point_revert", args=[ws, point.pk])),
        ("post", reverse("workspaces:relink", args=[ws])),
        ("post", reverse("workspaces:forget", args=[ws])),
        ("get", reverse("workspaces:preview", args=[ws])),
    ]


def test_other_users_get_404_and_anonymous_users_are_sent_to_login(
    workspace, recorded, other_client, anon_client, site
):
    point, change = recorded
    before = (site / "site.css").read_text()
    for method, url in _urls(workspace, point, change):
        data = {"path": "site.css", "content": "pwned", "base_sha": change.after_sha, "confirm_overwrite": "on"}
        response = getattr(other_client, method)(url, data)
        assert response.status_code == 404, url
        response = getattr(anon_client, method)(url, data)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    assert (site / "site.css").read_text() == before
    assert Workspace.objects.filter(pk=workspace.pk).exists()
    assert RollbackPoint.objects.filter(workspace=workspace).count() == 1


def test_preview_files_need_the_owners_token(workspace, site, owner_client, other_client, anon_client):
    entry = owner_client.get(reverse("workspaces:preview", args=[workspace.pk]))
    assert entry.status_code == 302
    url = entry["Location"]
    page = owner_client.get(url)
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert page["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in page["Content-Security-Policy"] and "frame-ancestors 'self'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "SAMEORIGIN"
    # The sandboxed frame's sub-requests carry no session: the token authorises them.
    css = anon_client.get(url.replace("index.html", "site.css"))
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    assert other_client.get(url).status_code == 404  # another signed-in user, even with the link
    forged = url.split("/preview/")[0] + "/preview/not-a-token/index.html"
    assert anon_client.get(forged).status_code == 404
    other_ws = reverse(
        "workspaces:preview_file",
        args=[
            Workspace.objects.create(owner=workspace.owner, name="b", path="/nowhere").pk,
            url.split("/preview/")[1].split("/")[0],
            "index.html",
        ],
    )
    assert owner_client.get(other_ws).status_code == 404  # a token is bound to its workspace


def test_preview_refuses_traversal_and_serves_unknown_types_as_downloads(workspace, site, owner_client, roots):
    url = owner_client.get(reverse("workspaces:preview", args=[workspace.pk]))["Location"]
    base = url.rsplit("/", 1)[0]
    for attack in ("..%2f..%2foutside%2fsecret.txt", "%2e%2e/%2e%2e/outside/secret.txt", "..%252fsecret"):
        response = owner_client.get(f"{base}/{attack}")
        assert response.status_code in (400, 404), attack
        assert b"outside secret" not in response.content
    exe = owner_client.get(f"{base}/payload.exe")
    assert exe["Content-Type"] == "application/octet-stream"
    assert exe["Content-Disposition"].startswith("attachment")
    assert exe["X-Content-Type-Options"] == "nosniff"


def test_workspace_page_shows_tree_with_collapsed_folders_changes_and_points(workspace, recorded, owner_client):
    response = owner_client.get(reverse("workspaces:detail", args=[workspace.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "index.html" in body and "node_modules/" in body and "collapsed" in body
    assert "Edited site.css: +1 −1 lines" in body
    assert "Checkpoint now" in body and 'sandbox="allow-scripts allow-forms allow-popups"' in body
    tree = owner_client.get(reverse("workspaces:tree", args=[workspace.pk]), {"path": "node_modules"})
    assert "dep/" in tree.content.decode()


def test_file_view_shows_text_with_line_numbers_and_binary_as_metadata(workspace, site, owner_client):
    url = reverse("workspaces:file", args=[workspace.pk])
    text = owner_client.get(url, {"path": "index.html"}, HTTP_HX_REQUEST="true").content.decode()
    assert '<ol class="ws-code"' in text and "&lt;h1&gt;Acme&lt;/h1&gt;" in text
    binary = owner_client.get(url, {"path": "logo.png"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Binary file" in binary and "ws-code" not in binary
    refused = owner_client.get(url, {"path": "../outside/secret.txt"})
    assert refused.status_code == 400 and "climb out" in refused.content.decode()
    assert owner_client.get(url, {"path": "nope.txt"}).status_code == 404


def test_editor_saves_a_change_and_refuses_when_the_file_changed_on_disk(workspace, site, owner_client, owner):
    view = owner_client.get(reverse("workspaces:file", args=[workspace.pk]), {"path": "site.css", "edit": "1"})
    body = view.content.decode()
    assert "<textarea" in body
    base_sha = body.split('name="base_sha" value="')[1].split('"')[0]
    save = reverse("workspaces:file_save", args=[workspace.pk])
    ok = owner_client.post(save, {"path": "site.css", "content": "h1 { color: green; }\n", "base_sha": base_sha})
    assert ok.status_code == 200 and "Edited site.css" in ok.content.decode()
    change = FileChange.objects.get(workspace=workspace, path="site.css")
    assert change.actor == "editor" and change.by_user == owner

    (site / "site.css").write_text("h1 { color: purple; }\n")  # someone else, meanwhile
    stale = owner_client.post(save, {"path": "site.css", "content": "mine\n", "base_sha": change.after_sha})
    text = stale.content.decode()
    assert stale.status_code == 409
    assert "changed on disk" in text and "purple" in text and "mine" in text
    assert (site / "site.css").read_text() == "h1 { color: purple; }\n"


def test_diff_page_inline_and_side_by_side_is_escaped(workspace, site, owner_client):
    change = file_write(workspace=workspace, path="index.html", content=b"<h1>Acme <script>alert(1)</script></h1>\n")
    url = reverse("workspaces:change", args=[workspace.pk, change.pk])
    inline = owner_client.get(url).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in inline and "<script>alert(1)" not in inline
    assert "ws-diff-inline" in inline
    split = owner_client.get(url, {"layout": "split"}, HTTP_HX_REQUEST="true").content.decode()
    assert "ws-diff-split" in split
    binary = file_write(workspace=workspace, path="logo.png", content=b"\x89PNG\r\n\x1a\n" + bytes(14 * 1024))
    shown = owner_client.get(reverse("workspaces:change", args=[workspace.pk, binary.pk])).content.decode()
    assert "Binary, 208 B → 14 KB." in shown


def test_checkpoint_and_revert_with_confirmation(workspace, site, owner_client, owner):
    owner_client.post(reverse("workspaces:checkpoint", args=[workspace.pk]), {"note": "before my experiment"})
    point = RollbackPoint.objects.get(workspace=workspace)
    assert point.kind == "manual" and point.note == "before my experiment" and point.created_by == owner
    (site / "site.css").write_text("changed outside Command\n")
    url = reverse("workspaces:point_revert", args=[workspace.pk, point.pk])
    check = owner_client.get(url).content.decode()
    assert "Partly revertible" in check and "changed after this point" in check and "node_modules" in check
    asked = owner_client.post(url, {})
    assert asked.status_code == 409 and (site / "site.css").read_text() == "changed outside Command\n"
    done = owner_client.post(url, {"confirm_overwrite": "on"})
    assert done.status_code == 200 and "Restored 1 file" in done.content.decode()
    assert (site / "site.css").read_text() == "h1 { color: red; }\n"


def test_missing_folder_is_shown_as_missing_then_relinked_or_forgotten(workspace, site, owner_client, roots):
    moved = roots["main"] / "moved-here"
    site.rename(moved)
    page = owner_client.get(reverse("workspaces:detail", args=[workspace.pk])).content.decode()
    assert "This folder is missing" in page and "Relink" in page and "Forget this workspace" in page
    assert "ws-tree" not in page
    refused = owner_client.post(
        reverse("workspaces:relink", args=[workspace.pk]), {"path": str(roots["outside"])}, follow=True
    )
    assert "only live inside the configured workspace roots" in refused.content.decode()
    owner_client.post(reverse("workspaces:relink", args=[workspace.pk]), {"path": str(moved)})
    workspace.refresh_from_db()
    assert workspace.path == str(moved)
    assert (
        "This folder is missing"
        not in owner_client.get(reverse("workspaces:detail", args=[workspace.pk])).content.decode()
    )
    owner_client.post(reverse("workspaces:forget", args=[workspace.pk]))
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert (moved / "index.html").exists()  # forgetting never touches the folder


def test_index_creates_registers_and_imports_with_clear_errors(owner_client, owner, roots):
    url = reverse("workspaces:index")
    assert "No workspaces yet" in owner_client.get(url).content.decode()
    created = owner_client.post(url, {"action": "create", "create-name": "Landing page"})
    assert created.status_code == 302
    workspace = Workspace.objects.get(owner=owner, name="Landing page")
    assert Path(workspace.path).is_dir() and Path(workspace.path).parent == roots["main"]

    existing = roots["main"] / "existing"
    existing.mkdir()
    assert owner_client.post(url, {"action": "register", "register-path": str(existing)}).status_code == 302
    bad = owner_client.post(url, {"action": "register", "register-path": str(roots["sibling"])})
    assert bad.status_code == 400 and "configured workspace roots" in bad.content.decode()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("site/index.html", "<h1>zip</h1>")
    upload = io.BytesIO(buffer.getvalue())
    upload.name = "site.zip"
    imported = owner_client.post(url, {"action": "import", "import-name": "Zipped", "import-archive": upload})
    assert imported.status_code == 302
    assert (Path(Workspace.objects.get(name="Zipped").path) / "site" / "index.html").read_text() == "<h1>zip</h1>"
    listing = owner_client.get(url).content.decode()
    assert "Landing page" in listing and "Zipped" in listing and "Available" in listing


def test_run_revert_page(workspace, site, owner_client, owner):
    from tasks.models import PlanRevision, Task, TaskRun

    task = Task.objects.create(owner=owner, raw_prompt="x", workspace=workspace)
    run = TaskRun.objects.create(
        task=task, owner=owner, plan_revision=PlanRevision.objects.create(task=task, number=1), workspace=workspace
    )
    file_write(workspace=workspace, path="site.css", content=b"by the run\n", run=run)
    url = reverse("workspaces:run_revert", args=[workspace.pk, run.pk])
    assert "Restore <code>site.css</code>" in owner_client.get(url).content.decode()
    assert owner_client.post(url).status_code == 200
    assert (site / "site.css").read_text() == "h1 { color: red; }\n"
    assert owner_client.get(reverse("workspaces:run_revert", args=[workspace.pk, run.pk + 999])).status_code == 404


def test_large_folders_are_paginated(workspace, owner_client):
    root = Path(workspace_root(workspace=workspace))
    (root / "many").mkdir()
    for i in range(230):
        (root / "many" / f"f{i:03d}.txt").write_text("x")
    url = reverse("workspaces:tree", args=[workspace.pk])
    first = owner_client.get(url, {"path": "many"}).content.decode()
    assert "f000.txt" in first and "f199.txt" in first and "f200.txt" not in first
    assert "Show more (230 entries in all)" in first
    second = owner_client.get(url, {"path": "many", "page": 2}).content.decode()
    assert "f200.txt" in second and "f229.txt" in second and "Show more" not in second


def test_preview_refuses_a_symlink_leading_outside(workspace, site, owner_client, roots):
    os.symlink(roots["outside"] / "secret.txt", site / "leak.txt")
    url = owner_client.get(reverse("workspaces:preview", args=[workspace.pk]))["Location"]
    response = owner_client.get(url.rsplit("/", 1)[0] + "/leak.txt")
    assert response.status_code == 400 and b"outside secret" not in response.content


def test_no_preview_without_an_index_page(workspace, owner_client):
    page = owner_client.get(reverse("workspaces:detail", args=[workspace.pk])).content.decode()
    assert "<iframe" not in page and "This folder is empty." in page


def test_editor_keeps_the_files_line_endings(workspace, owner_client):
    from workspaces.services import file_state

    root = Path(workspace_root(workspace=workspace))
    (root / "win.txt").write_bytes(b"one\r\ntwo\r\n")
    (root / "unix.txt").write_bytes(b"one\ntwo\n")
    save = reverse("workspaces:file_save", args=[workspace.pk])
    for name, expected in (("win.txt", b"one\r\nTWO\r\n"), ("unix.txt", b"one\nTWO\n")):
        sha = file_state(root=str(root), path=name).sha
        owner_client.post(save, {"path": name, "content": "one\r\nTWO\r\n", "base_sha": sha})
        assert (root / name).read_bytes() == expected
    change = FileChange.objects.get(path="win.txt")
    assert (change.added_lines, change.removed_lines) == (1, 1)


def test_admin_back_office_lists_and_reverts(workspace, recorded, client, django_user_model, site):
    admin_user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(admin_user)
    for name in ("workspace", "filechange", "rollbackpoint"):
        response = client.get(reverse(f"admin:workspaces_{name}_changelist"))
        assert response.status_code == 200, name
    point, change = recorded
    assert client.get(reverse("admin:workspaces_filechange_change", args=[change.pk])).status_code == 200
    response = client.post(
        reverse("admin:workspaces_rollbackpoint_changelist"),
        {"action": "revert_points", "_selected_action": [point.pk]},
        follow=True,
    )
    assert "Restored 1 file" in response.content.decode()
    assert (site / "site.css").read_text() == "h1 { color: red; }\n"


def _run_that_changed(workspace, owner, path: str, content: bytes):
    from tasks.models import PlanRevision, Task, TaskRun

    task = Task.objects.create(owner=owner, raw_prompt="x", workspace=workspace)
    run = TaskRun.objects.create(
        task=task, owner=owner, plan_revision=PlanRevision.objects.create(task=task, number=1), workspace=workspace
    )
    file_write(workspace=workspace, path=path, content=content, run=run)
    return run


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_revert_into_a_folder_swapped_for_a_link_is_refused_in_words(
    workspace, site, owner_client, owner, roots, method
):
    root = Path(workspace_root(workspace=workspace))
    (root / "css").mkdir()
    (root / "css" / "site.css").write_text("before\n")
    point = rollback_point_create(
        workspace=workspace, kind=RollbackPoint.Kind.PRE_EDIT, paths_in_scope=["css/site.css"]
    )
    run = _run_that_changed(workspace, owner, "css/site.css", b"by the run\n")
    (root / "css").rename(root / "css-moved")
    os.symlink(roots["outside"], root / "css")  # the folder is now a link out of the workspace
    url = reverse("workspaces:run_revert", args=[workspace.pk, run.pk])
    response = getattr(owner_client, method)(url)
    assert response.status_code in (200, 409)
    assert "css" in response.content.decode()
    assert sorted(os.listdir(roots["outside"])) == ["secret.txt"]  # nothing written through the link
    response = getattr(owner_client, method)(reverse("workspaces:point_revert", args=[workspace.pk, point.pk]))
    assert response.status_code in (200, 409) and "outside the workspace" in response.content.decode()
    assert sorted(os.listdir(roots["outside"])) == ["secret.txt"]


@pytest.mark.parametrize(
    "name",
    ["workspaces:run_revert", "workspaces:point_revert", "workspaces:change"],
)
def test_an_id_beyond_the_databases_range_is_not_found(workspace, owner_client, name):
    url = reverse(name, args=[workspace.pk, 1]).replace("/1/", "/99999999999999999999/")
    assert owner_client.get(url).status_code == 404
    assert owner_client.post(url).status_code in (404, 405)
