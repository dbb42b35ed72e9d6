"""The thread page's own htmx behaviour in real Chromium against pytest-django's live server
(no websocket needed): what refreshes by itself, and where a refused form's words appear."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from command_site.testing import CHROMIUM
from tasks.models import Task

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed"),
]


def _planned_task(owner, prompt="creat a landing page for Acme"):
    from tasks.planning import task_understand

    task = Task.objects.create(owner=owner, raw_prompt=prompt, title="Acme landing page")
    task_understand(task=task)
    task.refresh_from_db()
    return task


def test_the_header_badge_follows_provider_planning_without_a_reload(
    transactional_db, live_server, browser_page, owner
):
    task = _planned_task(owner)
    # As _plan_now leaves it while a provider is asked.
    pending = {"connection_id": "x", "label": "Test provider", "after_revision": 1, "since": timezone.now().isoformat()}
    Task.objects.filter(pk=task.pk).update(
        status=Task.Status.UNDERSTANDING, context={**task.context, "provider_pending": pending}
    )
    page = browser_page
    page.goto(f"{live_server.url}/command/{task.pk}/")
    badge = f"#task-status-{task.pk}"
    assert page.inner_text(badge) == "Understanding"
    # The provider's plan is stored: the page's poll brings the planning block and the header badge.
    Task.objects.filter(pk=task.pk).update(status=Task.Status.PLANNED, context=task.context)
    page.wait_for_selector("#planning:not([hx-get])", timeout=10_000)
    page.wait_for_function(f"document.querySelector('{badge}').textContent.trim() === 'Planned'", timeout=5_000)


def _pixel(png: bytes, x: int, y: int) -> tuple[int, int, int]:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB").getpixel((x, y))


def _rgb(css: str) -> tuple[int, int, int]:
    return tuple(int(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])


def test_the_side_panels_run_the_full_height_and_a_phone_shows_the_thread_first(
    transactional_db, live_server, browser_page, owner
):
    task = _planned_task(owner, prompt="a landing page for Acme\n" + "with more detail\n" * 60)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/command/{task.pk}/")
    panel = _rgb(page.eval_on_selector(".cw-left", "e => getComputedStyle(e).backgroundColor"))
    shot = page.screenshot(full_page=True)
    height = page.evaluate("document.querySelector('.cw').getBoundingClientRect().height")
    assert height > 2000, "the thread is taller than the screen"
    for y in (200, int(height / 2), int(height) - 40):
        assert _pixel(shot, 4, 60 + y) == panel, f"left panel background missing at y={y}"
        assert _pixel(shot, 1276, 60 + y) == panel, f"right panel background missing at y={y}"

    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/command/{task.pk}/")
    thread = page.eval_on_selector("#thread-title", "e => e.getBoundingClientRect().top")
    runs = page.eval_on_selector(".cw-left", "e => e.getBoundingClientRect().top")
    assert thread < runs, "on a phone the thread comes before the run list"
