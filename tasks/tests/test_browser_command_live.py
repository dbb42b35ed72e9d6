"""A command's output arriving live over the socket lands in its row's terminal pane, in order,
in real Chromium against daphne and a real worker running the command in the sandbox."""

from __future__ import annotations

from providers.contracts import ActionType
from tasks.engine.dispatch import run_create
from tasks.models import WorkstreamEvent
from tasks.tests import browser
from tasks.tests.browser import browser_marks, live, signed_in_page, wait_for
from tasks.tests.engine_support import make_task, make_workspace, step

pytestmark = browser_marks
stack = browser.stack
chromium = browser.chromium
audited = browser.audited

SCRIPT = "for i in $(seq 1 25); do echo line $i; sleep 0.12; done\n"


def test_live_output_fills_the_commands_own_pane(stack, chromium, owner):
    from approvals.services.memory import approval_preference_set

    approval_preference_set(
        owner=owner, category="run_command", scope="everywhere", decision="allow", command_allowlist=["sh count.sh"]
    )
    ws = make_workspace(owner, stack.roots / "counting", name="counting")
    (stack.roots / "counting" / "count.sh").write_text(SCRIPT)
    task = make_task(owner, ws, [step("s1", ActionType.RUN_COMMAND, "Count", command="sh count.sh")], prompt="count")
    page = signed_in_page(chromium, stack, owner)
    page.goto(f"{stack.url}/command/{task.pk}/")
    live(page)
    run = run_create(task=task)
    wait_for(
        lambda: (
            page.evaluate("(document.querySelector('pre[data-terminal]') || {}).textContent || ''").count("line") == 25
        ),
        timeout=40,
        message="all 25 lines in the command's pane",
    )
    text = page.eval_on_selector("pre[data-terminal]", "p => p.textContent")
    assert text.splitlines() == [f"line {i}" for i in range(1, 26)]
    batches = WorkstreamEvent.objects.filter(run=run, kind="command.output").count()
    assert batches >= 2
    shown = page.eval_on_selector_all("li[data-terminal-for]", "rows => rows.filter(r => r.offsetParent).length")
    assert shown == 0
    page.context.close()
