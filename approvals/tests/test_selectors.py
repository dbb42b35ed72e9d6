"""Reads: only the owner's objects, and memory notes only for items that exist."""

from __future__ import annotations

import pytest
from django.http import Http404

from approvals.selectors import (
    approval_get_for_owner,
    approval_pending_for_run,
    approvals_pending_count,
    approvals_pending_for_owner,
    memory_notes_for,
)
from approvals.services import clarification_remember, format_default_set, style_preference_set

pytestmark = pytest.mark.django_db


def test_memory_notes_name_what_was_used_and_link_to_it(owner, other_user):
    answer = clarification_remember(owner=owner, question_key="audience", question="Who is it for?", answer="CFOs")
    fmt = format_default_set(owner=owner, category="document", format="pdf")
    tone = style_preference_set(owner=owner, kind="tone", value="professional")
    clarification_remember(owner=other_user, question_key="colours", question="Colours?", answer="red")
    notes = memory_notes_for(
        owner=owner,
        clarification_keys=["audience", "colours"],
        format_categories=["document", "spreadsheet"],
        style_kinds=["tone"],
    )
    assert [n.text for n in notes] == [
        "Used your remembered answer to “Who is it for?”: CFOs — change this",
        "Used your default format for document outputs: pdf — change this",
        "Used your default tone: professional — change this",
    ]
    assert [n.change_url for n in notes] == [
        f"/memory/#rememberedclarification-{answer.pk}",
        f"/memory/#formatdefault-{fmt.pk}",
        f"/memory/#stylepreference-{tone.pk}",
    ]


def test_requests_are_read_only_by_their_owner(make_run, owner, other_user):
    from approvals.policy import facts_for_step
    from approvals.services import approval_gate_check
    from approvals.tests.conftest import make_step

    run, step = make_run()
    plan_step = make_step(path="index.html")
    req = approval_gate_check(
        run=run, step_execution=step, plan_step=plan_step, facts=facts_for_step(plan_step)
    ).request
    assert approval_get_for_owner(owner=owner, approval_id=req.pk) == req
    with pytest.raises(Http404):
        approval_get_for_owner(owner=other_user, approval_id=req.pk)
    assert list(approvals_pending_for_owner(owner=other_user)) == []
    assert list(approvals_pending_for_owner(owner=owner)) == [req]
    assert approval_pending_for_run(owner=owner, run_id=run.pk) == req
    assert (approvals_pending_count(owner=owner), approvals_pending_count(owner=other_user)) == (1, 0)
    assert approval_pending_for_run(owner=other_user, run_id=run.pk) is None
