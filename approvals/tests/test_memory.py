"""Memory services and the selectors the planner reads."""

from __future__ import annotations

import pytest
from django.core.exceptions import ObjectDoesNotExist

from approvals.errors import ApprovalRefused
from approvals.models import ApprovalPreference, FormatDefault, RememberedClarification, StylePreference
from approvals.selectors import (
    format_defaults_for,
    memory_for_owner,
    remembered_answers_for,
    style_preferences_for,
)
from approvals.services import (
    approval_preference_set,
    clarification_remember,
    format_default_set,
    memory_forget,
    memory_touch,
    style_preference_set,
)

pytestmark = pytest.mark.django_db


def test_remembered_answers_feed_the_planner_and_touch_records_use(owner, other_user):
    clarification_remember(owner=owner, question_key="brand_colours", question="Which colours?", answer="Navy, teal")
    clarification_remember(owner=other_user, question_key="brand_colours", question="Which colours?", answer="Red")
    assert remembered_answers_for(owner=owner) == {"brand_colours": "Navy, teal"}
    assert RememberedClarification.objects.get(owner=owner).last_used_at is None
    assert memory_touch(owner=owner, clarification_keys=["brand_colours", "unknown"]) == 1
    assert RememberedClarification.objects.get(owner=owner).last_used_at is not None
    assert RememberedClarification.objects.get(owner=other_user).last_used_at is None


def test_answering_again_replaces_the_remembered_answer(owner):
    clarification_remember(owner=owner, question_key="audience", question="Who is it for?", answer="CFOs")
    clarification_remember(owner=owner, question_key="audience", question="Who is it for?", answer="CTOs")
    assert remembered_answers_for(owner=owner) == {"audience": "CTOs"}
    with pytest.raises(ApprovalRefused):
        clarification_remember(owner=owner, question_key="audience", question="?", answer=" ")


def test_format_defaults_are_normalised_and_validated(owner):
    format_default_set(owner=owner, category="document", format=" .PDF ")
    format_default_set(owner=owner, category="spreadsheet", format="xlsx")
    assert format_defaults_for(owner=owner) == {"document": "pdf", "spreadsheet": "xlsx"}
    with pytest.raises(ApprovalRefused, match="file format"):
        format_default_set(owner=owner, category="document", format="p d f")
    with pytest.raises(ApprovalRefused, match="output kinds"):
        format_default_set(owner=owner, category="hologram", format="pdf")
    memory_touch(owner=owner, format_categories=["document"])
    assert FormatDefault.objects.get(category="document").last_used_at is not None


def test_tone_and_expertise(owner):
    style_preference_set(owner=owner, kind="tone", value="professional")
    style_preference_set(owner=owner, kind="expertise", value="expert")
    assert style_preferences_for(owner=owner) == {"tone": "professional", "expertise": "expert"}
    with pytest.raises(ApprovalRefused):
        style_preference_set(owner=owner, kind="tone", value="sarcastic")


def test_what_can_never_be_remembered(owner, acme, other_user):
    with pytest.raises(ApprovalRefused, match="outside the workspace"):
        approval_preference_set(owner=owner, category="outside_workspace", scope="everywhere", decision="allow")
    with pytest.raises(ApprovalRefused, match="never ask"):
        approval_preference_set(owner=owner, category="create_file", scope="everywhere", decision="allow")
    with pytest.raises(ApprovalRefused, match="not yours"):
        approval_preference_set(
            owner=other_user, category="edit_file", scope="workspace", decision="allow", workspace=acme
        )
    assert not ApprovalPreference.objects.exists()


def test_changing_ones_mind_replaces_the_preference(owner, acme):
    first = approval_preference_set(
        owner=owner, category="edit_file", scope="workspace", decision="allow", workspace=acme
    )
    second = approval_preference_set(
        owner=owner, category="edit_file", scope="workspace", decision="deny", workspace=acme
    )
    assert first.pk == second.pk and ApprovalPreference.objects.get().decision == "deny"


def test_forget_removes_only_the_owners_item(owner, other_user):
    mine = format_default_set(owner=owner, category="document", format="pdf")
    with pytest.raises(ObjectDoesNotExist):
        memory_forget(owner=other_user, kind="format", item_id=mine.pk)
    with pytest.raises(ObjectDoesNotExist):
        memory_forget(owner=owner, kind="nonsense", item_id=mine.pk)
    memory_forget(owner=owner, kind="format", item_id=mine.pk)
    assert memory_for_owner(owner=owner).is_empty


def test_memory_counts_in_one_query_match_the_overview(owner, other_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from approvals.selectors import memory_counts_for

    assert memory_counts_for(owner=owner) == {
        "approvals": 0,
        "formats": 0,
        "styles": 0,
        "clarifications": 0,
        "pending": 0,
        "empty": True,
    }
    FormatDefault.objects.create(owner=owner, category="document", format="pdf")
    FormatDefault.objects.create(owner=other_user, category="document", format="docx")
    StylePreference.objects.create(owner=owner, kind="tone", value="professional")
    with CaptureQueriesContext(connection) as queries:
        counts = memory_counts_for(owner=owner)
    assert len(queries) == 1
    overview = memory_for_owner(owner=owner)
    assert counts["formats"] == len(overview.formats) == 1
    assert counts["styles"] == len(overview.styles) == 1
    assert counts["approvals"] == counts["clarifications"] == counts["pending"] == 0
    assert counts["empty"] is False
