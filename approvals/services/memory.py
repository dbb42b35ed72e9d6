"""Writes to operator memory: only ever on the operator's explicit request, always forgettable."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from approvals.errors import ApprovalRefused
from approvals.models import (
    ApprovalPreference,
    FormatDefault,
    RememberedClarification,
    StylePreference,
)
from approvals.policy import CATEGORY_NOUNS, HIGH_RISK_CATEGORIES, REMEMBERABLE, WORKSPACE_ONLY, Category
from providers.contracts import OutputCategory
from tasks.engine.sql import update_where

MAX_ALLOWLIST_ENTRIES = 20
TONES = ("friendly", "professional", "mixed")
EXPERTISE_LEVELS = ("new", "expert")


def _clean_allowlist(entries: Iterable[str]) -> list[str]:
    cleaned = list(dict.fromkeys(e.strip() for e in entries if e and e.strip()))
    if len(cleaned) > MAX_ALLOWLIST_ENTRIES:
        raise ApprovalRefused(f"An allow-list holds at most {MAX_ALLOWLIST_ENTRIES} commands.")
    for entry in cleaned:
        if len(entry) > 200:
            raise ApprovalRefused("Each allowed command must be shorter than 200 characters.")
        if any(ch in entry for ch in ";&|`<>$\n"):
            raise ApprovalRefused(
                f"“{entry}” chains or redirects commands. Type each allowed command on its own line, "
                "without ; && | > or $( )."
            )
    return cleaned


def approval_preference_set(
    *,
    owner,
    category: str,
    scope: str,
    decision: str,
    workspace=None,
    command_allowlist: Iterable[str] = (),
    confirm_high_risk: bool = False,
    learned_from_task=None,
) -> ApprovalPreference:
    """Remember an approval decision for a category, in one workspace or everywhere.

    Replaces an earlier preference for the same category and place (the operator changed their mind).
    Refuses: categories that cannot be remembered (reads, new files, anything outside the workspace),
    a workspace that is not the owner's, and "always allow everywhere" for a high-risk category
    without the extra step — deletes need `confirm_high_risk`, commands need a typed allow-list.
    """
    if category not in REMEMBERABLE:
        raise ApprovalRefused(
            "Command never remembers a decision for changes outside the workspace."
            if category == Category.OUTSIDE_WORKSPACE
            else f"{CATEGORY_NOUNS.get(category, 'This kind of action').capitalize()} never ask, so there is "
            "nothing to remember."
        )
    if scope not in ApprovalPreference.Scope.values:
        raise ApprovalRefused("Choose whether to remember this for one workspace or everywhere.")
    if decision not in ApprovalPreference.Decision.values:
        raise ApprovalRefused("Choose whether to always allow or never allow.")
    if scope == ApprovalPreference.Scope.WORKSPACE:
        if workspace is None:
            raise ApprovalRefused("This action has no workspace; remember it everywhere or not at all.")
        if workspace.owner_id != owner.pk:
            raise ApprovalRefused("That workspace is not yours.")
    else:
        if category in WORKSPACE_ONLY:
            raise ApprovalRefused("Network for commands is remembered for one workspace at a time, never everywhere.")
        workspace = None
    allowlist = _clean_allowlist(command_allowlist) if category == Category.RUN_COMMAND else []
    everywhere_allow = scope == ApprovalPreference.Scope.EVERYWHERE and decision == ApprovalPreference.Decision.ALLOW
    if everywhere_allow and category in HIGH_RISK_CATEGORIES:
        if category == Category.RUN_COMMAND and not allowlist:
            raise ApprovalRefused(
                "To allow commands everywhere, type the commands you allow (one per line, e.g. “npm run build”). "
                "Command will still ask about any other command."
            )
        if category == Category.DELETE_FILE and not confirm_high_risk:
            raise ApprovalRefused(
                "Allowing file deletions everywhere needs an explicit confirmation: tick the box that says you "
                "understand Command will delete files in any workspace without asking."
            )

    with transaction.atomic():
        lookup = {"owner": owner, "category": category, "scope": scope, "workspace": workspace}
        pref = ApprovalPreference.objects.select_for_update().filter(**lookup).first()
        if pref is None:
            pref = ApprovalPreference(**lookup)
        pref.decision = decision
        pref.command_allowlist = allowlist
        pref.confirmed_high_risk = bool(everywhere_allow and confirm_high_risk)
        if learned_from_task is not None:
            pref.learned_from_task = learned_from_task
        try:
            with transaction.atomic():
                pref.save()
        except IntegrityError:
            raise ApprovalRefused("This preference was just changed elsewhere; reload the page and try again.")
    return pref


def approval_preference_forget(*, owner, preference_id: int) -> None:
    """Forget one remembered approval decision. Refuses (DoesNotExist) for another user's preference."""
    with transaction.atomic():
        ApprovalPreference.objects.get(owner=owner, pk=preference_id).delete()


def approval_preference_touch(*, preference: ApprovalPreference) -> None:
    """Record that a preference decided something just now."""
    # Once per auto-decided step: one prepared statement (as .update(use_count=F("use_count") + 1) writes it).
    update_where(ApprovalPreference, {"pk": preference.pk}, increment=("use_count",), last_used_at=timezone.now())


def format_default_set(*, owner, category: str, format: str, learned_from_task=None) -> FormatDefault:  # noqa: A002
    """Remember the format for one output category ("documents as PDF"). Replaces an earlier one."""
    if category not in {c.value for c in OutputCategory}:
        raise ApprovalRefused("Choose one of the output kinds Command makes.")
    fmt = format.strip().lower().lstrip(".")
    if not fmt or len(fmt) > 20 or not fmt.replace("-", "").isalnum():
        raise ApprovalRefused("Type a file format such as pdf, docx or xlsx.")
    with transaction.atomic():
        item, _ = FormatDefault.objects.update_or_create(
            owner=owner,
            category=category,
            defaults={"format": fmt, **({"learned_from_task": learned_from_task} if learned_from_task else {})},
        )
    return item


def style_preference_set(*, owner, kind: str, value: str, learned_from_task=None) -> StylePreference:
    """Remember the tone (friendly / professional / mixed) or expertise (new / expert) to use by default."""
    allowed = {"tone": TONES, "expertise": EXPERTISE_LEVELS}.get(kind)
    if allowed is None:
        raise ApprovalRefused("Command remembers a tone or an expertise level.")
    if value not in allowed:
        raise ApprovalRefused(f"Choose one of: {', '.join(allowed)}.")
    with transaction.atomic():
        item, _ = StylePreference.objects.update_or_create(
            owner=owner,
            kind=kind,
            defaults={"value": value, **({"learned_from_task": learned_from_task} if learned_from_task else {})},
        )
    return item


def clarification_remember(
    *, owner, question_key: str, question: str, answer: str, learned_from_task=None
) -> RememberedClarification:
    """Keep the operator's answer to a clarifying question, because they asked Command to.

    The planner receives it next time through `selectors.remembered_answers_for`. Refuses empty keys
    and empty answers.
    """
    key, answer = question_key.strip(), answer.strip()
    if not key or len(key) > 100:
        raise ApprovalRefused("This question cannot be remembered (it has no stable key).")
    if not answer:
        raise ApprovalRefused("There is no answer to remember.")
    with transaction.atomic():
        item, _ = RememberedClarification.objects.update_or_create(
            owner=owner,
            question_key=key,
            defaults={
                "question": question.strip() or key,
                "answer": answer,
                **({"learned_from_task": learned_from_task} if learned_from_task else {}),
            },
        )
    return item


MEMORY_KINDS = {
    "approval": ApprovalPreference,
    "format": FormatDefault,
    "style": StylePreference,
    "clarification": RememberedClarification,
}


def memory_forget(*, owner, kind: str, item_id: int) -> None:
    """Forget one remembered item of any kind. Raises ObjectDoesNotExist for unknown kinds or others' items."""
    model = MEMORY_KINDS.get(kind)
    if model is None:
        raise ObjectDoesNotExist(f"Nothing remembered of kind {kind!r}.")
    with transaction.atomic():
        model.objects.get(owner=owner, pk=item_id).delete()


def memory_touch(
    *,
    owner,
    clarification_keys: Iterable[str] = (),
    format_categories: Iterable[str] = (),
    style_kinds: Iterable[str] = (),
) -> int:
    """Record that remembered items were just used (the memory page shows "last used", and for an
    answer how many requests used it). Returns how many."""
    now = timezone.now()
    with transaction.atomic():
        n = RememberedClarification.objects.filter(owner=owner, question_key__in=list(clarification_keys)).update(
            last_used_at=now, use_count=F("use_count") + 1
        )
        n += FormatDefault.objects.filter(owner=owner, category__in=list(format_categories)).update(last_used_at=now)
        n += StylePreference.objects.filter(owner=owner, kind__in=list(style_kinds)).update(last_used_at=now)
    return n
