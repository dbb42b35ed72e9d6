"""A run with a long history in real Chromium: the thread shows its newest rows and "Show earlier
rows" prepends the rest in order without a duplicate (keyboard only), and the task record pages
through its timeline in place, with the replay and plain links that work without JavaScript."""

from __future__ import annotations

from providers.contracts import ActionType
from tasks.engine.dispatch import run_create
from tasks.models import TaskRun, WorkstreamEvent
from tasks.selectors import EARLIER_ROWS, THREAD_ROWS, TIMELINE_PAGE
from tasks.tests import browser
from tasks.tests.browser import browser_marks, row_seqs, screenshot, serious_violations, signed_in_page, wait_for
from tasks.tests.engine_support import make_task, make_workspace, step

pytestmark = browser_marks
stack = browser.stack
chromium = browser.chromium
audited = browser.audited

TOTAL = THREAD_ROWS + EARLIER_ROWS + 15  # two presses of "Show earlier rows", four timeline pages


def _long_finished_run(owner, stack) -> TaskRun:
    """A real run that finished, followed by notes up to TOTAL rows (history for the pages)."""
    from approvals.services.memory import approval_preference_set

    approval_preference_set(
        owner=owner, category="run_command", scope="everywhere", decision="allow", command_allowlist=["echo long"]
    )
    (stack.roots / "long").mkdir(exist_ok=True)
    ws = make_workspace(owner, stack.roots / "long", name="Long history")
    task = make_task(owner, ws, [step("say", ActionType.RUN_COMMAND, "Say it", command="echo long")], prompt="long")
    run = run_create(task=task)
    wait_for(lambda: TaskRun.objects.get(pk=run.pk).finished_at is not None, timeout=30, message="the run to finish")
    run.refresh_from_db()
    WorkstreamEvent.objects.bulk_create(
        [
            WorkstreamEvent(run=run, seq=seq, kind="note", status="info", title=f"Note {seq}")
            for seq in range(run.event_seq + 1, TOTAL + 1)
        ]
    )
    TaskRun.objects.filter(pk=run.pk).update(event_seq=TOTAL)
    return run


def test_earlier_rows_and_timeline_pages_load_in_place_in_order(stack, chromium, owner):
    run = _long_finished_run(owner, stack)
    page = signed_in_page(chromium, stack, owner)

    # The thread: newest rows only, then "Show earlier rows" from the keyboard until none are left.
    page.goto(f"{stack.url}/command/{run.task_id}/")
    assert row_seqs(page, run.pk) == list(range(TOTAL - THREAD_ROWS + 1, TOTAL + 1))
    screenshot(page, "thread-long-history")
    shown = THREAD_ROWS
    control = f'[data-earlier-rows="{run.pk}"]'
    while shown < TOTAL:
        page.focus(control)
        page.keyboard.press("Enter")
        before, shown = shown, min(TOTAL, shown + EARLIER_ROWS)
        page.wait_for_function(
            f"document.querySelectorAll('#workstream-{run.pk} [data-seq]').length === {shown}", timeout=10_000
        )
        page.wait_for_function("document.activeElement && document.activeElement !== document.body", timeout=5_000)
        assert row_seqs(page, run.pk) == list(range(TOTAL - shown + 1, TOTAL + 1))
        added = shown - before
        # The list stays quiet while history arrives; one status line says how much came.
        assert page.inner_text("#earlier-announcer") == f"{added} earlier row{'s' if added != 1 else ''} shown."
        if shown < TOTAL:  # focus stays on the control, ready for the next press
            assert page.evaluate("document.activeElement.dataset.earlierRows") == str(run.pk)
    assert page.query_selector(control) is None
    assert page.evaluate("document.activeElement.dataset.seq") == "1"
    assert page.get_attribute(f"#workstream-{run.pk}", "aria-live") == "polite"
    problems = {"thread, every row loaded": serious_violations(page)}

    # The task record: the newest page, then the earlier one in place (URL and focus follow).
    page.goto(f"{stack.url}/task/{run.task_id}/")
    assert row_seqs_in_timeline(page) == list(range(TOTAL - TIMELINE_PAGE + 1, TOTAL + 1))
    assert f"Events {TOTAL - TIMELINE_PAGE + 1}–{TOTAL} of {TOTAL}" in page.inner_text("[data-replay-position]")
    problems["task record, newest page"] = serious_violations(page)
    screenshot(page, "task-long-history")
    page.click("nav.timeline-nav >> text=Earlier events")
    page.wait_for_url(f"**/task/{run.task_id}/?page=2*", timeout=10_000)
    page.wait_for_function("document.activeElement && document.activeElement.id === 'timeline-title'", timeout=5_000)
    second = list(range(TOTAL - 2 * TIMELINE_PAGE + 1, TOTAL - TIMELINE_PAGE + 1))
    assert row_seqs_in_timeline(page) == second
    page.click("[data-replay=start]")
    page.click("[data-replay=next]")
    assert page.inner_text("[data-replay-position]").startswith(f"Event {second[1]} of {TOTAL}: Note {second[1]}")
    page.click("[data-replay=all]")
    assert page.inner_text("[data-replay-position]") == f"Events {second[0]}–{second[-1]} of {TOTAL}"
    page.context.close()

    # Without JavaScript the same links are ordinary page loads.
    plain = chromium.new_context(java_script_enabled=False, bypass_csp=True)
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(owner)
    plain.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": stack.url,
            }
        ]
    )
    bare = plain.new_page()
    bare.goto(f"{stack.url}/task/{run.task_id}/")
    bare.click("nav.timeline-nav >> text=Earlier events")
    bare.wait_for_url(f"**/task/{run.task_id}/?page=2#timeline", timeout=10_000)
    assert row_seqs_in_timeline(bare) == list(range(TOTAL - 2 * TIMELINE_PAGE + 1, TOTAL - TIMELINE_PAGE + 1))
    plain.close()

    found = {name: v for name, v in problems.items() if v}
    assert not found, f"serious or critical accessibility violations: {found}"


def row_seqs_in_timeline(page) -> list[int]:
    return page.eval_on_selector_all(
        "#timeline [data-replay-list] [data-seq]", "rows => rows.map(r => parseInt(r.dataset.seq, 10))"
    )


def test_the_newest_timeline_page_follows_a_working_run_but_not_during_a_replay(stack, chromium, owner):
    run = _long_finished_run(owner, stack)
    final_state = TaskRun.objects.get(pk=run.pk).state
    # Not leased, so neither the worker nor the reaper touches it while the page watches.
    TaskRun.objects.filter(pk=run.pk).update(state=TaskRun.State.WAITING_APPROVAL)
    page = signed_in_page(chromium, stack, owner)
    try:
        page.goto(f"{stack.url}/task/{run.task_id}/")
        assert "this page shows its new events as they are recorded" in page.inner_text("[data-timeline-live]")

        def add(seq: int) -> None:
            WorkstreamEvent.objects.create(run=run, seq=seq, kind="note", status="info", title=f"Late note {seq}")
            TaskRun.objects.filter(pk=run.pk).update(event_seq=seq)

        add(TOTAL + 1)
        page.wait_for_function(f"!!document.querySelector('#timeline [data-seq=\"{TOTAL + 1}\"]')", timeout=15_000)
        # During a replay the card holds still: the refresh waits until the operator is done.
        page.click("[data-replay=start]")
        assert page.evaluate("window.commandTimelineIdle()") is False
        page.click("[data-replay=all]")
        page.evaluate("document.activeElement.blur()")
        assert page.evaluate("window.commandTimelineIdle()") is True
        add(TOTAL + 2)
        page.wait_for_function(f"!!document.querySelector('#timeline [data-seq=\"{TOTAL + 2}\"]')", timeout=15_000)
        assert row_seqs_in_timeline(page)[-1] == TOTAL + 2
    finally:
        page.context.close()
        TaskRun.objects.filter(pk=run.pk).update(state=final_state)
