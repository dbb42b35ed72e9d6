"""Run pages and controls over real HTTP requests: ownership, htmx partials, clear errors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from providers.contracts import ActionType
from tasks.engine.dispatch import run_create
from tasks.models import TaskRun
from tasks.tests.engine_support import make_task, make_workspace, step, verify_step

S = TaskRun.State
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def run(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    return run_create(task=make_task(owner, ws, [step("a", ActionType.WRITE_FILE), verify_step()]))


def test_status_partial_shows_position_and_controls(owner_client, run):
    response = owner_client.get(reverse("tasks:run_status", args=[run.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert run.reference in html and "Position 1" in html and "Pause" in html and "Retry" not in html


def test_other_users_and_anonymous_get_nothing(other_client, anon_client, run):
    status_url = reverse("tasks:run_status", args=[run.pk])
    stop_url = reverse("tasks:run_control", args=[run.pk, "stop"])
    assert other_client.get(status_url).status_code == 404
    assert other_client.post(stop_url).status_code == 404
    assert anon_client.get(status_url).status_code == 302
    assert anon_client.post(stop_url).status_code == 302
    assert TaskRun.objects.get(pk=run.pk).state == S.QUEUED


def test_pause_twice_over_htmx_says_what_happened(owner_client, run):
    url = reverse("tasks:run_control", args=[run.pk, "pause"])
    first = owner_client.post(url, **HX).content.decode()
    second = owner_client.post(url, **HX).content.decode()
    assert f"Paused {run.reference}" in first and "Resume" in first
    assert "already paused" in second


def test_stop_without_htmx_redirects_with_a_message(owner_client, run):
    response = owner_client.post(reverse("tasks:run_control", args=[run.pk, "stop"]), follow=True)
    assert response.redirect_chain and "Stopped" in response.content.decode()
    assert TaskRun.objects.get(pk=run.pk).state == S.CANCELLED


def test_unknown_control_is_404_and_bad_priority_is_explained(owner_client, run):
    assert owner_client.post(reverse("tasks:run_control", args=[run.pk, "explode"])).status_code == 404
    response = owner_client.post(reverse("tasks:run_priority", args=[run.pk]), {"priority": "high"}, **HX)
    assert response.status_code == 400 and "whole number" in response.content.decode()
    response = owner_client.post(reverse("tasks:run_priority", args=[run.pk]), {"priority": "7"}, **HX)
    assert "now has priority 7" in response.content.decode()


def test_start_refuses_a_second_concurrent_run(owner_client, run):
    response = owner_client.post(reverse("tasks:run_start", args=[run.task_id]), follow=True)
    assert "already under way" in response.content.decode()
    assert TaskRun.objects.filter(task=run.task).count() == 1


def test_runs_section_offers_start_only_for_a_planned_task_without_a_run(owner_client, other_client, owner, tmp_path):
    from tasks.models import Task

    ws = make_workspace(owner, tmp_path / "planned", name="planned")
    task = make_task(owner, ws, [step("a", ActionType.WRITE_FILE), verify_step()])
    Task.objects.filter(pk=task.pk).update(status=Task.Status.PLANNED)
    url = reverse("tasks:task_runs", args=[task.pk])
    assert other_client.get(url).status_code == 404
    html = owner_client.get(url).content.decode()
    assert "Start the run" in html and "Nothing has run yet" in html
    owner_client.post(reverse("tasks:run_start", args=[task.pk]))
    html = owner_client.get(url).content.decode()
    assert "Start the run" not in html and "RUN-" in html and "Position 1" in html
