"""The runs admin: filter by state, read-only event log, retry / stop / recover actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from providers.contracts import ActionType
from tasks.engine.dispatch import dispatch_claim, run_create
from tasks.models import TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, verify_step

S = TaskRun.State


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser(username="ops", email="ops@example.com", password="pw-ops-123")
    client.force_login(admin)
    return client


@pytest.fixture
def run(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    return run_create(task=make_task(owner, ws, [step("a", ActionType.WRITE_FILE), verify_step()]))


def test_list_filters_by_state_and_shows_why(admin_client, run):
    response = admin_client.get(reverse("admin:tasks_taskrun_changelist"), {"state__exact": "queued"})
    assert response.status_code == 200 and run.reference in response.content.decode()
    response = admin_client.get(reverse("admin:tasks_taskrun_changelist"), {"state__exact": "failed"})
    assert run.reference not in response.content.decode()


def test_change_page_has_a_read_only_event_log(admin_client, run):
    html = admin_client.get(reverse("admin:tasks_taskrun_change", args=[run.pk])).content.decode()
    assert "queued with 2 steps" in html
    assert 'name="events-0-title"' not in html, "events cannot be edited"


def test_actions_stop_retry_recover(admin_client, run):
    url = reverse("admin:tasks_taskrun_changelist")
    admin_client.post(url, {"action": "stop_runs", "_selected_action": [run.pk]})
    assert TaskRun.objects.get(pk=run.pk).state == S.CANCELLED
    response = admin_client.post(url, {"action": "retry_runs", "_selected_action": [run.pk]}, follow=True)
    retry = TaskRun.objects.get(previous_run=run)
    assert f"Started {retry.reference}" in response.content.decode()
    dispatch_claim(worker_id="gone", run_id=retry.pk)
    TaskRun.objects.filter(pk=retry.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=5))
    admin_client.post(url, {"action": "recover_runs", "_selected_action": [retry.pk]})
    assert TaskRun.objects.get(pk=retry.pk).state == S.QUEUED
