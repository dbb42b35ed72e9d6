"""tasks.planning on the real database: revisions, statuses, answers, memory, providers (real HTTP)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django_q.models import OrmQ

from approvals.models import RememberedClarification
from command_site.testing import wait_for, worker_process
from providers.models import ProviderConnection
from providers.services import provider_connection_create, provider_connection_revoke
from providers.tests.provider_server import ProviderServer, Reply, good_result, plan_reply
from tasks import jobs
from tasks.models import PlanRevision, Task
from tasks.planning import (
    PlanningRefused,
    plan_revise,
    task_answer_clarifications,
    task_understand,
)
from tasks.services import task_submit
from workspaces.models import Workspace

KEY = "sk-planning-secret-4242"


def submit(owner, prompt, **kw) -> Task:
    return task_submit(owner=owner, prompt=prompt, **kw)


def latest(task) -> PlanRevision:
    return task.plan_revisions.order_by("-number").first()


# --- built-in, within the request ---------------------------------------------------------


def test_understand_stores_revision_one_and_plans(owner):
    task = submit(owner, "creat a landng page for 'Acme Analytics' + pdf proposel")
    revision = task_understand(task=task)
    task.refresh_from_db()
    assert revision.number == 1 and revision.planner == "built-in (rule-based)"
    assert task.status == Task.Status.PLANNED
    assert revision.understanding["normalised_prompt"] == "create a landing page for 'Acme Analytics' + pdf proposal"
    assert [s["action_type"] for s in revision.plan["steps"]][:3] == ["generate_output", "verify", "deliver"]
    assert revision.brief["goal"] == "Produce the landing page and proposal for Acme Analytics."
    assert "First reading" in revision.change_note
    assert not OrmQ.objects.exists()  # no provider: nothing queued


@pytest.mark.parametrize(
    ("prompt", "status"),
    [
        ("make it better", Task.Status.NEEDS_CLARIFICATION),
        ("fix the login bug in my app", Task.Status.NEEDS_CLARIFICATION),  # no workspace chosen
        ("a logo and slides", Task.Status.PLANNED),
    ],
)
def test_status_follows_the_understanding(owner, prompt, status):
    task = submit(owner, prompt)
    task_understand(task=task)
    task.refresh_from_db()
    assert task.status == status


def test_code_changes_in_a_workspace_need_a_provider(owner, tmp_path):
    workspace = Workspace.objects.create(owner=owner, name="shop", path=str(tmp_path))
    task = submit(owner, "refactor the payment module", mode=Task.Mode.EDIT, workspace=workspace)
    revision = task_understand(task=task)
    task.refresh_from_db()
    assert task.status == Task.Status.NEEDS_PROVIDER
    assert revision.plan["steps"] == []
    assert "Providers" in revision.understanding["needs_provider_reason"]


def test_answering_makes_a_new_revision_and_keeps_the_old_one(owner):
    task = submit(owner, "can you help me with something")
    first = task_understand(task=task)
    second = task_answer_clarifications(task=task, answers={"deliverable": "A presentation"})
    task.refresh_from_db()
    assert (first.number, second.number) == (1, 2)
    assert task.status == Task.Status.PLANNED
    assert "You answered (“What should Command make?" in second.change_note
    assert "” A presentation)" in second.change_note and "deliverable:" not in second.change_note
    assert "Now making Presentation" in second.change_note
    assert PlanRevision.objects.get(pk=first.pk).understanding["ambiguities"][0]["id"] == "deliverable"
    assert task.context["answers"] == {"deliverable": "A presentation"}


def test_answers_are_checked(owner, other_user, tmp_path):
    task = submit(owner, "fix the login bug in my app")
    task_understand(task=task)
    with pytest.raises(PlanningRefused, match="Answer at least one question"):
        task_answer_clarifications(task=task, answers={"workspace": "  "})
    with pytest.raises(PlanningRefused, match="not open on this task: theme"):
        task_answer_clarifications(task=task, answers={"theme": "Dark"})
    theirs = Workspace.objects.create(owner=other_user, name="theirs", path=str(tmp_path))
    with pytest.raises(PlanningRefused, match="your own workspaces"):
        task_answer_clarifications(task=task, answers={"workspace": str(theirs.id)})
    assert task.plan_revisions.count() == 1
    mine = Workspace.objects.create(owner=owner, name="app", path=str(tmp_path))
    task_answer_clarifications(task=task, answers={"workspace": str(mine.id)})
    task.refresh_from_db()
    assert task.workspace == mine and task.status == Task.Status.NEEDS_PROVIDER


def test_a_remembered_answer_is_stored_reused_and_announced(owner):
    task = submit(owner, "a website, dark theme or light theme?")
    task_understand(task=task)
    task_answer_clarifications(task=task, answers={"theme": "Dark"}, remember={"theme"})
    assert RememberedClarification.objects.get(owner=owner, question_key="theme").answer == "Dark"
    assert "Remembered for the next request that asks the same: “Dark or light theme?" in latest(task).change_note

    again = submit(owner, "another website, light theme or dark theme")
    revision = task_understand(task=again)
    again.refresh_from_db()
    assert again.status == Task.Status.PLANNED
    assert any("remembered" in a and "Dark" in a for a in revision.understanding["assumptions"])


def test_a_remembered_answer_applies_only_to_the_same_question_and_counts_its_uses(owner):
    from tasks.planning import _planning_request

    task = submit(owner, "make it better")
    task_understand(task=task)
    task_answer_clarifications(task=task, answers={"improve_target": "The visual design"}, remember={"improve_target"})
    memory = RememberedClarification.objects.get(owner=owner, question_key="improve_target")
    assert memory.use_count == 0 and memory.last_used_at is None, "answering is not reusing"

    for prompt in ("a pdf proposal for Acme", "delete the old logo files", "a landing page for Acme"):
        other = submit(owner, prompt)
        revision = task_understand(task=other)
        said = " ".join(revision.understanding["assumptions"])
        assert "remembered" not in said and "visual design" not in said, (prompt, said)
        assert _planning_request(other, answers={}).remembered_answers == {}, "nor is it sent to a provider"
    memory.refresh_from_db()
    assert memory.use_count == 0 and memory.last_used_at is None

    same = submit(owner, "make it better please")
    revision = task_understand(task=same)
    said = " ".join(revision.understanding["assumptions"])
    assert "Used your remembered answer to “What should be improved" in said and "The visual design" in said
    assert "improve_target" not in json.dumps(revision.understanding["assumptions"])
    task_understand(task=same)  # planning the same request again is not another use
    memory.refresh_from_db()
    assert memory.use_count == 1 and memory.last_used_at is not None


def test_plan_revise_records_what_changed_and_why(owner):
    task = submit(owner, "a logo")
    first = task_understand(task=task)
    with pytest.raises(PlanningRefused):
        plan_revise(task=task, reason="  ")
    from providers.contracts import Plan

    plan = Plan.model_validate(first.plan)
    shorter = plan.model_copy(update={"steps": plan.steps[:2]})
    revision = plan_revise(task=task, reason="You denied delivery; the logo stays unfiled.", plan=shorter)
    assert revision.number == 2 and len(revision.plan["steps"]) == 2
    assert revision.change_note == "You denied delivery; the logo stays unfiled."
    assert revision.planner == first.planner
    assert task.plan_revisions.count() == 2


def test_planning_refuses_a_task_that_is_running(owner):
    task = submit(owner, "a logo")
    task_understand(task=task)
    Task.objects.filter(pk=task.pk).update(status=Task.Status.RUNNING)
    task.refresh_from_db()
    with pytest.raises(PlanningRefused):
        task_understand(task=task)


# --- with a default provider: visibly pending, then the provider's plan or an honest fallback ---------


@pytest.fixture
def provider_server(settings):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    with ProviderServer() as server:
        yield server


@pytest.fixture
def provider(owner, provider_server):
    return provider_connection_create(
        owner=owner,
        kind="openai_compatible",
        label="Test",
        base_url=provider_server.url + "/v1",
        model="gpt-x",
        api_key=KEY,
    )


def run_queued_job():
    """Do what the worker does with the one queued job (the queue row is real)."""
    [queued] = OrmQ.objects.all()
    package = queued.task
    assert package["func"] == "tasks.jobs.understand_with_provider"
    queued.delete()
    jobs.understand_with_provider(*package["args"])
    return package


def test_provider_plan_is_pending_then_stored(owner, provider, provider_server):
    task = submit(owner, "a logo for Acme")
    task_understand(task=task)
    task.refresh_from_db()
    assert task.status == Task.Status.UNDERSTANDING
    assert task.context["provider_pending"]["label"] == "OpenAI-compatible · gpt-x"

    data = good_result("a logo for Acme")
    data["understanding"]["assumptions"] = ["The model's own reading."]
    provider_server.script(plan_reply("openai_compatible", data))
    package = run_queued_job()
    assert KEY not in json.dumps(package, default=str)
    task.refresh_from_db()
    revision = latest(task)
    assert revision.number == 2 and revision.planner == "OpenAI-compatible · gpt-x"
    assert revision.understanding["assumptions"] == ["The model's own reading."]
    assert task.status == Task.Status.QUEUED and "provider_pending" not in task.context
    stored = json.dumps([r.understanding | r.plan | r.brief for r in task.plan_revisions.all()]) + json.dumps(
        task.context
    )
    assert KEY not in stored and KEY[-4:] not in stored


def test_invalid_provider_plan_falls_back_and_says_so(owner, provider, provider_server):
    task = submit(owner, "a logo for Acme")
    task_understand(task=task)
    provider_server.script(plan_reply("openai_compatible", "{nope"), plan_reply("openai_compatible", {"plan": 1}))
    run_queued_job()
    task.refresh_from_db()
    revision = latest(task)
    assert revision.planner == "built-in (rule-based)"
    assert "the provider's plan was invalid" in revision.change_note
    assert "used the built-in planner" in revision.change_note
    assert task.status == Task.Status.QUEUED
    provider.refresh_from_db()
    assert provider.status == ProviderConnection.Status.FAILING and "invalid" in provider.last_error


def test_an_unreachable_provider_falls_back_without_leaving_the_task_waiting(owner, provider, provider_server):
    task = submit(owner, "a logo for Acme")
    task_understand(task=task)
    provider_server.script(Reply(status=401, body={"error": {"message": "Incorrect API key"}}))
    run_queued_job()
    task.refresh_from_db()
    assert task.status == Task.Status.QUEUED
    assert "HTTP 401: Incorrect API key" in latest(task).change_note


def test_a_stale_job_changes_nothing(owner, provider, provider_server):
    task = submit(owner, "can you help me with something")
    task_understand(task=task)
    OrmQ.objects.all().delete()  # the first job is still "in flight" while the operator answers
    task_answer_clarifications(task=task, answers={"deliverable": "A logo"})
    assert task.plan_revisions.count() == 2
    jobs.understand_with_provider(str(task.id), str(provider.id), 1)  # the stale delivery
    assert task.plan_revisions.count() == 2
    assert provider_server.seen == []


def test_a_revoked_connection_leaves_the_builtin_reading_standing(owner, provider, provider_server):
    task = submit(owner, "a logo")
    task_understand(task=task)
    provider_connection_revoke(connection=provider)
    run_queued_job()
    task.refresh_from_db()
    assert task.status == Task.Status.QUEUED
    assert "revoked or removed" in latest(task).change_note
    assert provider_server.seen == []


# --- the task page ------------------------------------------------------------------------


def test_task_page_shows_the_cards(owner_client, owner):
    task = submit(owner, "creat a landng page for 'Acme Analytics' + pdf proposel")
    task_understand(task=task)
    page = owner_client.get(task.get_absolute_url()).content.decode()
    assert "Planned by the built-in, rule-based planner" in page
    assert "<del>landng</del> → <ins>landing</ins>" in page
    assert "Make the landing page" in page and "Verify the proposal" in page
    assert "Acme Analytics" in page
    assert "not live in this build" not in page


def test_answer_form_round_trip(owner_client, owner):
    task = submit(owner, "can you help me with something")
    task_understand(task=task)
    page = owner_client.get(task.get_absolute_url()).content.decode()
    assert 'name="answer-deliverable"' in page and "A presentation" in page
    response = owner_client.post(
        reverse("tasks:answer", args=[task.id]), {"answer-deliverable": "A landing page", "other-deliverable": "A logo"}
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == Task.Status.QUEUED
    assert latest(task).understanding["deliverables"][0]["title"] == "Logo"  # own words win
    page = owner_client.get(task.get_absolute_url()).content.decode()
    assert "Plan revisions" in page and "Revision 1" in page


def test_a_bad_answer_is_explained_and_nothing_is_lost(owner_client, owner):
    task = submit(owner, "can you help me with something")
    task_understand(task=task)
    response = owner_client.post(reverse("tasks:answer", args=[task.id]), {"answer-deliverable": ""})
    assert response.status_code == 400
    assert "Answer at least one question" in response.content.decode()
    assert task.plan_revisions.count() == 1


def test_other_users_and_anonymous_cannot_answer(other_client, anon_client, owner):
    task = submit(owner, "can you help me with something")
    task_understand(task=task)
    url = reverse("tasks:answer", args=[task.id])
    assert other_client.post(url, {"answer-deliverable": "A logo"}).status_code == 404
    assert other_client.post(reverse("tasks:plan_again", args=[task.id])).status_code == 404
    assert anon_client.post(url, {"answer-deliverable": "A logo"}).status_code == 302
    assert task.plan_revisions.count() == 1


def test_pending_page_polls_and_says_who_is_being_asked(owner_client, owner, provider):
    task = submit(owner, "a logo")
    task_understand(task=task)
    page = owner_client.get(task.get_absolute_url()).content.decode()
    assert "Asking OpenAI-compatible · gpt-x" in page
    assert 'hx-trigger="every 3s"' in page
    assert KEY not in page


def test_understand_command_prints_json(capsys):
    from django.core.management import call_command

    call_command("understand", "creat a landng page for 'Acme Analytics' + pdf proposel")
    data = json.loads(capsys.readouterr().out)
    assert [c["corrected"] for c in data["understanding"]["corrections"]] == ["create", "landing", "proposal"]
    assert [d["category"] for d in data["understanding"]["deliverables"]] == ["website", "pdf"]
    assert data["plan"]["steps"] and data["brief"]["goal"]


def test_submitting_a_request_understands_it_within_the_same_request(owner_client, owner):
    response = owner_client.post(
        "/", {"prompt": "creat a landng page + pdf proposel", "mode": "create", "expertise": "new", "tone": "friendly"}
    )
    task = Task.objects.get(owner=owner)
    assert response.status_code == 302 and task.status == Task.Status.QUEUED
    revision = latest(task)
    assert revision.number == 1
    assert revision.plan["steps"][0]["explanation"]["what"].startswith("I'll make the landing page")


def test_submitting_with_a_default_provider_leaves_the_task_visibly_understanding(owner_client, owner, provider):
    owner_client.post("/", {"prompt": "a logo", "mode": "create", "expertise": "new", "tone": "mixed"})
    task = Task.objects.get(owner=owner)
    assert task.status == Task.Status.UNDERSTANDING
    assert latest(task).planner == "built-in (rule-based)"
    assert OrmQ.objects.count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_asks_the_provider_and_the_task_page_follows(
    owner_client, owner, provider, provider_server, tmp_path
):
    data = good_result("a logo for Acme")
    data["understanding"]["assumptions"] = ["Read by the model."]
    provider_server.script(plan_reply("openai_compatible", data))
    owner_client.post("/", {"prompt": "a logo for Acme", "mode": "create", "expertise": "new", "tone": "mixed"})
    task = Task.objects.get(owner=owner)
    assert task.status == Task.Status.UNDERSTANDING
    with worker_process(log_path=tmp_path / "worker.log", COMMAND_ALLOW_LOCAL_PROVIDERS="true"):
        wait_for(
            # Once planned, the run starts at once and the worker may already be working on it.
            lambda: latest(task).planner == "OpenAI-compatible · gpt-x",
            timeout=60,
            message="the worker to store the provider's plan",
        )
    revision = latest(task)
    assert revision.planner == "OpenAI-compatible · gpt-x"
    assert revision.understanding["assumptions"] == ["Read by the model."]
    assert provider_server.seen[0].headers["authorization"] == f"Bearer {KEY}"
    page = owner_client.get(task.get_absolute_url()).content.decode()
    assert "Planned by OpenAI-compatible · gpt-x" in page and "every 3s" not in page
