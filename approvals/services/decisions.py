"""The operator's decisions on an approval request: allow, deny, refine — optionally remembered.

Each decision is one transaction on a locked row, made by the run's owner only, about exactly the
action they were shown (the form carries the action hash it displayed). After commit,
`approvals.signals.approval_decided` tells the engine to resume, skip or re-plan the run.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from approvals.errors import ApprovalRefused
from approvals.models import ApprovalPreference, ApprovalRequest
from approvals.services.memory import approval_preference_set
from approvals.signals import approval_decided

MAX_REFINE_LENGTH = 4000


def _send_decided(request: ApprovalRequest) -> None:
    approval_decided.send(
        sender=ApprovalRequest,
        request_id=request.pk,
        run_id=request.run_id,
        status=request.status,
        refine_text=request.decision_note if request.status == ApprovalRequest.Status.REFINED else "",
    )


def _already_decided_message(request: ApprovalRequest) -> str:
    when = date_format(timezone.localtime(request.decided_at), "H:i") if request.decided_at else ""
    at = f" at {when}" if when else ""
    return {
        ApprovalRequest.Status.ALLOWED: f"This was already allowed{at}; nothing changed.",
        ApprovalRequest.Status.DENIED: f"This was already denied{at}; nothing changed.",
        ApprovalRequest.Status.REFINED: f"This was already sent back with instructions{at}; nothing changed.",
        ApprovalRequest.Status.EXPIRED: "This request expired before it was answered. Command asks again when the "
        "run is resumed.",
        ApprovalRequest.Status.SUPERSEDED: "Command changed this action after asking, so this request no longer "
        "applies. Answer the newer request instead.",
    }.get(request.status, "This request is no longer waiting for a decision.")


def _decide(
    *,
    request: ApprovalRequest,
    user,
    action_hash: str,
    status: str,
    note: str = "",
    remember: str = "",
    command_allowlist: Iterable[str] = (),
    confirm_high_risk: bool = False,
) -> ApprovalRequest:
    expired = False
    with transaction.atomic():
        # Lock only the request row (no joins): the engine locks the run first and requests second.
        locked = ApprovalRequest.objects.select_for_update().get(pk=request.pk)
        if locked.owner_id != user.pk:
            raise ApprovalRefused("Only the person who started this run can decide on it.", code="not_owner")
        if not locked.is_pending:
            raise ApprovalRefused(_already_decided_message(locked), code=f"already_{locked.status}")
        if locked.is_overdue:
            locked.status = ApprovalRequest.Status.EXPIRED
            locked.save(update_fields=["status"])
            transaction.on_commit(lambda: _send_decided(locked))
            expired = True
        elif action_hash != locked.action_hash:
            raise ApprovalRefused(
                "The action changed since this request was shown, so this decision would not be about what "
                "Command will actually do. Reload the request and decide again.",
                code="hash_mismatch",
            )
        else:
            if remember:
                if status not in (ApprovalRequest.Status.ALLOWED, ApprovalRequest.Status.DENIED):
                    raise ApprovalRefused("Only allow or deny can be remembered.")
                if not locked.rememberable:
                    raise ApprovalRefused(
                        "Command asked because the request itself is unclear; that cannot be remembered."
                        if locked.ambiguous
                        else "This kind of action cannot be remembered."
                    )
                locked.remembered_as = approval_preference_set(
                    owner=user,
                    category=locked.category,
                    scope=remember,
                    decision=(
                        ApprovalPreference.Decision.ALLOW
                        if status == ApprovalRequest.Status.ALLOWED
                        else ApprovalPreference.Decision.DENY
                    ),
                    workspace=locked.workspace,
                    command_allowlist=command_allowlist,
                    confirm_high_risk=confirm_high_risk,
                    learned_from_task=locked.run.task,
                )
            locked.status = status
            locked.decided_by = user
            locked.decided_at = timezone.now()
            locked.decision_note = note
            locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "remembered_as"])
            transaction.on_commit(lambda: _send_decided(locked))
    if expired:
        raise ApprovalRefused(
            "This request expired before it was answered, so nothing was decided. Command asks again when the run "
            "is resumed.",
            code="expired",
        )
    return locked


def approval_allow(
    *,
    request: ApprovalRequest,
    user,
    action_hash: str,
    remember: str = "",
    command_allowlist: Iterable[str] = (),
    confirm_high_risk: bool = False,
    note: str = "",
) -> ApprovalRequest:
    """Allow the step to proceed, exactly as shown.

    `remember` ("workspace" or "everywhere") also keeps the decision for this category.
    Refuses (ApprovalRefused): another user, a request already decided, superseded or expired, an
    action hash that is not the one stored, and a remember the memory rules forbid (e.g. allowing
    deletes everywhere without `confirm_high_risk`, or commands everywhere without an allow-list).
    Nothing is decided when it refuses.
    """
    return _decide(
        request=request,
        user=user,
        action_hash=action_hash,
        status=ApprovalRequest.Status.ALLOWED,
        note=note.strip(),
        remember=remember,
        command_allowlist=command_allowlist,
        confirm_high_risk=confirm_high_risk,
    )


def approval_deny(
    *,
    request: ApprovalRequest,
    user,
    action_hash: str,
    remember: str = "",
    command_allowlist: Iterable[str] = (),
    note: str = "",
) -> ApprovalRequest:
    """Deny the step: the engine skips it and re-plans or skips what depends on it.

    `remember` keeps "never allow" for this category. Refuses as `approval_allow` does.
    """
    return _decide(
        request=request,
        user=user,
        action_hash=action_hash,
        status=ApprovalRequest.Status.DENIED,
        note=note.strip(),
        remember=remember,
        command_allowlist=command_allowlist,
    )


def approval_refine(*, request: ApprovalRequest, user, action_hash: str, text: str) -> ApprovalRequest:
    """Send the step back with the operator's instructions; the planner makes a new plan revision.

    The text is kept as `decision_note` and passed to the engine as `refine_text`. Refuses empty or
    over-long text, and everything `approval_allow` refuses.
    """
    text = text.strip()
    if not text:
        raise ApprovalRefused("Say what Command should do differently.", code="empty_refine")
    if len(text) > MAX_REFINE_LENGTH:
        raise ApprovalRefused(f"Keep instructions under {MAX_REFINE_LENGTH} characters.", code="long_refine")
    return _decide(
        request=request, user=user, action_hash=action_hash, status=ApprovalRequest.Status.REFINED, note=text
    )


def approvals_expire_overdue() -> int:
    """Mark every pending request past its expiry as expired (the periodic job). Returns how many."""
    now = timezone.now()
    expired = []
    with transaction.atomic():
        overdue = ApprovalRequest.objects.select_for_update(skip_locked=True).filter(
            status=ApprovalRequest.Status.PENDING, expires_at__lte=now
        )
        for request in overdue:
            request.status = ApprovalRequest.Status.EXPIRED
            request.save(update_fields=["status"])
            expired.append(request)
        transaction.on_commit(lambda: [_send_decided(r) for r in expired])
    return len(expired)


def approvals_withdraw_for_run(*, run, reason: str) -> int:
    """Close a run's pending requests when the run ends without them (cancelled, failed, re-planned).

    They become superseded with the reason as the note; no decision is implied. Returns how many.
    """
    with transaction.atomic():
        return ApprovalRequest.objects.filter(run=run, status=ApprovalRequest.Status.PENDING).update(
            status=ApprovalRequest.Status.SUPERSEDED, decision_note=reason[:1000]
        )
