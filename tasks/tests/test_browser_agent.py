"""A model-driven run in real Chromium, against daphne and a real worker process calling a scripted model
over real HTTP: the person approves the model's edit from its diff preview in the thread, watches the
model's turns arrive live, the run completes through the check, then the person reverts the run."""

from __future__ import annotations

import pytest

from providers.tests.scripted_model import Conversation, call, reply, say
from tasks.models import TaskRun
from tasks.tests import browser
from tasks.tests.browser import browser_marks, live, row_seqs, screenshot, signed_in_page, wait_for
from tasks.tests.loop_support import BUGGY, latest_results, loop_run, run_story

pytestmark = browser_marks
chromium = browser.chromium
audited = browser.audited

CHECK_SCRIPT = "import price\nassert price.total([1, 2]) == 3, price.total([1, 2])\nprint('total ok')\n"
FIXED = "def total(items):\n    return sum(items)\n"


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    """browser.stack, with the worker allowed to call a model on 127.0.0.1 (the scripted one)."""
    with browser.running_stack(django_db_blocker, tmp_path_factory, COMMAND_ALLOW_LOCAL_PROVIDERS="true") as running:
        yield running


def test_approve_a_model_edit_from_its_diff_watch_the_turns_and_revert(stack, chromium, owner, scripted_model):
    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(say("The offset is the bug."), call("read_file", path="price.py"))
        if convo.turn == 2:
            # Reactive: the edit is computed from the text the model was sent.
            line = next(x for x in latest_results(convo)[-1].splitlines() if "return" in x)
            wrong = line.split("| ", 1)[1].strip()
            return reply(call("edit_file", path="price.py", find=wrong, replace=wrong.replace(" - 1", "")))
        if convo.turn == 3:
            # Slow enough that the page sees the turn's rows arrive before the run moves on.
            return reply(
                say("Edited; now the check decides."), call("finish", summary="Removed the offset."), delay=1.0
            )
        raise AssertionError(f"no turn {convo.turn} expected")

    model = scripted_model("openai", script)
    folder = stack.roots / "shop"
    run = loop_run(
        owner,
        folder,
        model,
        check="python3 check_price.py",
        prompt="fix total() in price.py",
        files={"price.py": BUGGY, "check_price.py": CHECK_SCRIPT},
    )
    page = signed_in_page(chromium, stack, owner)
    page.set_default_timeout(20_000)
    page.goto(f"{stack.url}/command/{run.task.pk}/")
    live(page)

    # The model read the file and proposed an edit: the run waits, the dialog is in the thread with the diff.
    dialog = f"#run-approvals-{run.pk} [data-approval-dialog]"
    try:
        page.wait_for_selector(f"{dialog} .approval-diff", timeout=30_000)
    except Exception:
        screenshot(page, "agent-no-dialog")
        run.refresh_from_db()
        raise AssertionError(f"no diff preview: {run.state} {run.state_reason} {run_story(run)}") from None
    preview = page.inner_text(f"{dialog} .approval-diff pre")
    assert "-    return sum(items) - 1" in preview and "+    return sum(items)" in preview, preview
    assert (folder / "price.py").read_text() == BUGGY, "nothing applied before the approval"
    screenshot(page, "agent-diff-approval")
    rows_before = row_seqs(page, run.pk)
    assert "Model turn 3" not in page.inner_text(f"#workstream-{run.pk}")
    page.click(f"{dialog} button[value=allow]")

    # The turns stream in: turn 3's rows and the model's words arrive on the open page, without a reload.
    page.wait_for_selector(f"#workstream-{run.pk} :text('Model turn 3')", timeout=30_000)
    page.wait_for_selector(f"#workstream-{run.pk} :text('Edited; now the check decides.')", timeout=30_000)
    assert len(row_seqs(page, run.pk)) > len(rows_before)

    # The check is a command, asked about like any other: allowed from its dialog, it runs and passes.
    page.wait_for_selector(f"{dialog} .approval-command:has-text('python3 check_price.py')", timeout=30_000)
    page.click(f"{dialog} button[value=allow]")
    wait_for(lambda: TaskRun.objects.get(pk=run.pk).finished_at is not None, timeout=60, message="the run to finish")
    run.refresh_from_db()
    assert run.state == TaskRun.State.COMPLETED, (run.state_reason, run_story(run))
    assert (folder / "price.py").read_text() == FIXED
    assert model.count == 3
    page.wait_for_selector(f"#run-{run.pk} .thread-changes", timeout=20_000)
    assert row_seqs(page, run.pk) == list(run.events.order_by("seq").values_list("seq", flat=True))
    screenshot(page, "agent-completed")

    # Revert the run: the file is as it was before the model touched it.
    page.click(f"#run-{run.pk} a:has-text('Revert this run')")
    page.wait_for_selector("#diff-panel-body .ws-revert button:has-text('Revert')")
    page.click("#diff-panel-body .ws-revert button:has-text('Revert')")
    page.wait_for_selector("#diff-panel-body .message-success")
    assert (folder / "price.py").read_text() == BUGGY
    screenshot(page, "agent-reverted")
    page.context.close()
