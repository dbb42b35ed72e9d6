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
