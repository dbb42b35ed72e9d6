"""The approval dialog from the keyboard, in real Chromium against a live server."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from approvals.models import ApprovalRequest
from approvals.policy import facts_for_step
from approvals.services import approval_gate_check
from approvals.tests.conftest import make_step
from command_site.testing import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed"),
]

DIFF = "--- a/index.html\n+++ b/index.html\n@@ -1 +1 @@\n-<h1>Acme</h1>\n+<h1>Acme Analytics</h1>"


def test_decide_from_the_keyboard(transactional_db, live_server, browser_page_without_csp, make_run):
    run, step = make_run()
    plan_step = make_step(path="index.html")
    req = approval_gate_check(
        run=run, step_execution=step, plan_step=plan_step, facts=facts_for_step(plan_step, diffs={"index.html": DIFF})
    ).request
    page = browser_page_without_csp
    page.goto(live_server.url + req.get_absolute_url())
    # Focus lands on the decision, not somewhere at the top of the page.
    page.wait_for_function("document.activeElement && document.activeElement.textContent.trim() === 'Allow'")

    # Open "refine" from the keyboard, type, and Esc closes it again without deciding.
    page.focus("[data-approval-refine] summary")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'TEXTAREA'")
    page.keyboard.type("Only the headline")
    page.keyboard.press("Escape")
    assert page.eval_on_selector("[data-approval-refine]", "d => d.open") is False
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"

    # Enter on Allow decides through htmx; the result is announced in place and focused.
    page.focus("button[value=allow]")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=The step can proceed.")
    assert page.evaluate("document.activeElement.tagName") == "H2"
    page.screenshot(path=str(settings.BASE_DIR / "var" / "approval-dialog-decided.png"), full_page=True)
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.ALLOWED


def test_refine_with_ctrl_enter_sends_instructions(transactional_db, live_server, browser_page_without_csp, make_run):
    run, step = make_run(action_type="run_command")
    plan_step = make_step(action_type="run_command", command="npm run build")
    req = approval_gate_check(
        run=run, step_execution=step, plan_step=plan_step, facts=facts_for_step(plan_step)
    ).request
    page = browser_page_without_csp
    page.goto(live_server.url + req.get_absolute_url())
    page.screenshot(path=str(settings.BASE_DIR / "var" / "approval-dialog-command.png"), full_page=True)
    # The allow-list box appears only once the operator chooses to remember.
    assert not page.is_visible("textarea[name=command_allowlist]")
    page.click("text=For commands everywhere")
    assert page.is_visible("textarea[name=command_allowlist]")
    page.click("text=Just this once")
    page.click("[data-approval-refine] summary")
    # Opening "refine" moves focus into its text box (the toggle event fires after the click).
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'TEXTAREA'")
    page.keyboard.type("Use pnpm instead")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Your instructions go back to the planner.")
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.REFINED and req.decision_note == "Use pnpm instead"


def test_memory_page_forgets_in_place(transactional_db, live_server, browser_page_without_csp, owner, acme):
    from approvals.models import FormatDefault
    from approvals.services import approval_preference_set, clarification_remember, format_default_set

    approval_preference_set(owner=owner, category="edit_file", scope="workspace", decision="allow", workspace=acme)
    format_default_set(owner=owner, category="document", format="pdf")
    clarification_remember(owner=owner, question_key="audience", question="Who is it for?", answer="CFOs")
    page = browser_page_without_csp
    page.goto(live_server.url + "/memory/")
    page.screenshot(path=str(settings.BASE_DIR / "var" / "memory-page.png"), full_page=True)
    page.click("button[aria-label='Forget: Document as pdf']")
    page.wait_for_selector("text=Document as pdf", state="detached")
    assert not FormatDefault.objects.exists()
    assert page.is_visible("text=You allow file edits in Acme site")
