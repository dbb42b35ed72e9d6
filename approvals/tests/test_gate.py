"""The gate the engine calls before each step, on real runs in the real database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from approvals.errors import ApprovalRefused
from approvals.models import ApprovalPreference, ApprovalRequest
from approvals.policy import facts_for_step
from approvals.services import (
    Outcome,
    approval_allow,
    approval_deny,
    approval_gate_check,
    approval_gate_for_engine,
    approval_preference_set,
    approval_refine,
)
from approvals.tests.conftest import make_step

pytestmark = pytest.mark.django_db


def gate(run, step_execution, plan_step, **facts):
    return approval_gate_check(
        run=run, step_execution=step_execution, plan_step=plan_step, facts=facts_for_step(plan_step, **facts)
    )


def test_reading_and_new_files_proceed_without_asking(make_run):
    run, step = make_run(action_type="write_file")
    decision = gate(run, step, make_step(action_type="write_file", path="contact.html"))
    assert decision.outcome == Outcome.PROCEED
    assert decision.request is None
    assert not ApprovalRequest.objects.exists()


def test_an_edit_opens_one_pending_request_with_the_exact_action(make_run, owner, acme):
    run, step = make_run()
    plan_step = make_step(paths=["index.html", "styles.css"])
    decision = gate(
        run,
        step,
        plan_step,
        diffs={"index.html": "--- a\n+++ b\n@@ -1 +1 @@\n-<h1>Acme</h1>\n+<h1>Acme Analytics</h1>"},
    )
    assert decision.outcome == Outcome.WAIT
    req = decision.request
    assert req.owner == owner and req.run == run and req.step_execution == step and req.workspace == acme
    assert req.category == "edit_file" and req.risk_reason == "overwrites 2 existing files"
    assert req.action["paths"] == ["index.html", "styles.css"]
    assert req.understood == "A premium B2B landing page for Acme Analytics."
    assert "overwrites 2 existing files" in req.why_it_matters
    assert req.expires_at > timezone.now()
    # The periodic expiry job exists once something waits.
    from django_q.models import Schedule

    assert Schedule.objects.filter(func="approvals.jobs.expire_overdue_approvals").count() == 1
    # A second delivery of the same step waits on the same request instead of asking twice.
    again = gate(run, step, plan_step)
    assert again.outcome == Outcome.WAIT and again.request.pk == req.pk
    assert ApprovalRequest.objects.count() == 1


def test_allow_lets_the_step_proceed_and_tells_the_engine(make_run, owner, django_capture_on_commit_callbacks):
    from approvals.signals import approval_decided

    heard = []
    approval_decided.connect(lambda sender, **kw: heard.append(kw), weak=False, dispatch_uid="test-allow")
    try:
        run, step = make_run()
        plan_step = make_step(path="index.html")
        req = gate(run, step, plan_step).request
        with django_capture_on_commit_callbacks(execute=True):
            approval_allow(request=req, user=owner, action_hash=req.action_hash)
    finally:
        approval_decided.disconnect(dispatch_uid="test-allow")
    req.refresh_from_db()
    assert req.status == "allowed" and req.decided_by == owner and req.decided_at
    assert heard == [
        {"signal": approval_decided, "request_id": req.pk, "run_id": run.pk, "status": "allowed", "refine_text": ""}
    ]
    resumed = gate(run, step, plan_step)
    assert resumed.outcome == Outcome.PROCEED and resumed.request.pk == req.pk and not resumed.announcement


def test_deny_skips_the_step(make_run, owner):
    run, step = make_run(action_type="delete_file")
    plan_step = make_step(action_type="delete_file", path="styles.css")
    req = gate(run, step, plan_step).request
    assert req.action["removes"] == ["styles.css"]
    approval_deny(request=req, user=owner, action_hash=req.action_hash)
    assert gate(run, step, plan_step).outcome == Outcome.SKIP


def test_refine_returns_the_instructions_until_the_plan_is_revised(make_run, owner):
    from tasks.models import PlanRevision

    run, step = make_run(action_type="run_command")
    plan_step = make_step(action_type="run_command", command="npm install")
    req = gate(run, step, plan_step).request
    approval_refine(request=req, user=owner, action_hash=req.action_hash, text="Use pnpm, not npm.")
    decision = gate(run, step, plan_step)
    assert decision.outcome == Outcome.REPLAN and decision.refine_text == "Use pnpm, not npm."
    # The planner made revision 2; if the same action comes back it is asked about again.
    run.plan_revision = PlanRevision.objects.create(task=run.task, number=2, planner="test", change_note="pnpm")
    run.save(update_fields=["plan_revision"])
    asked = gate(run, step, plan_step)
    assert asked.outcome == Outcome.WAIT and asked.request.pk != req.pk


def test_a_changed_command_asks_again(make_run, owner):
    run, step = make_run(action_type="run_command")
    first = gate(run, step, make_step(action_type="run_command", command="npm run build")).request
    approval_allow(request=first, user=owner, action_hash=first.action_hash)
    changed = gate(run, step, make_step(action_type="run_command", command="npm run build -- --force"))
    assert changed.outcome == Outcome.WAIT
    assert changed.request.pk != first.pk
    assert changed.reason.startswith("The action changed since you were last asked")


def test_a_pending_request_for_a_changed_action_is_superseded(make_run, owner):
    run, step = make_run(action_type="run_command")
    first = gate(run, step, make_step(action_type="run_command", command="npm run build")).request
    second = gate(run, step, make_step(action_type="run_command", command="npm run lint")).request
    first.refresh_from_db()
    assert first.status == "superseded" and first.superseded_by_id == second.pk
    assert second.status == "pending"


def test_remember_auto_approves_the_next_matching_action_and_names_the_preference(make_run, owner, acme):
    run, step = make_run()
    req = gate(run, step, make_step(path="index.html")).request
    approval_allow(request=req, user=owner, action_hash=req.action_hash, remember="workspace")
    req.refresh_from_db()
    pref = req.remembered_as
    assert (pref.category, pref.scope, pref.workspace, pref.decision) == ("edit_file", "workspace", acme, "allow")
    assert pref.learned_from_task == run.task

    next_run, next_step = make_run()
    decision = gate(next_run, next_step, make_step(paths=["styles.css"]))
    assert decision.outcome == Outcome.PROCEED
    assert decision.auto_approved_by == pref
    assert decision.announcement == "Auto-approved: you allow file edits in Acme site — change this"
    assert decision.change_url == f"/memory/#approval-pref-{pref.pk}"
    recorded = decision.request
    assert recorded.status == "allowed" and recorded.auto_decided_by == pref and recorded.decided_by is None
    pref.refresh_from_db()
    assert pref.last_used_at is not None and pref.use_count == 1


def test_a_workspace_preference_does_not_reach_another_workspace(make_run, owner, tmp_path):
    from workspaces.models import Workspace

    approval_preference_set(
        owner=owner,
        category="edit_file",
        scope="workspace",
        decision="allow",
        workspace=Workspace.objects.get(name="Acme site"),
    )
    other_folder = tmp_path / "blog"
    other_folder.mkdir()
    (other_folder / "index.html").write_text("x")
    blog = Workspace.objects.create(owner=owner, name="Blog", path=str(other_folder))
    run, step = make_run(workspace=blog)
    assert gate(run, step, make_step(path="index.html")).outcome == Outcome.WAIT


def test_remembered_deny_skips_and_says_so(make_run, owner):
    approval_preference_set(owner=owner, category="delete_file", scope="everywhere", decision="deny")
    run, step = make_run(action_type="delete_file")
    decision = gate(run, step, make_step(action_type="delete_file", path="styles.css"))
    assert decision.outcome == Outcome.SKIP
    assert decision.announcement == "Skipped without asking: you never allow file deletions everywhere — change this"
    assert decision.request.status == "denied"


def test_command_allowlist_covers_only_listed_commands(make_run, owner):
    approval_preference_set(
        owner=owner, category="run_command", scope="everywhere", decision="allow", command_allowlist=["npm run build"]
    )
    run, step = make_run(action_type="run_command")
    ok = gate(run, step, make_step(action_type="run_command", command="npm run build"))
    assert ok.outcome == Outcome.PROCEED
    assert "the commands “npm run build” everywhere" in ok.announcement
    run2, step2 = make_run(action_type="run_command")
    assert gate(run2, step2, make_step(action_type="run_command", command="npm install")).outcome == Outcome.WAIT


def test_a_workspace_command_preference_never_covers_a_high_risk_command(make_run, owner, acme):
    approval_preference_set(owner=owner, category="run_command", scope="workspace", decision="allow", workspace=acme)
    run, step = make_run(action_type="run_command")
    assert gate(run, step, make_step(action_type="run_command", command="pytest -q")).outcome == Outcome.PROCEED
    run2, step2 = make_run(action_type="run_command")
    assert gate(run2, step2, make_step(action_type="run_command", command="rm -rf build")).outcome == Outcome.WAIT


def test_outside_the_workspace_is_refused_whatever_is_remembered(make_run, owner):
    approval_preference_set(owner=owner, category="edit_file", scope="everywhere", decision="allow")
    run, step = make_run()
    decision = gate(run, step, make_step(path="../../etc/hosts"))
    assert decision.outcome == Outcome.REFUSE
    assert "outside the workspace" in decision.reason
    assert not ApprovalRequest.objects.exists()


def test_ambiguous_actions_ask_even_with_a_preference(make_run, owner, acme):
    approval_preference_set(owner=owner, category="edit_file", scope="workspace", decision="allow", workspace=acme)
    run, step = make_run()
    decision = gate(run, step, make_step(path="index.html"), ambiguities=("Which page is the landing page?",))
    assert decision.outcome == Outcome.WAIT
    assert decision.request.ambiguous and not decision.request.rememberable


def test_an_overdue_request_is_replaced_when_the_run_comes_back(make_run, owner):
    run, step = make_run()
    plan_step = make_step(path="index.html")
    old = gate(run, step, plan_step).request
    ApprovalRequest.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    fresh = gate(run, step, plan_step).request
    old.refresh_from_db()
    assert old.status == "expired" and fresh.status == "pending" and fresh.pk != old.pk


def test_preferences_are_per_owner(make_run, owner, other_user):
    from workspaces.models import Workspace

    approval_preference_set(owner=other_user, category="edit_file", scope="everywhere", decision="allow")
    run, step = make_run()
    assert gate(run, step, make_step(path="index.html")).outcome == Outcome.WAIT
    assert ApprovalPreference.objects.filter(owner=owner).count() == 0
    assert Workspace.objects.count() == 1


def test_engine_hook_asks_once_for_an_ambiguous_run(make_run, owner, acme):
    from tasks.engine.handlers import StepContext

    run, step = make_run(action_type="write_file")
    run.plan_revision.understanding = {"ambiguities": [{"id": "a1", "question": "Dark or light theme?"}]}
    run.plan_revision.save(update_fields=["understanding"])
    plan_step = make_step(action_type="write_file", path="contact.html")
    ctx = StepContext(run=run, step=step, plan_step=plan_step, workspace_path=Path(acme.path), lease=None)
    first = approval_gate_for_engine(ctx)
    assert first.action == "wait" and "Dark or light theme?" in first.reason
    req = ApprovalRequest.objects.get(pk=first.approval_id)
    approval_allow(request=req, user=owner, action_hash=req.action_hash)
    second_step = make_step(step_id="s2", action_type="write_file", path="about.html")
    ctx2 = StepContext(run=run, step=None, plan_step=second_step, workspace_path=Path(acme.path), lease=None)
    then = approval_gate_for_engine(ctx2)
    assert (then.action, then.reason) == ("proceed", "")


def test_engine_hook_skips_outside_the_workspace_with_the_refusal(make_run, acme):
    from tasks.engine.handlers import StepContext

    run, step = make_run(action_type="write_file")
    plan_step = make_step(action_type="write_file", path="../../elsewhere.txt")
    ctx = StepContext(run=run, step=step, plan_step=plan_step, workspace_path=Path(acme.path), lease=None)
    decision = approval_gate_for_engine(ctx)
    assert decision.action == "skip" and decision.reason.startswith("Refused:")


# --- Commands, the sandbox and the network (issue 17) ------------------------------------------


def test_a_listed_high_risk_command_still_asks(make_run, owner):
    """High risk is never auto-approved, not even when the operator typed it into an allow-list."""
    approval_preference_set(
        owner=owner, category="run_command", scope="everywhere", decision="allow", command_allowlist=["sed -i"]
    )
    run, step = make_run(action_type="run_command")
    decision = gate(run, step, make_step(action_type="run_command", command="sed -i d notes.txt"))
    assert decision.outcome == Outcome.WAIT and "empties or overwrites files" in decision.reason


def test_network_is_remembered_for_one_workspace_and_only_for_network_only_commands(make_run, owner, acme, settings):
    settings.COMMAND_SANDBOX = "on"
    run, step = make_run(action_type="run_command")
    asked = gate(run, step, make_step(action_type="run_command", command="npm install"))
    assert asked.outcome == Outcome.WAIT and asked.request.category == "network"
    assert asked.request.action["network"] is True and asked.request.action["sandboxed"] is True
    with pytest.raises(ApprovalRefused, match="one workspace at a time"):
        approval_preference_set(owner=owner, category="network", scope="everywhere", decision="allow")
    approval_preference_set(owner=owner, category="network", scope="workspace", decision="allow", workspace=acme)
    run2, step2 = make_run(action_type="run_command")
    allowed = gate(run2, step2, make_step(action_type="run_command", command="pip install -r requirements.txt"))
    assert allowed.outcome == Outcome.PROCEED and "commands that use the network in Acme site" in allowed.announcement
    # A command that needs the network *and* deletes asks every time.
    run3, step3 = make_run(action_type="run_command")
    mixed = gate(run3, step3, make_step(action_type="run_command", command="npm install && rm -rf dist"))
    assert mixed.outcome == Outcome.WAIT and mixed.request.category == "run_command"


def test_the_engine_runs_a_command_with_network_only_when_its_approval_allowed_it(make_run, owner, acme):
    from approvals.selectors import approval_network_granted

    run, step = make_run(action_type="run_command")
    request = gate(run, step, make_step(action_type="run_command", command="npm install")).request
    assert not approval_network_granted(run_id=run.pk, step_id="s1", command="npm install")
    approval_allow(request=request, user=owner, action_hash=request.action_hash)
    assert approval_network_granted(run_id=run.pk, step_id="s1", command="npm install")
    assert not approval_network_granted(run_id=run.pk, step_id="s1", command="npm install left-pad")


def test_unsandboxed_commands_are_never_answered_by_memory_and_say_so(make_run, owner, acme, settings):
    settings.COMMAND_SANDBOX = "off"
    approval_preference_set(owner=owner, category="run_command", scope="workspace", decision="allow", workspace=acme)
    run, step = make_run(action_type="run_command")
    decision = gate(run, step, make_step(action_type="run_command", command="pytest -q"))
    assert decision.outcome == Outcome.WAIT
    assert "runs unsandboxed" in decision.reason and decision.request.action["sandboxed"] is False
    assert not decision.request.rememberable
    settings.COMMAND_SANDBOX = "on"
    run2, step2 = make_run(action_type="run_command")
    assert gate(run2, step2, make_step(action_type="run_command", command="pytest -q")).outcome == Outcome.PROCEED


def test_a_remembered_never_still_applies_unsandboxed(make_run, owner, acme, settings):
    settings.COMMAND_SANDBOX = "off"
    approval_preference_set(owner=owner, category="run_command", scope="workspace", decision="deny", workspace=acme)
    run, step = make_run(action_type="run_command")
    assert gate(run, step, make_step(action_type="run_command", command="pytest -q")).outcome == Outcome.SKIP


def test_the_dialog_names_the_real_folder(make_run, acme):
    run, step = make_run(action_type="run_command")
    decision = gate(
        run, step, make_step(action_type="run_command", command="ls", cwd="."), workspace_root=Path(acme.path)
    )
    assert decision.request.action["cwd"] == str(Path(acme.path).resolve())
