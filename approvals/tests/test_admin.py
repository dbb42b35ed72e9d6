"""The back office reads approval requests and memory; it never decides for the operator."""

from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.policy import facts_for_step
from approvals.services import approval_gate_check, format_default_set
from approvals.tests.conftest import make_step

pytestmark = pytest.mark.django_db


def test_admin_lists_requests_read_only(client, django_user_model, make_run, owner):
    admin = django_user_model.objects.create_superuser(username="ops", email="ops@example.com", password="x")
    client.force_login(admin)
    run, step = make_run()
    plan_step = make_step(path="index.html")
    facts = facts_for_step(plan_step)
    req = approval_gate_check(run=run, step_execution=step, plan_step=plan_step, facts=facts).request
    format_default_set(owner=owner, category="document", format="pdf")
    listing = client.get(reverse("admin:approvals_approvalrequest_changelist") + "?status__exact=pending")
    assert listing.status_code == 200 and req.title in listing.content.decode()
    change = client.get(reverse("admin:approvals_approvalrequest_change", args=[req.pk]))
    assert change.status_code == 200 and 'name="status"' not in change.content.decode()
    assert client.get(reverse("admin:approvals_approvalrequest_add")).status_code == 403
    assert client.get(reverse("admin:approvals_formatdefault_changelist")).status_code == 200
