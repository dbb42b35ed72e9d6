"""The approval dialog and the memory page over HTTP, for the owner, another user and anonymous."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalPreference, ApprovalRequest, FormatDefault, StylePreference
from approvals.policy import facts_for_step
from approvals.services import (
    approval_gate_check,
    approval_preference_set,
    clarification_remember,
    format_default_set,
)
from approvals.tests.conftest import make_step

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
DIFF = "--- a/index.html\n+++ b/index.html\n@@ -1 +1 @@\n-<h1>Acme</h1>\n+<h1>Acme Analytics</h1>"


@pytest.fixture
def pending(make_run):
    def _pending(action_type="edit_file", diffs=None, **inputs):
        inputs = inputs or {"path": "index.html"}
        run, step = make_run(action_type=action_type)
        plan_step = make_step(action_type=action_type, **inputs)
        return approval_gate_check(
            run=run, step_execution=step, plan_step=plan_step, facts=facts_for_step(plan_step, diffs=diffs or {})
        ).request

    return _pending


def decide(client, req, decision="allow", htmx=False, **extra):
    data = {"decision": decision, "action_hash": req.action_hash, **extra}
    return client.post(reverse("approvals:decide", args=[req.pk]), data, **(HTMX if htmx else {}))


def test_anonymous_is_sent_to_login(anon_client, pending):
    req = pending()
    for url in (req.get_absolute_url(), reverse("approvals:index"), reverse("approvals:memory")):
        response = anon_client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = decide(anon_client, req)
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == "pending"


def test_another_user_gets_404_and_decides_nothing(other_client, pending):
    req = pending()
    assert other_client.get(req.get_absolute_url()).status_code == 404
    assert decide(other_client, req).status_code == 404
    req.refresh_from_db()
    assert req.status == "pending"


def test_the_dialog_shows_the_full_diff_and_labelled_decisions(owner_client, pending):
    req = pending(diffs={"index.html": DIFF})
    page = owner_client.get(req.get_absolute_url()).content.decode()
    assert 'role="dialog"' in page and f'aria-labelledby="approval-{req.pk}-title"' in page
    assert "What Command understood" in page and "A premium B2B landing page for Acme Analytics." in page
    assert '<span class="diff-add">+&lt;h1&gt;Acme Analytics&lt;/h1&gt;</span>' in page
    assert '<span class="diff-remove">-&lt;h1&gt;Acme&lt;/h1&gt;</span>' in page
    assert 'value="allow" class="button primary" data-autofocus>Allow</button>' in page
    assert ">Deny</button>" in page and "What should Command do differently?" in page
    assert "For file edits in Acme site" in page
    assert "<html" in page  # the full page


def test_the_dialog_shows_a_command_in_full_and_htmx_gets_only_the_partial(owner_client, pending):
    req = pending(action_type="run_command", command="npm run build -- --mode=production")
    page = owner_client.get(req.get_absolute_url(), **HTMX).content.decode()
    assert "<html" not in page and page.strip().startswith("<article")
    assert "<code>npm run build -- --mode=production</code>" in page
    assert "runs &#x27;npm&#x27; in your project folder" in page
    assert "Commands to remember (one per line)" in page


def test_a_network_command_asks_for_the_network_for_this_workspace_only(owner_client, pending):
    req = pending(action_type="run_command", command="npm install --save-dev vite@5")
    page = owner_client.get(req.get_absolute_url(), **HTMX).content.decode()
    assert req.category == "network" and req.risk_level == "high"
    assert "uses the network (npm install)" in page
    assert 'value="workspace"' in page and 'value="everywhere"' not in page
    from command_site.sandbox import network_reach

    reach = network_reach().replace("'", "&#x27;")
    assert f"<strong>with network access</strong>: it can reach {reach}" in page


def test_the_dialog_can_be_pushed_out_of_band(pending):
    from django.template.loader import render_to_string

    req = pending()
    html = render_to_string("approvals/partials/approval_dialog.html", {"approval": req, "oob": True})
    assert f'id="approval-{req.pk}"' in html and 'hx-swap-oob="true"' in html


def test_allow_from_the_dialog(owner_client, pending, owner):
    req = pending()
    response = decide(owner_client, req, htmx=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Allowed by owner@example.com" in body and "The step can proceed." in body
    req.refresh_from_db()
    assert req.status == "allowed" and req.decided_by == owner


def test_deciding_twice_is_refused_with_a_clear_message(owner_client, pending):
    req = pending()
    assert decide(owner_client, req).status_code == 302
    response = decide(owner_client, req, decision="deny")
    assert response.status_code == 409
    assert "This was already allowed" in response.content.decode()
    htmx = decide(owner_client, req, decision="deny", htmx=True)
    assert htmx.status_code == 200 and 'role="alert"' in htmx.content.decode()
    req.refresh_from_db()
    assert req.status == "allowed"


def test_an_expired_request_is_refused(owner_client, pending):
    req = pending()
    ApprovalRequest.objects.filter(pk=req.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = decide(owner_client, req)
    assert response.status_code == 409
    assert "expired before it was answered" in response.content.decode()
    req.refresh_from_db()
    assert req.status == "expired"


def test_a_stale_page_cannot_decide_a_changed_action(owner_client, pending):
    req = pending()
    response = owner_client.post(
        reverse("approvals:decide", args=[req.pk]), {"decision": "allow", "action_hash": "f" * 64}
    )
    assert response.status_code == 409 and "The action changed" in response.content.decode()
    req.refresh_from_db()
    assert req.status == "pending"


def test_refine_needs_text_and_then_keeps_it(owner_client, pending):
    req = pending()
    response = decide(owner_client, req, decision="refine", refine_text="")
    assert response.status_code == 400 and "Say what Command should do differently." in response.content.decode()
    req.refresh_from_db()
    assert req.status == "pending"
    decide(owner_client, req, decision="refine", refine_text="Keep the hero image, change only the headline.")
    req.refresh_from_db()
    assert req.status == "refined" and req.decision_note == "Keep the hero image, change only the headline."


def test_allow_and_remember_then_the_memory_page_lists_and_forgets_it(owner_client, pending, owner, acme):
    req = pending()
    decide(owner_client, req, remember="workspace")
    pref = ApprovalPreference.objects.get(owner=owner)
    page = owner_client.get(reverse("approvals:memory")).content.decode()
    assert f'id="approval-pref-{pref.pk}"' in page
    assert "You allow file edits in Acme site" in page
    assert f'Learned from <a href="{req.run.task.get_absolute_url()}">{req.run.task.reference}</a>' in page
    assert "not used yet" in page
    forget = reverse("approvals:memory_forget", args=["approval", pref.pk])
    assert owner_client.post(forget, **HTMX).content == b""
    assert not ApprovalPreference.objects.exists()
    assert "No remembered approvals" in owner_client.get(reverse("approvals:memory")).content.decode()


def test_an_auto_approved_request_says_which_preference_and_links_to_change_it(owner_client, make_run, owner, acme):
    pref = approval_preference_set(
        owner=owner, category="edit_file", scope="workspace", decision="allow", workspace=acme
    )
    run, step = make_run()
    plan_step = make_step(path="index.html")
    req = approval_gate_check(
        run=run, step_execution=step, plan_step=plan_step, facts=facts_for_step(plan_step)
    ).request
    page = owner_client.get(req.get_absolute_url()).content.decode()
    assert "Auto-approved: you allow file edits in Acme site" in page
    assert f'href="/memory/#approval-pref-{pref.pk}">change this</a>' in page


def test_memory_page_groups_everything_and_forgets_each_kind(owner_client, owner, other_client):
    fmt = format_default_set(owner=owner, category="document", format="pdf")
    answer = clarification_remember(owner=owner, question_key="audience", question="Who is it for?", answer="CFOs")
    page = owner_client.get(reverse("approvals:memory")).content.decode()
    assert "Document as pdf" in page and "Who is it for? → CFOs" in page
    # Another user can neither see nor forget them.
    assert "CFOs" not in other_client.get(reverse("approvals:memory")).content.decode()
    assert other_client.post(reverse("approvals:memory_forget", args=["format", fmt.pk])).status_code == 404
    response = owner_client.post(reverse("approvals:memory_forget", args=["clarification", answer.pk]))
    assert response.status_code == 302
    page = owner_client.get(reverse("approvals:memory")).content.decode()
    assert "CFOs" not in page and "Document as pdf" in page


def test_memory_page_is_empty_until_asked(owner_client):
    page = owner_client.get(reverse("approvals:memory")).content.decode()
    assert "Command remembers nothing yet." in page


def test_adding_defaults_explicitly(owner_client, owner, acme):
    owner_client.post(reverse("approvals:memory_add_format"), {"category": "spreadsheet", "format": "xlsx"})
    owner_client.post(reverse("approvals:memory_set_style"), {"tone": "professional", "expertise": ""})
    owner_client.post(
        reverse("approvals:memory_add_approval"),
        {"category": "run_command", "decision": "allow", "scope": "workspace", "workspace": str(acme.pk)},
    )
    assert FormatDefault.objects.get(owner=owner).format == "xlsx"
    assert StylePreference.objects.get(owner=owner).value == "professional"
    assert ApprovalPreference.objects.get(owner=owner).workspace == acme


def test_allowing_deletes_everywhere_is_not_one_click(owner_client, owner):
    data = {"category": "delete_file", "decision": "allow", "scope": "everywhere"}
    response = owner_client.post(reverse("approvals:memory_add_approval"), data)
    assert response.status_code == 400 and "explicit confirmation" in response.content.decode()
    assert not ApprovalPreference.objects.exists()
    owner_client.post(reverse("approvals:memory_add_approval"), {**data, "confirm_high_risk": "on"})
    assert ApprovalPreference.objects.get(owner=owner).confirmed_high_risk


def test_another_users_workspace_cannot_be_chosen(other_client, acme):
    response = other_client.post(
        reverse("approvals:memory_add_approval"),
        {"category": "edit_file", "decision": "allow", "scope": "workspace", "workspace": str(acme.pk)},
    )
    assert response.status_code == 400
    assert not ApprovalPreference.objects.exists()


def test_the_index_lists_what_waits(owner_client, other_client, pending):
    req = pending()
    assert req.title in owner_client.get(reverse("approvals:index")).content.decode()
    assert "Nothing is waiting for your approval." in other_client.get(reverse("approvals:index")).content.decode()
