"""The whole operator path in real Chromium, against daphne and a real worker:
sign up → submit a request → understanding and plan → approve an edit → rows arrive live →
open the diff → result card → download → revert."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from tasks.models import Task, TaskRun
from tasks.tests import browser
from tasks.tests.browser import browser_marks, live, row_seqs, screenshot, wait_for
from workspaces.models import Workspace

pytestmark = browser_marks
stack = browser.stack
chromium = browser.chromium
audited = browser.audited

NOTES = "Old plan for Acme\nkeep this line\n"


def test_sign_up_request_approve_diff_result_download_revert(stack, chromium, tmp_path):
    page = chromium.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page.set_default_timeout(20_000)

    # Sign up.
    page.goto(stack.url + "/accounts/signup/")
    page.fill("input[name=email]", "new.operator@example.com")
    page.fill("input[name=password1]", "a long enough passphrase 93")
    page.fill("input[name=password2]", "a long enough passphrase 93")
    page.click("form button[type=submit]")
    # Sign-up answers the same for a new and a taken address (no account enumeration): it asks
    # to check the mail; the new account may sign in with its password at once.
    page.wait_for_url(stack.url + "/accounts/confirm-email/")
    page.goto(stack.url + "/accounts/login/")
    page.fill("input[name=login]", "new.operator@example.com")
    page.fill("input[name=password]", "a long enough passphrase 93")
    page.click("form button[type=submit]")
    page.wait_for_url(stack.url + "/")
    user = get_user_model().objects.get(email="new.operator@example.com")

    # A project folder with a file the request's command will edit (commands ask first).
    folder = stack.roots / "acme-site"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text(NOTES)
    workspace = Workspace.objects.create(owner=user, name="Acme site", path=str(folder))

    # Submit a messy request from the landing page.
    page.reload()
    page.fill("textarea[name=prompt]", "run `sed -i s/Old/New/ notes.txt` and make a one-page pdf summery for Acme")
    page.select_option("select[name=workspace]", str(workspace.pk))
    page.click("text=Send to Command")
    page.wait_for_url("**/command/*/")
    task = Task.objects.get(owner=user)
    # Understanding (with the spelling fixes) and the plan are on the thread page.
    # The run started with the request, so the reading and the plan are folded: one click opens them.
    page.click("details.thread-context > summary")
    assert page.is_visible("text=What Command understood")
    assert page.locator(".correction").count() >= 1
    assert page.is_visible("text=Brief and plan")
    live(page)

    # The run starts by itself and stops at the command that edits a file: the dialog appears in place, live.
    try:
        page.wait_for_selector("[data-approval-dialog] button[value=allow]", timeout=30_000)
    except Exception:
        screenshot(page, "flow-no-dialog")
        runs = [
            (r.reference, r.state, r.state_reason, list(r.events.values_list("title", flat=True)))
            for r in task.runs.all()
        ]
        raise AssertionError(f"no approval dialog; task {task.status}; runs {runs}") from None
    run = TaskRun.objects.get(task=task)
    rows_before = len(row_seqs(page, run.pk))
    screenshot(page, "flow-approval")
    page.click("[data-approval-dialog] button[value=allow]")

    # Rows keep arriving live until the run completes; the settled run card follows.
    wait_for(lambda: TaskRun.objects.get(pk=run.pk).finished_at is not None, timeout=60, message="the run to finish")
    run.refresh_from_db()
    assert run.state == "completed", run.state_reason
    page.wait_for_selector(f"#run-{run.pk} .thread-changes", timeout=20_000)
    # The thread's assets panel comes with the settled card: the new PDF is listed without a reload.
    page.wait_for_selector("#thread-assets a:has-text('PDF')", timeout=10_000)
    # The switcher follows too (pushed, no reload).
    page.wait_for_selector(f"#switcher-run-{run.pk}[data-state=completed]", timeout=10_000)
    assert len(row_seqs(page, run.pk)) > rows_before
    assert row_seqs(page, run.pk) == list(run.events.order_by("seq").values_list("seq", flat=True))

    # Open the diff in the right panel.
    page.click(f"#run-{run.pk} .change-item:has-text('notes.txt')")
    page.wait_for_selector("#diff-panel-body .ws-diff-block")
    diff = page.inner_text("#diff-panel-body")
    assert "Old plan for Acme" in diff and "New plan for Acme" in diff
    assert page.get_attribute("[data-panel-toggle]", "aria-expanded") == "true"
    screenshot(page, "flow-diff")
    # From the keyboard: focus is in the panel; Esc folds it and returns to the changed file.
    assert page.evaluate("document.activeElement.id") == "diff-panel-body"
    page.keyboard.press("Escape")
    assert page.get_attribute("[data-panel-toggle]", "aria-expanded") == "false"
    assert "notes.txt" in page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    page.wait_for_selector("#diff-panel-body .ws-diff-block")
    assert page.get_attribute("[data-panel-toggle]", "aria-expanded") == "true"

    # The result card, and its download.
    card = page.locator(f"#run-{run.pk} .thread-results")
    assert card.is_visible()
    with page.expect_download() as download:
        card.locator("a:has-text('Download')").first.click()
    assert download.value.suggested_filename

    # Revert everything the run changed: the old page is back.
    page.click(f"#run-{run.pk} a:has-text('Revert this run')")
    page.wait_for_selector("#diff-panel-body .ws-revert button:has-text('Revert')")
    page.click("#diff-panel-body .ws-revert button:has-text('Revert')")
    page.wait_for_selector("#diff-panel-body .message-success")
    assert (folder / "notes.txt").read_text() == NOTES
    screenshot(page, "flow-reverted")
    page.close()
