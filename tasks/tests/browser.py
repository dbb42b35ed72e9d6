"""Real-browser plumbing for the operator workspace tests.

daphne and a django-q2 worker run as real processes on this run's test database (a file for
SQLite, or PostgreSQL), Chromium is Debian's through Playwright, axe-core is vendored (no CDN).
Settings changed in the test process do not reach those processes: everything they need comes
in through the environment below.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from command_site.testing import CHROMIUM, CHROMIUM_ARGS, daphne_process, wait_for, worker_process

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(settings.BASE_DIR) / "test-results" / "screenshots"

browser_marks = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("audited"),
]


@dataclass
class Stack:
    url: str
    roots: Path
    logs: Path


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    """daphne (HTTP + websockets) and a two-worker qcluster for the whole module."""
    with running_stack(django_db_blocker, tmp_path_factory) as running:
        yield running


@contextlib.contextmanager
def running_stack(django_db_blocker, tmp_path_factory, **extra_env: str):
    """The processes behind `stack`, with `extra_env` added to both (a module's own fixture)."""
    roots = tmp_path_factory.mktemp("workspaces")
    logs = tmp_path_factory.mktemp("logs")
    env = {
        "COMMAND_WORKSPACE_ROOTS": str(roots),
        # The same snapshot store the test process (and so the audit) reads.
        "COMMAND_SNAPSHOT_DIR": str(tmp_path_factory.getbasetemp() / "_snapshots"),
        "COMMAND_TAIL_INTERVAL": "0.2",
        "COMMAND_NARRATION_QUIET": "30",
        "COMMAND_Q_POLL": "0.1",
        "COMMAND_WORKERS": "2",
        "DEBUG": "false",
        **extra_env,
    }
    with (
        django_db_blocker.unblock(),
        daphne_process(logs / "daphne.log", **env) as url,
        worker_process(logs / "worker.log", **env) as worker,
    ):
        yield Stack(url=url, roots=roots, logs=logs)
        # Every run is settled by now: a graceful stop would only wait out django-q2's grace period.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)


@pytest.fixture
def audited(transactional_db):
    """Every browser test ends with the truthfulness audit over what it left in the database."""
    yield
    from command_site.audit import audit_run

    report = audit_run()
    assert report.violations == [], [f"{v.rule}: {v.subject}: {v.message}" for v in report.violations]


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def signed_in_page(chromium, stack: Stack, user, *, color_scheme: str = "light", width: int = 1280, height: int = 860):
    """A page whose browser holds a real session of `user` (written to the shared database)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    # Playwright's wait_for_function and add_script_tag (axe) evaluate strings, which the pages'
    # Content-Security-Policy forbids; the policy itself is tested without this in
    # command_site/tests/test_browser_headers.py.
    context = chromium.new_context(
        viewport={"width": width, "height": height}, color_scheme=color_scheme, bypass_csp=True
    )
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": stack.url}])
    return context.new_page()


def live(page) -> None:
    """Wait until the page's workstream socket is open (the server has its cursors)."""
    page.wait_for_function("window.commandSocketOpen === true", timeout=15_000)


def row_seqs(page, run_id: int) -> list[int]:
    return page.eval_on_selector_all(
        f"#workstream-{run_id} [data-seq]", "rows => rows.map(r => parseInt(r.dataset.seq, 10))"
    )


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now, once the animations
    running have ended (a row fading in measures as low contrast halfway through)."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => {
            const ending = document.getAnimations()
                .filter(a => a.effect && isFinite(a.effect.getComputedTiming().endTime));
            await Promise.all(ending.map(a => a.finished.catch(() => null)));
            return (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 4).map(n => n.target.join(' '))}));
        }"""
    )
    return violations


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


__all__ = [
    "Stack",
    "browser_marks",
    "chromium",
    "live",
    "row_seqs",
    "screenshot",
    "serious_violations",
    "signed_in_page",
    "stack",
    "wait_for",
]
