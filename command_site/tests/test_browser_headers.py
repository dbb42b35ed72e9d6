"""The pages pass their Content-Security-Policy in a real Chromium (no violation reported, htmx
still polls with its cursors), and every page carries the security headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from command_site.testing import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]

# Collects every CSP violation the page reports (installed before any page script runs).
LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber);
});
"""


def _strict(policy: str) -> dict[str, str]:
    directives = {d.split()[0]: d for d in (p.strip() for p in policy.split(";")) if d}
    for name in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in directives[name] and "'unsafe-eval'" not in directives[name], directives[name]
    assert directives["object-src"] == "object-src 'none'"
    return directives


@pytest.fixture
def live_run(owner):
    from tasks.models import PlanRevision, Task, TaskRun, WorkstreamEvent
    from workspaces.services import workspace_create

    workspace = workspace_create(owner=owner, name="Headers site")
    task = Task.objects.create(owner=owner, raw_prompt="make a pdf", title="make a pdf", workspace=workspace)
    revision = PlanRevision.objects.create(task=task, number=1, planner="test")
    run = TaskRun.objects.create(task=task, owner=owner, plan_revision=revision, workspace=workspace, state="running")
    for seq in range(1, 4):
        WorkstreamEvent.objects.create(run=run, seq=seq, kind="note", title=f"Row {seq}")
    return task, run, workspace


def _load(page, url, problems):
    page.add_init_script(LISTENER)
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert response.status == 200, url
    violations = page.evaluate("window.__csp")
    problems.extend(f"{url}: {v}" for v in violations)
    return response


def test_signed_in_pages_pass_the_csp_and_are_not_cached(browser_page, live_server, live_run):
    task, run, workspace = live_run
    page = browser_page
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    problems: list[str] = []
    for path in (
        "/",
        "/command/",
        f"/command/{task.pk}/",
        f"/task/{task.pk}/",
        "/workspaces/",
        f"/workspaces/{workspace.pk}/",
        "/assets/",
        "/providers/",
        "/memory/",
        "/approvals/",
        "/roadmap/",
    ):
        response = _load(page, live_server.url + path, problems)
        headers = response.headers
        _strict(headers["content-security-policy"])
        assert "no-store" in headers.get("cache-control", ""), path
        assert "camera=()" in headers.get("permissions-policy", ""), path
    assert problems == [] and console == [], problems + console


def test_htmx_polls_with_its_cursor_under_the_csp(browser_page, live_server, live_run):
    """Without a socket (the test server has none) the workstream polls, reading its cursor from
    the page at request time: the parts htmx would otherwise evaluate with eval."""
    task, run, _ = live_run
    page = browser_page
    problems: list[str] = []
    page.add_init_script(LISTENER)
    with page.expect_request(lambda r: f"/run/{run.pk}/events/" in r.url and "after=3" in r.url, timeout=15_000):
        page.goto(live_server.url + f"/command/{task.pk}/")
    _load(page, live_server.url + f"/command/{task.pk}/", problems)
    assert problems == []


def test_signed_out_pages_pass_the_csp(live_server, db):
    from command_site.testing import chromium_browser

    problems: list[str] = []
    with chromium_browser() as browser:
        page = browser.new_page()
        for path in ("/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/roadmap/"):
            response = _load(page, live_server.url + path, problems)
            _strict(response.headers["content-security-policy"])
            assert "camera=()" in response.headers.get("permissions-policy", "")
    assert problems == [], problems


def test_the_back_office_passes_the_csp(live_server, django_user_model, live_run):
    from django.conf import settings
    from django.test import Client

    from command_site.testing import chromium_browser

    _, _, workspace = live_run
    admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-ops-123456")
    client = Client()
    client.force_login(admin)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    problems: list[str] = []
    with chromium_browser() as browser:
        context = browser.new_context()
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        page = context.new_page()
        for path in (
            "/admin/",
            "/admin/workspaces/workspace/",
            f"/admin/workspaces/workspace/{workspace.pk}/change/",
            "/admin/tasks/taskrun/",
            "/admin/audit/",
        ):
            _load(page, live_server.url + path, problems)
    assert problems == [], problems
