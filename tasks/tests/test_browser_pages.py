"""The main pages in real Chromium: no serious or critical axe-core violation (axe is vendored),
keyboard focus visible, and screenshots in light, dark and tablet sizes written to
test-results/screenshots/ for a person to look at."""

from __future__ import annotations

from providers.contracts import ActionType
from tasks.engine.dispatch import run_create
from tasks.models import TaskRun
from tasks.tests import browser
from tasks.tests.browser import browser_marks, screenshot, serious_violations, signed_in_page, wait_for
from tasks.tests.engine_support import make_task, make_workspace, step

pytestmark = browser_marks
# The module-scoped stack (daphne + worker) and browser, shared by this module's tests.
stack = browser.stack
chromium = browser.chromium
audited = browser.audited


def _finished_run(owner, stack):
    from approvals.services.memory import approval_preference_set

    approval_preference_set(
        owner=owner,
        category="run_command",
        scope="everywhere",
        decision="allow",
        command_allowlist=["echo site built", "touch index.html"],
    )
    (stack.roots / "acme").mkdir(exist_ok=True)
    ws = make_workspace(owner, stack.roots / "acme", name="Acme site")
    task = make_task(
        owner,
        ws,
        [
            step("build", ActionType.RUN_COMMAND, "Build the site", command="echo site built"),
            step("write", ActionType.RUN_COMMAND, "Write the index page", command="touch index.html"),
        ],
        prompt="build the acme landing page and check it",
    )
    run = run_create(task=task)
    wait_for(lambda: TaskRun.objects.get(pk=run.pk).finished_at is not None, timeout=30, message="the run to finish")
    return run


def test_main_pages_are_accessible_and_photographed(stack, chromium, owner):
    run = _finished_run(owner, stack)
    task_id, ws_id = run.task_id, run.workspace_id

    anon = chromium.new_page(viewport={"width": 1280, "height": 860}, bypass_csp=True)
    anon.goto(stack.url + "/")
    problems = {"landing (signed out)": serious_violations(anon)}
    screenshot(anon, "landing-signed-out")
    anon.close()

    page = signed_in_page(chromium, stack, owner)
    pages = {
        "landing": "/",
        "command": "/command/",
        "thread": f"/command/{task_id}/?run={run.pk}",
        "task": f"/task/{task_id}/",
        "assets": "/assets/",
        "workspaces": "/workspaces/",
        "agent": f"/workspaces/{ws_id}/",
        "providers": "/providers/",
        "memory": "/memory/",
        "roadmap": "/roadmap/",
    }
    for name, path in pages.items():
        response = page.goto(stack.url + path)
        assert response.status == 200, f"{name}: {response.status}"
        page.wait_for_load_state("networkidle")
        problems[name] = serious_violations(page)
        screenshot(page, name)
    # Keyboard: the first Tab lands on the skip link, and focus is visible.
    page.goto(stack.url + f"/command/{task_id}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.outerHTML.slice(0, 200)")
    assert "skip-link" in focused, focused
    page.context.close()

    dark = signed_in_page(chromium, stack, owner, color_scheme="dark")
    dark.goto(stack.url + f"/command/{task_id}/?run={run.pk}")
    dark.wait_for_load_state("networkidle")
    problems["thread (dark)"] = serious_violations(dark)
    screenshot(dark, "thread-dark")
    dark.goto(stack.url + f"/task/{task_id}/")
    dark.click("[data-replay=start]")
    dark.click("[data-replay=next]")
    assert "Event 2 of" in dark.inner_text("[data-replay-position]")
    screenshot(dark, "task-dark-replay")
    dark.context.close()

    tablet = signed_in_page(chromium, stack, owner, width=820, height=1100)
    tablet.goto(stack.url + f"/command/{task_id}/")
    tablet.wait_for_load_state("networkidle")
    problems["thread (tablet)"] = serious_violations(tablet)
    screenshot(tablet, "thread-tablet")
    tablet.context.close()

    found = {name: v for name, v in problems.items() if v}
    assert not found, f"serious or critical accessibility violations: {found}"
