"""Model-driven runs and the person: approvals, denials and refinements in their words, questions,
the budget and stuck detection, and workers that die mid-turn or mid-step."""

from __future__ import annotations

import pytest

from providers.tests.scripted_model import FORMATS, Conversation, call, reply, say
from tasks import jobs
from tasks.models import ModelToolCall, ModelTurn, StepExecution, TaskRun
from tasks.tests.loop_support import (
    BUGGY,
    WorkerKilled,
    assert_audit_clean,
    drain,
    latest_results,
    loop_run,
    run_story,
)

S = TaskRun.State
pytestmark = pytest.mark.django_db


@pytest.fixture(params=FORMATS)
def kind(request):
    """Each test runs once per wire format."""
    return request.param


@pytest.mark.approval_gate
@pytest.mark.parametrize("decision", ["deny", "refine"])
def test_a_denial_or_a_refinement_reaches_the_model_in_the_persons_words(
    scripted_model, owner, tmp_path, kind, decision, django_capture_on_commit_callbacks
):
    from approvals.models import ApprovalRequest
    from approvals.services import approval_allow, approval_deny, approval_refine

    words = "Do not touch price.py; the offset is intended."
    told = {"deny": "The person denied it.", "refine": "The person asked for something different instead"}[decision]

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("edit_file", path="price.py", find="- 1", replace=""))
        result = latest_results(convo)[-1]
        assert told in result and words in result, result
        return reply(say("Understood, leaving it."), call("finish", summary="Left price.py as it is, as asked."))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="true", prompt="fix price.py", files={"price.py": BUGGY}))
    assert run.state == S.WAITING_APPROVAL, run_story(run)
    request = ApprovalRequest.objects.get(run=run, status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        if decision == "deny":
            approval_deny(request=request, user=owner, action_hash=request.action_hash, note=words)
        else:
            approval_refine(request=request, user=owner, action_hash=request.action_hash, text=words)
    run = drain(run)
    # The check is a command: it is asked about like any other.
    request = ApprovalRequest.objects.get(run=run, status="pending")
    assert request.action["command"] == "true"
    with django_capture_on_commit_callbacks(execute=True):
        approval_allow(request=request, user=owner, action_hash=request.action_hash)
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    assert not run.next_runs.exists(), "the same run goes on: the words went to the model"
    assert (tmp_path / "ws" / "price.py").read_text() == BUGGY
    assert model.count == 2
    refused = ModelToolCall.objects.get(turn__run=run, name="edit_file")
    assert refused.is_error and words in refused.observation
    assert_audit_clean()


@pytest.mark.approval_gate
def test_a_model_edit_is_approved_from_the_exact_diff_it_will_make(
    scripted_model, owner, owner_client, tmp_path, kind, django_capture_on_commit_callbacks
):
    from approvals.models import ApprovalRequest
    from approvals.services import approval_allow

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("edit_file", path="price.py", find="sum(items) - 1", replace="sum(items)"))
        assert "+    return sum(items)" in latest_results(convo)[-1]  # the diff it made comes back
        return reply(call("finish", summary="Removed the offset."))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="true", prompt="fix price.py", files={"price.py": BUGGY}))
    request = ApprovalRequest.objects.get(run=run, status="pending")
    diff = request.action["diffs"]["price.py"]
    assert "-    return sum(items) - 1" in diff and "+    return sum(items)" in diff
    page = owner_client.get(request.get_absolute_url()).content.decode()
    assert "Changes to <code>price.py</code>" in page and "return sum(items) - 1" in page
    assert (tmp_path / "ws" / "price.py").read_text() == BUGGY, "nothing applied before the approval"
    with django_capture_on_commit_callbacks(execute=True):
        approval_allow(request=request, user=owner, action_hash=request.action_hash)
    run = drain(run)
    request = ApprovalRequest.objects.get(run=run, status="pending")  # the check, a command
    with django_capture_on_commit_callbacks(execute=True):
        approval_allow(request=request, user=owner, action_hash=request.action_hash)
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    assert (tmp_path / "ws" / "price.py").read_text() == "def total(items):\n    return sum(items)\n"


@pytest.mark.approval_gate
def test_without_a_named_check_the_model_proposes_one_and_the_person_decides(
    scripted_model, owner, tmp_path, kind, django_capture_on_commit_callbacks
):
    from approvals.models import ApprovalRequest
    from approvals.services import approval_allow, approval_deny

    def script(convo: Conversation):
        if convo.turn == 1:
            assert "No check was named" in convo.messages[0]["content"]
            return reply(call("finish", summary="Nothing needed.", check="rm -rf build && true"))
        told = latest_results(convo)[-1]
        assert "The person denied it." in told and "Nothing that deletes." in told, told
        return reply(call("finish", summary="Nothing needed.", check="test -d ."))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="", prompt="tidy up", files={"a.txt": "a"}))
    assert run.state == S.WAITING_APPROVAL, run_story(run)
    request = ApprovalRequest.objects.get(run=run, status="pending")
    assert request.action["command"] == "rm -rf build && true"
    with django_capture_on_commit_callbacks(execute=True):
        approval_deny(request=request, user=owner, action_hash=request.action_hash, note="Nothing that deletes.")
    run = drain(run)
    request = ApprovalRequest.objects.get(run=run, status="pending")
    assert request.action["command"] == "test -d ."
    with django_capture_on_commit_callbacks(execute=True):
        approval_allow(request=request, user=owner, action_hash=request.action_hash)
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    checks = list(StepExecution.objects.filter(run=run, action_type="verify").order_by("position"))
    assert [c.status for c in checks] == ["fed_back", "succeeded"]
    assert [c.spec["inputs"]["check_origin"] for c in checks] == ["model", "model"]
    revisions = list(run.task.plan_revisions.order_by("number"))
    assert [r.plan["steps"][0]["inputs"]["check"] for r in revisions] == ["", "rm -rf build && true", "test -d ."]
    assert "the model proposed `test -d .` as the check" in revisions[-1].change_note
    assert run.events.filter(kind="plan.revised", payload__proposed_by="model").count() == 2
    assert_audit_clean()


def test_a_model_question_waits_for_the_persons_answer(
    scripted_model, owner, owner_client, client, other_user, tmp_path, kind
):
    from django.test import Client
    from django.urls import reverse

    from tasks.engine.loop.questions import AnswerRefused, question_waiting, run_answer_model_question

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("ask_operator", question="Which currency should prices show?"))
        answer = latest_results(convo)[-1]
        assert "The person answered: EUR" in answer, answer
        return reply(call("write_file", path="currency.txt", content="EUR\n"), call("finish", summary="Set EUR."))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="grep -q EUR currency.txt", prompt="set it", files={}))
    assert run.state == S.PAUSED and run.blocking_reason == "waiting for your answer", run_story(run)
    assert "Which currency should prices show?" in run.state_reason
    assert question_waiting(run=run) is not None
    card = owner_client.get(reverse("tasks:run_status", args=[run.pk])).content.decode()
    assert "Your answer to the model" in card and reverse("tasks:run_answer", args=[run.pk]) in card
    with pytest.raises(AnswerRefused):
        run_answer_model_question(run=run, answer="  ")
    outsider = Client()
    outsider.force_login(other_user)
    assert outsider.post(reverse("tasks:run_answer", args=[run.pk]), {"answer": "USD"}).status_code == 404
    answered = owner_client.post(reverse("tasks:run_answer", args=[run.pk]), {"answer": "EUR"}, HTTP_HX_REQUEST="true")
    assert answered.status_code == 200 and "Answer sent to the model" in answered.content.decode()
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    assert model.count == 2
    assert_audit_clean()


def test_the_budget_pauses_a_run_and_resuming_allows_as_much_again(
    scripted_model, owner, owner_client, tmp_path, kind, settings
):
    from django.urls import reverse

    from tasks.engine.controls import run_resume

    settings.COMMAND_LOOP_MAX_TURNS = 2

    def script(convo: Conversation):
        return reply(call("search", pattern=f"needle {convo.turn}"))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="true", prompt="look around", files={"a.txt": "a"}))
    assert run.state == S.PAUSED, run_story(run)
    assert run.blocking_reason == "budget reached" and "2 of 2 model turns" in run.state_reason
    assert model.count == 2
    card = owner_client.get(reverse("tasks:run_status", args=[run.pk])).content.decode()
    assert "2 of 2 turns · 2 of 120 tool calls" in card, card[card.find("<dl") : card.find("</dl")]
    run_resume(run=run)
    run = drain(run)
    assert run.state == S.PAUSED and "4 of 4 model turns" in run.state_reason
    assert model.count == 4 and ModelTurn.objects.filter(run=run).count() == 4
    assert_audit_clean()


@pytest.mark.parametrize(
    "tool, words",
    [
        (lambda n: call("list_files"), "same call (list_files) 3 times"),
        (lambda n: call("read_file", path=f"missing-{n}.txt"), "last 3 actions all failed"),
    ],
    ids=["same-result", "errors"],
)
def test_a_stuck_model_pauses_the_run_instead_of_spending(scripted_model, owner, tmp_path, kind, tool, words):
    def script(convo: Conversation):
        return reply(tool(convo.turn))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="true", prompt="look around", files={"a.txt": "a"}))
    assert run.state == S.PAUSED, run_story(run)
    assert run.blocking_reason == "the model seems stuck" and words in run.state_reason
    assert model.count == 3
    assert_audit_clean()


def test_after_a_stuck_pause_only_the_calls_made_since_it_count(scripted_model, owner, tmp_path, kind):
    """Resumed, the run asks the model again at once: the three calls that paused it are before the
    pause, so they no longer make it stuck; three more of the same pause it again."""
    from tasks.engine.controls import run_resume

    def script(convo: Conversation):
        return reply(call("list_files"))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="true", prompt="look around", files={"a.txt": "a"}))
    assert run.blocking_reason == "the model seems stuck" and model.count == 3, run_story(run)
    run_resume(run=run)
    run = drain(run)
    assert run.state == S.PAUSED and run.blocking_reason == "the model seems stuck", run_story(run)
    assert model.count == 6, "resumed, the model had three more turns before the same calls paused it again"
    assert_audit_clean()


def test_a_stored_reply_is_never_requested_again_after_the_worker_dies(
    scripted_model, owner, tmp_path, kind, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.engine.loop import turns
    from tasks.engine.recovery import run_recover

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("write_file", path="out.txt", content="done\n"))
        return reply(call("finish", summary="Wrote out.txt."))

    real_insert = turns._insert_steps

    def die_once(*args, **kwargs):
        monkeypatch.setattr(turns, "_insert_steps", real_insert)
        raise WorkerKilled

    monkeypatch.setattr(turns, "_insert_steps", die_once)
    model = scripted_model(kind, script)
    run = loop_run(owner, tmp_path / "ws", model, check="test -s out.txt", prompt="write out.txt", files={})
    with pytest.raises(WorkerKilled):
        jobs.dispatch_next()
    run.refresh_from_db()
    assert run.state == S.RUNNING and ModelTurn.objects.filter(run=run, number=1).exists()
    assert StepExecution.objects.get(run=run, step_id="turn-1").status == "running"
    recovery = run_recover(run_id=run.pk, now=timezone.now() + timedelta(seconds=3600))
    assert recovery.outcome == "resumed", recovery.reason
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    assert model.count == 2, "turn 1 was asked once, turn 2 once"
    assert len(model.conversations[1].messages) == 3, "turn 2 carries turn 1 and its result only"
    assert_audit_clean()


def test_a_worker_killed_mid_step_repeats_it_once_and_the_model_is_told(
    scripted_model, owner, tmp_path, kind, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.engine.recovery import run_recover
    from workspaces import actions
    from workspaces.models import FileChange

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("write_file", path="notes.txt", content="once\n"))
        told = latest_results(convo)[-1]
        assert "interrupted and run again" in told and "not applied twice" in told, told
        return reply(call("finish", summary="Wrote it once."))

    real_write = actions.action_write_file

    def die_once(**kwargs):  # the file is written, then the worker dies before the step ends
        monkeypatch.setattr(actions, "action_write_file", real_write)
        real_write(**kwargs)
        raise WorkerKilled

    monkeypatch.setattr(actions, "action_write_file", die_once)
    model = scripted_model(kind, script)
    run = loop_run(owner, tmp_path / "ws", model, check="grep -qx once notes.txt", prompt="write notes", files={})
    with pytest.raises(WorkerKilled):
        drain(run)
    recovery = run_recover(run_id=run.pk, now=timezone.now() + timedelta(seconds=3600))
    assert recovery.outcome == "resumed", recovery.reason
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    assert (tmp_path / "ws" / "notes.txt").read_text() == "once\n"
    assert FileChange.objects.filter(run=run, path="notes.txt").count() == 1
    assert model.count == 2
    assert_audit_clean()


@pytest.mark.parametrize("priced", [True, False], ids=["priced", "no-prices"])
def test_the_cost_limit_pauses_a_run_at_the_connections_prices(
    scripted_model, owner, owner_client, tmp_path, kind, settings, priced
):
    """Each turn costs US$1.30 at US$10/US$30 per million tokens (100,000 in, 10,000 out): with a
    US$2 limit the run pauses before its third turn, and its card shows the cost. Without prices
    no cost is claimed, and only the turn limit (4) stops it."""
    from decimal import Decimal

    from django.urls import reverse

    from providers.models import ProviderConnection

    settings.COMMAND_LOOP_MAX_COST_USD = 2.0
    settings.COMMAND_LOOP_MAX_TURNS = 4
    settings.COMMAND_LOOP_MAX_TOKENS = 10_000_000

    def script(convo: Conversation):
        return reply(call("search", pattern=f"needle {convo.turn}"), usage=(100_000, 10_000))

    model = scripted_model(kind, script)
    run = loop_run(owner, tmp_path / "ws", model, check="true", prompt="look around", files={"a.txt": "a"})
    if priced:
        ProviderConnection.objects.filter(owner=owner).update(
            input_price_per_mtok=Decimal("10"), output_price_per_mtok=Decimal("30")
        )
    run = drain(run)
    assert run.state == S.PAUSED, run_story(run)
    assert run.blocking_reason == "budget reached"
    card = owner_client.get(reverse("tasks:run_status", args=[run.pk])).content.decode()
    if priced:
        assert model.count == 2
        assert "US$2.60 of US$2.00 (at the connection's prices when each turn was made)" in run.state_reason
        assert "US$2.60 of US$2.00 at the connection" in card, card[card.find("<dl") : card.find("</dl")]
    else:
        assert model.count == 4 and "4 of 4 model turns" in run.state_reason
        assert "US$" not in run.state_reason and "US$" not in card
    assert_audit_clean()


def test_a_price_change_after_a_run_leaves_that_runs_cost_unchanged(
    scripted_model, owner, owner_client, tmp_path, kind
):
    """Two turns at US$10/US$30 per million tokens cost US$2.60 (each stores the prices it was
    counted at); the connection's prices change afterwards, or are cleared, and the run still shows
    US$2.60."""
    from decimal import Decimal

    from django.urls import reverse

    from providers.models import ProviderConnection
    from providers.services import provider_connection_set_prices

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("search", pattern="needle"), usage=(100_000, 10_000))
        return reply(call("finish", summary="Looked."), usage=(100_000, 10_000))

    model = scripted_model(kind, script)
    run = loop_run(owner, tmp_path / "ws", model, check="true", prompt="look around", files={"a.txt": "a"})
    connection = ProviderConnection.objects.get(owner=owner)
    provider_connection_set_prices(
        connection=connection, input_price_per_mtok=Decimal("10"), output_price_per_mtok=Decimal("30")
    )
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    turns = list(ModelTurn.objects.filter(run=run).values_list("input_price_per_mtok", "output_price_per_mtok"))
    assert turns == [(Decimal("10"), Decimal("30"))] * 2

    def card() -> str:
        html = owner_client.get(reverse("tasks:run_status", args=[run.pk])).content.decode()
        return html[html.find("<dl") : html.find("</dl")]

    assert "US$2.60" in card(), card()
    provider_connection_set_prices(
        connection=connection, input_price_per_mtok=Decimal("1"), output_price_per_mtok=Decimal("1")
    )
    assert "US$2.60" in card() and "US$0.22" not in card(), card()
    provider_connection_set_prices(connection=connection, input_price_per_mtok=None, output_price_per_mtok=None)
    assert "US$2.60" in card(), "clearing the prices does not take back what the run cost"
    assert_audit_clean()
