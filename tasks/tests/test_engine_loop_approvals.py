"""Approvals see what they approve: a file step's approval shows the exact diff it will make, binds the
file as shown and the content written, and a file that changed after the approval asks again instead of
applying a stale approval (issue 16, item 8)."""

from __future__ import annotations

import pytest

from providers.tests.scripted_model import Conversation, call, reply
from tasks.models import StepExecution, TaskRun
from tasks.tests.loop_support import BUGGY, assert_audit_clean, drain, latest_results, loop_run, run_story
from workspaces.models import FileChange

S = TaskRun.State
pytestmark = [pytest.mark.django_db, pytest.mark.approval_gate]

FIXED = "def total(items):\n    return sum(items)\n"


def _allow(request, owner, capture):
    from approvals.services import approval_allow

    with capture(execute=True):
        approval_allow(request=request, user=owner, action_hash=request.action_hash)


def _pending(run):
    from approvals.models import ApprovalRequest

    return ApprovalRequest.objects.get(run=run, status="pending")


def test_a_file_changed_after_the_approval_asks_again_with_the_new_diff(
    scripted_model, owner, owner_client, tmp_path, django_capture_on_commit_callbacks
):
    """The person allows the model's edit, then the file changes before a worker runs the step: the run
    asks again (showing the new diff), and what it applies is exactly the diff shown the second time."""

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("edit_file", path="price.py", find="sum(items) - 1", replace="sum(items)"))
        assert "+    return sum(items)" in latest_results(convo)[-1]
        return reply(call("finish", summary="Removed the offset."))

    model = scripted_model("openai", script)
    folder = tmp_path / "ws"
    run = drain(loop_run(owner, folder, model, check="true", prompt="fix price.py", files={"price.py": BUGGY}))
    first = _pending(run)
    assert first.category == "edit_file" and first.action["content"]["price.py"]["before"]
    _allow(first, owner, django_capture_on_commit_callbacks)
    run.refresh_from_db()
    assert run.state == S.QUEUED

    # Someone edits the file between the approval and the execution.
    (folder / "price.py").write_text("# prices in cents\n" + BUGGY)
    run = drain(run)
    assert run.state == S.WAITING_APPROVAL, run_story(run)
    assert (folder / "price.py").read_text() == "# prices in cents\n" + BUGGY, "the stale approval applied nothing"
    second = _pending(run)
    assert second.pk != first.pk and second.step_id == first.step_id
    assert second.action_hash != first.action_hash
    assert "The action changed since you were last asked" in run.state_reason
    first.refresh_from_db()
    assert first.status == "allowed" and first.superseded_by_id == second.pk
    diff = second.action["diffs"]["price.py"]
    assert " # prices in cents" in diff and "-    return sum(items) - 1" in diff and "+    return sum(items)" in diff
    page = owner_client.get(second.get_absolute_url()).content.decode()
    assert "Changes to <code>price.py</code>" in page and "# prices in cents" in page
    step = StepExecution.objects.get(run=run, step_id=second.step_id)
    assert step.status == "waiting_approval" and "approval" not in (step.result or {})

    _allow(second, owner, django_capture_on_commit_callbacks)
    run = drain(run)
    check = _pending(run)  # the check is a command: asked about like any other
    assert check.action["command"] == "true"
    _allow(check, owner, django_capture_on_commit_callbacks)
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    assert (folder / "price.py").read_text() == "# prices in cents\n" + FIXED
    applied = FileChange.objects.get(run=run, path="price.py")
    assert applied.diff.rstrip("\n") == diff, "it applied exactly the change shown"
    assert model.count == 2
    assert_audit_clean()


def test_an_unchanged_file_runs_on_its_approval_without_asking_twice(
    scripted_model, owner, tmp_path, django_capture_on_commit_callbacks
):
    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("write_file", path="price.py", content=FIXED))
        return reply(call("finish", summary="Rewrote total()."))

    model = scripted_model("anthropic", script)
    folder = tmp_path / "ws"
    run = drain(loop_run(owner, folder, model, check="true", prompt="fix price.py", files={"price.py": BUGGY}))
    request = _pending(run)
    shown = request.action["diffs"]["price.py"]
    assert shown.splitlines()[:3] == ["--- a/price.py", "+++ b/price.py", "@@ -1,2 +1,2 @@"]
    _allow(request, owner, django_capture_on_commit_callbacks)
    run = drain(run)
    assert _pending(run).action["command"] == "true", "the next question is the check, not the edit again"
    assert not run.events.filter(kind="approval.auto").exists()
    assert (folder / "price.py").read_text() == FIXED
    assert FileChange.objects.get(run=run, path="price.py").diff.rstrip("\n") == shown


def test_a_planned_delete_shows_what_it_removes_and_a_file_changed_after_approval_asks_again(
    owner, tmp_path, django_capture_on_commit_callbacks
):
    """The same rule for a plan's step (no model): a delete shows the lines it removes; the file changed
    after the approval, so the delete asks again rather than removing what the person never saw."""
    from providers.contracts import ActionType
    from tasks import jobs
    from tasks.engine.dispatch import run_create
    from tasks.tests.engine_support import make_task, make_workspace, step, verify_step

    folder = tmp_path / "acme"
    workspace = make_workspace(owner, folder, name="Acme site")
    (folder / "old.html").write_text("<p>old</p>\n")
    plan = [step("rm", ActionType.DELETE_FILE, path="old.html"), verify_step(command="test ! -e old.html")]
    run = run_create(task=make_task(owner, workspace, plan))
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.WAITING_APPROVAL, run.state_reason
    first = _pending(run)
    assert first.action["diffs"]["old.html"].splitlines() == [
        "--- a/old.html",
        "+++ /dev/null",
        "@@ -1 +0,0 @@",
        "-<p>old</p>",
    ]
    _allow(first, owner, django_capture_on_commit_callbacks)
    (folder / "old.html").write_text("<p>old</p>\n<p>new work</p>\n")
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.WAITING_APPROVAL, run.state_reason
    assert (folder / "old.html").exists()
    second = _pending(run)
    assert "-<p>new work</p>" in second.action["diffs"]["old.html"]
    _allow(second, owner, django_capture_on_commit_callbacks)
    jobs.dispatch_next()
    check = _pending(run)  # the check is a command: asked about like any other
    assert check.step_id == "verify"
    _allow(check, owner, django_capture_on_commit_callbacks)
    jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.COMPLETED, run.state_reason
    assert not (folder / "old.html").exists()
    deleted = FileChange.objects.get(run=run, path="old.html")
    assert deleted.diff.rstrip("\n") == second.action["diffs"]["old.html"], "it removed exactly what was shown"
