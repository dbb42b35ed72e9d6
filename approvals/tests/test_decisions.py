"""Allow / deny / refine refuse what they must, and decide nothing when they refuse."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.errors import ApprovalRefused
from approvals.models import ApprovalPreference, ApprovalRequest
from approvals.policy import facts_for_step
from approvals.services import (
    approval_allow,
    approval_deny,
    approval_gate_check,
    approval_refine,
    approvals_withdraw_for_run,
)
from approvals.tests.conftest import make_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(make_run):
    def _pending(action_type="edit_file", **inputs):
        inputs = inputs or {"path": "index.html"}
        run, step = make_run(action_type=action_type)
        plan_step = make_step(action_type=action_type, **inputs)
        return approval_gate_check(
            run=run, step_execution=step, plan_step=plan_step, facts=facts_for_step(plan_step)
        ).request

    return _pending


def test_deciding_twice_is_refused_and_the_first_decision_stands(pending, owner):
    req = pending()
    approval_allow(request=req, user=owner, action_hash=req.action_hash)
    with pytest.raises(ApprovalRefused, match="already allowed"):
        approval_deny(request=req, user=owner, action_hash=req.action_hash)
    req.refresh_from_db()
    assert req.status == "allowed"


def test_another_users_request_cannot_be_decided(pending, other_user):
    req = pending()
    with pytest.raises(ApprovalRefused, match="Only the person who started this run") as refused:
        approval_allow(request=req, user=other_user, action_hash=req.action_hash)
    assert refused.value.code == "not_owner"
    req.refresh_from_db()
    assert req.status == "pending"


def test_an_expired_request_is_refused_and_marked_expired(pending, owner):
    req = pending()
    ApprovalRequest.objects.filter(pk=req.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ApprovalRefused, match="expired") as refused:
        approval_allow(request=req, user=owner, action_hash=req.action_hash)
    assert refused.value.code == "expired"
    req.refresh_from_db()
    assert req.status == "expired" and req.decided_by is None


def test_a_decision_about_a_different_action_hash_is_refused(pending, owner):
    req = pending()
    with pytest.raises(ApprovalRefused, match="action changed"):
        approval_allow(request=req, user=owner, action_hash="0" * 64)
    req.refresh_from_db()
    assert req.status == "pending"


def test_a_superseded_request_points_to_the_newer_one(pending, owner):
    req = pending()
    ApprovalRequest.objects.filter(pk=req.pk).update(status="superseded")
    with pytest.raises(ApprovalRefused, match="Answer the newer request"):
        approval_allow(request=req, user=owner, action_hash=req.action_hash)


def test_refine_needs_words(pending, owner):
    req = pending()
    with pytest.raises(ApprovalRefused, match="Say what Command should do differently"):
        approval_refine(request=req, user=owner, action_hash=req.action_hash, text="   ")
    done = approval_refine(request=req, user=owner, action_hash=req.action_hash, text="Keep the old hero image.")
    assert done.status == "refined" and done.decision_note == "Keep the old hero image."


def test_remember_deny_keeps_never_allow(pending, owner, acme):
    req = pending(action_type="delete_file", path="styles.css")
    approval_deny(request=req, user=owner, action_hash=req.action_hash, remember="workspace")
    pref = ApprovalPreference.objects.get(owner=owner)
    assert (pref.category, pref.decision, pref.workspace) == ("delete_file", "deny", acme)


def test_allowing_deletes_everywhere_needs_a_confirmation(pending, owner):
    req = pending(action_type="delete_file", path="styles.css")
    with pytest.raises(ApprovalRefused, match="explicit confirmation"):
        approval_allow(request=req, user=owner, action_hash=req.action_hash, remember="everywhere")
    req.refresh_from_db()
    assert req.status == "pending" and not ApprovalPreference.objects.exists()
    approval_allow(request=req, user=owner, action_hash=req.action_hash, remember="everywhere", confirm_high_risk=True)
    pref = ApprovalPreference.objects.get()
    assert pref.scope == "everywhere" and pref.confirmed_high_risk


def test_allowing_commands_everywhere_needs_a_typed_allowlist(pending, owner):
    req = pending(action_type="run_command", command="npm run build")
    with pytest.raises(ApprovalRefused, match="type the commands you allow"):
        approval_allow(request=req, user=owner, action_hash=req.action_hash, remember="everywhere")
    with pytest.raises(ApprovalRefused, match="chains or redirects"):
        approval_allow(
            request=req,
            user=owner,
            action_hash=req.action_hash,
            remember="everywhere",
            command_allowlist=["npm run build; rm -rf /"],
        )
    approval_allow(
        request=req,
        user=owner,
        action_hash=req.action_hash,
        remember="everywhere",
        command_allowlist=["npm run build", " ", "npm run build"],
    )
    assert ApprovalPreference.objects.get().command_allowlist == ["npm run build"]


def test_an_ambiguous_request_cannot_be_remembered(make_run, owner):
    run, step = make_run()
    plan_step = make_step(path="index.html")
    req = approval_gate_check(
        run=run,
        step_execution=step,
        plan_step=plan_step,
        facts=facts_for_step(plan_step, ambiguities=("Which page?",)),
    ).request
    with pytest.raises(ApprovalRefused, match="unclear"):
        approval_allow(request=req, user=owner, action_hash=req.action_hash, remember="workspace")
    # Allowing just this once is fine.
    assert approval_allow(request=req, user=owner, action_hash=req.action_hash).status == "allowed"


def test_the_expiry_job_expires_only_overdue_requests(pending):
    late, fresh = pending(), pending()
    ApprovalRequest.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    from approvals.jobs import expire_overdue_approvals

    assert expire_overdue_approvals() == 1
    late.refresh_from_db()
    fresh.refresh_from_db()
    assert (late.status, fresh.status) == ("expired", "pending")


def test_withdraw_closes_a_cancelled_runs_pending_requests(pending):
    req = pending()
    assert approvals_withdraw_for_run(run=req.run, reason="Run cancelled by you.") == 1
    req.refresh_from_db()
    assert req.status == "superseded" and req.decision_note == "Run cancelled by you."


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_decisions_only_one_wins(pending, owner):
    """Two browser tabs answer at once: the row lock lets exactly one decision through."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers itself; the row lock is exercised on PostgreSQL")
    req = pending()
    barrier = threading.Barrier(2)
    outcomes = []

    def decide(service):
        try:
            barrier.wait()
            service(request=req, user=owner, action_hash=req.action_hash)
            outcomes.append("decided")
        except ApprovalRefused as refused:
            outcomes.append(refused.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide, args=(s,)) for s in (approval_allow, approval_deny)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) in (["already_allowed", "decided"], ["already_denied", "decided"])
    req.refresh_from_db()
    assert req.status in ("allowed", "denied")
