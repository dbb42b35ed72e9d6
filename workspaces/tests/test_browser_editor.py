"""Saving in the editor, in real Chromium: the save takes a rollback point, and the tree, the
Changes list, the rollback points and the site preview show it without a reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from command_site.testing import CHROMIUM
from workspaces.models import FileChange, RollbackPoint
from workspaces.services import workspace_root

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed"),
]


def test_a_save_takes_a_rollback_point_and_refreshes_what_shows_the_folder(
    transactional_db, live_server, browser_page, workspace
):
    root = Path(workspace_root(workspace=workspace))
    (root / "index.html").write_text("<h1>Acme</h1>\n")
    page = browser_page
    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/")
    frame = page.frame_locator(".ws-preview-frame")
    assert frame.locator("h1").inner_text() == "Acme"
    assert "index.html" not in page.inner_text("#changes-list")
    page.click("#tree-root a:has-text('index.html')")
    page.click("#file-pane button:has-text('Edit')")
    page.fill("#editor-content", "<h1>Acme Analytics, now with a much longer headline</h1>\n")
    page.click("#file-pane button:has-text('Save')")

    page.wait_for_selector("#changes-list :text('index.html')", timeout=5_000)
    frame.locator("h1:has-text('longer headline')").wait_for(timeout=5_000)  # the preview reloaded
    size = page.inner_text("#tree-root li:has(a:has-text('index.html')) .muted")
    assert size == "57\xa0bytes", size  # was 14 bytes
    page.wait_for_selector("#points-list :text('Before an edit')", timeout=5_000)

    point = RollbackPoint.objects.get(workspace=workspace, kind=RollbackPoint.Kind.PRE_EDIT)
    change = FileChange.objects.get(workspace=workspace, path="index.html")
    assert change.rollback_point_id == point.pk and point.scope_label.endswith("index.html")
