"""The side-by-side diff in real Chromium: it opens on the change's own page and uses its whole width."""

from __future__ import annotations

from pathlib import Path

import pytest

from command_site.testing import CHROMIUM
from workspaces.services import file_write, workspace_root

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed"),
]


def test_side_by_side_gets_the_full_width(transactional_db, live_server, browser_page, workspace):
    root = Path(workspace_root(workspace=workspace))
    (root / "site.css").write_text("h1 { color: red; }\n")
    change = file_write(workspace=workspace, path="site.css", content=b"h1 { color: navy; font-weight: 700; }\n")
    page = browser_page
    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/#changes")
    page.click(f"summary[hx-target='#change-body-{change.pk}']")
    page.click(f"#change-body-{change.pk} a:has-text('Side by side')")
    page.wait_for_url(f"**/changes/{change.pk}/?layout=split")
    width = page.eval_on_selector(".ws-diff-split", "t => t.getBoundingClientRect().width")
    assert width > 1400, f"the side-by-side table is {width}px wide in a 1600px window"
