"""The sandboxed website preview and the media players, in real Chromium against a live server."""

from __future__ import annotations

from pathlib import Path

import pytest

from command_site.testing import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed"),
]


def test_site_preview_renders_styled_without_scripts(
    transactional_db, live_server, browser_page, deliver, generated, copy_of
):
    from outputs.generators.base import describe_files

    out = copy_of(generated["website"])
    index = out.root_path / "index.html"
    # A generated page that carries a script (e.g. provider-written HTML) must not run it.
    index.write_text(index.read_text().replace("</body>", "<script>document.body.dataset.ran = 'yes'</script></body>"))
    out.files = describe_files(out.root_path, [out.root_path / f.path for f in out.files])
    asset = deliver(out)
    page = browser_page
    page.goto(live_server.url + asset.get_absolute_url())
    frame = page.frame_locator("iframe.site-frame")
    heading = frame.locator("h1")
    heading.wait_for()
    assert "Northwind Cloud" in heading.inner_text()
    # The stylesheet loaded inside the sandbox (the session cookie reached it): the brand navy applies.
    colour = frame.locator("a.button.primary").first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(30, 58, 138)"
    assert frame.locator("body").evaluate("b => b.dataset.ran || 'blocked'") == "blocked"
    # Opened on its own (top level), the CSP sandbox still blocks it.
    page.goto(live_server.url + f"/assets/{asset.id}/site/index.html")
    assert page.locator("body").evaluate("b => b.dataset.ran || 'blocked'") == "blocked"


def test_video_and_audio_players_load_their_media(transactional_db, live_server, browser_page, deliver, generated):
    page = browser_page
    video = deliver(generated["video"])
    page.goto(live_server.url + video.get_absolute_url())
    duration = page.locator("video").evaluate(
        "v => new Promise(r => { if (v.readyState >= 1) r(v.duration); v.onloadedmetadata = () => r(v.duration);"
        " v.onerror = () => r(-1); })"
    )
    assert abs(duration - 2.0) < 0.2
    audio = deliver(generated["audio"])
    page.goto(live_server.url + audio.get_absolute_url())
    duration = page.locator("audio").evaluate(
        "a => new Promise(r => { if (a.readyState >= 1) r(a.duration); a.onloadedmetadata = () => r(a.duration);"
        " a.onerror = () => r(-1); a.load(); })"
    )
    assert abs(duration - 2.0) < 0.2
