"""A refused revert in real Chromium: the server's words appear in the panel where the person
clicked, not as a generic "HTTP 409" at the top of the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from command_site.testing import CHROMIUM
from workspaces.models import RollbackPoint
from workspaces.services import rollback_point_create, workspace_root

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed"),
]


def test_a_revert_conflict_is_explained_in_the_panel(transactional_db, live_server, browser_page, workspace):
    root = Path(workspace_root(workspace=workspace))
    (root / "site.css").write_text("h1 { color: red; }\n")
    point = rollback_point_create(workspace=workspace, kind=RollbackPoint.Kind.MANUAL)
    (root / "site.css").write_text("changed outside Command\n")
    page = browser_page
    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/#rollback")
    page.click(f'button[hx-target="#revert-{point.pk}"]')
    panel = f"#revert-{point.pk} .ws-revert"
    page.wait_for_selector(f"{panel} button[type=submit]")
    page.click(f"{panel} button[type=submit]")  # without ticking "overwrite": the server answers 409
    page.wait_for_selector(f"{panel} [role=alert]", timeout=5_000)
    said = page.inner_text(f"{panel} [role=alert]")
    assert "changed after this point" in said and "Confirm to overwrite" in said
    assert "HTTP 409" not in page.inner_text("body")
    assert (root / "site.css").read_text() == "changed outside Command\n"
