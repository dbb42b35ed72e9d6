"""A run is completed only when every checkable criterion of the brief passed: through the
real planner, engine and verifier, a sheet that misses its brief fails the run by name."""

from __future__ import annotations

import dataclasses

import pytest
from django.urls import reverse

from outputs import generators
from outputs.models import OutputAsset
from tasks import jobs
from tasks.models import TaskRun
from tasks.planning import task_understand
from tasks.services import task_start_if_ready, task_submit

pytestmark = pytest.mark.django_db

PROMPT = "Quarterly budget as excel please, 4 departments, with totals"


def _drain(run: TaskRun, limit: int = 20) -> TaskRun:
    for _ in range(limit):
        jobs.dispatch_next()
        run.refresh_from_db()
        if run.state not in (TaskRun.State.QUEUED, TaskRun.State.RUNNING, TaskRun.State.VERIFYING):
            break
    return run


def _run(owner) -> TaskRun:
    task = task_submit(owner=owner, prompt=PROMPT)
    task_understand(task=task)
    run = task_start_if_ready(task=task)
    assert run is not None
    return _drain(run)


def test_the_budget_request_completes_with_every_criterion_passed(owner, owner_client):
    run = _run(owner)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    assert run.state_reason == "Every step finished and every verification passed."
    asset = OutputAsset.objects.get(run=run)
    assert asset.title == "Quarterly budget for 4 departments"
    assert {c["name"]: c["status"] for c in asset.criteria} == {
        "Brief: It is a budget": "passed",
        "Brief: 4 departments": "passed",
        "Brief: Broken down quarterly": "passed",
        "Brief: A totals row whose formulas compute": "passed",
    }
    page = owner_client.get(reverse("outputs:library")).content.decode()
    assert "4 departments" in page and ">Verified<" in page


def test_a_criterion_the_file_misses_fails_the_run_and_says_which(owner, owner_client, monkeypatch):
    honest = generators.REGISTRY["spreadsheet"]

    def three_departments(request, dest):  # the generator gets the brief wrong; verification must notice
        brief = request.deliverable.brief.model_copy(update={"counts": {"departments": 3}})
        wrong = dataclasses.replace(request, deliverable=request.deliverable.model_copy(update={"brief": brief}))
        return honest(wrong, dest)

    monkeypatch.setitem(generators.REGISTRY, "spreadsheet", three_departments)
    run = _run(owner)
    assert run.state != TaskRun.State.COMPLETED
    assert "Brief: 4 departments" in run.state_reason
    assert "3 departments rows, expected 4" in run.state_reason
    assert not OutputAsset.objects.filter(run=run).exists()
    card = owner_client.get(reverse("tasks:run_status", args=[run.pk])).content.decode()
    assert "Brief: 4 departments" in card


def test_a_logo_shows_what_was_not_checked_and_is_not_called_verified(owner, owner_client):
    task = task_submit(owner=owner, prompt="logo for a coffee shop called Bean There, warm colours")
    task_understand(task=task)
    run = _drain(task_start_if_ready(task=task))
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    asset = OutputAsset.objects.get(run=run)
    statuses = {c["name"]: c["status"] for c in asset.criteria}
    assert statuses["Brief: It names “Bean There”"] == "passed"
    assert statuses["Brief: A warm palette"] == "passed"
    assert statuses["Brief: It is a logo"] == "passed"
    assert statuses["Brief: It is about coffee shop"] == "not_checked"
    assert "every verification passed" not in run.state_reason
    assert "could not be checked (the result cards say which)" in run.state_reason, run.state_reason
    page = owner_client.get(reverse("outputs:library")).content.decode()
    assert "Not checked" in page and "not checked</span>" in page
    assert ">Verified<" not in page
    detail = owner_client.get(asset.get_absolute_url()).content.decode()
    assert ">Verified<" not in detail and "Checks passed" in detail and "Not checked:" in detail


def test_the_understanding_card_shows_the_brief_and_a_vague_request_asks(owner, owner_client):
    task = task_submit(owner=owner, prompt=PROMPT)
    task_understand(task=task)
    page = owner_client.get(reverse("tasks:detail", args=[task.pk])).content.decode()
    assert "what it must meet" in page
    for criterion in (
        "It is a budget",
        "4 departments",
        "Broken down quarterly",
        "A totals row whose formulas compute",
    ):
        assert criterion in page

    vague = task_submit(owner=owner, prompt="make a one pager")
    task_understand(task=vague)
    page = owner_client.get(reverse("tasks:detail", args=[vague.pk])).content.decode()
    assert "What should the one-pager be about, and who is it for?" in page
    assert task_start_if_ready(task=vague) is None  # nothing is made until it is answered


def test_answering_what_it_is_about_plans_a_one_pager_about_that(owner):
    from tasks.planning import task_answer_clarifications

    task = task_submit(owner=owner, prompt="make a one pager")
    task_understand(task=task)
    revision = task_answer_clarifications(task=task, answers={"subject-d1": "our spring open day for new parents"})
    brief = revision.understanding["deliverables"][0]["brief"]
    assert brief["subject"] == "our spring open day for new parents"
    assert revision.plan["steps"], "once the subject is known, the one-pager is planned"
