"""Plan revisions from model turns (issue 16, item 7): a turn that changes the planned work stores a
revision with what changed and the model's words as why; the thread lists the change."""

from __future__ import annotations

import pytest

from providers.tests.scripted_model import FORMATS, Conversation, call, reply, say
from tasks.models import TaskRun
from tasks.tests.loop_support import assert_audit_clean, drain, loop_run, run_story

S = TaskRun.State
pytestmark = pytest.mark.django_db

WHY = "The stale lock file breaks the build; I will delete it and list what is left."


@pytest.fixture(params=FORMATS)
def kind(request):
    """Each test runs once per wire format."""
    return request.param


def script(convo: Conversation):
    if convo.turn == 1:
        return reply(say("Looking first."), call("read_file", path="stale.lock"))
    if convo.turn == 2:
        return reply(say(WHY), call("delete_file", path="stale.lock"), call("run_command", command="ls"))
    return reply(call("run_command", command="ls"), call("finish", summary="Done.", check="python3 -m pytest -q"))


def test_a_turn_beyond_the_planned_work_stores_a_revision_the_thread_shows(
    scripted_model, owner, owner_client, tmp_path, kind
):
    from django.urls import reverse

    model = scripted_model(kind, script)
    run = drain(
        loop_run(owner, tmp_path / "ws", model, check="true", prompt="fix the build", files={"stale.lock": "x"})
    )
    assert run.state == S.COMPLETED, run_story(run)
    revisions = list(run.task.plan_revisions.order_by("number"))
    # 1: the plan; 2: turn 2 (turn 1 only read: no revision); 3: turn 3's proposed check (`ls` is planned now).
    assert [r.number for r in revisions] == [1, 2, 3], [r.change_note for r in revisions]
    second, third = revisions[1], revisions[2]
    assert "changed the planned work: Delete stale.lock; Run `ls`." in second.change_note
    assert f"Why, in the model's words: “{WHY}”" in second.change_note
    assert "Run `ls` (the model, turn 2)" in second.brief["in_scope"]
    assert "Check with `python3 -m pytest -q` instead of `true`" in third.change_note
    assert "Run `ls`" not in third.change_note, "a change already planned is not a new one"
    assert second.plan == revisions[0].plan, "the loop's plan itself stays the model turn"

    page = owner_client.get(reverse("tasks:command_task", args=[run.task_id])).content.decode()
    assert "Plan revision 2: the model changed the planned work in turn 2" in page
    assert '<ul class="wsr-changes" aria-label="What changed"><li>Delete stale.lock</li><li>Run `ls`</li></ul>' in page
    assert "Why, in the model&#x27;s words: “The stale lock file breaks the build" in page
    assert_audit_clean()


def test_a_turn_inside_the_planned_work_stores_no_revision(scripted_model, owner, tmp_path):
    def reads(convo: Conversation):
        if convo.turn == 1:
            return reply(call("read_file", path="a.txt"), call("run_command", command="true"))
        return reply(call("finish", summary="Nothing to change."))

    model = scripted_model("anthropic", reads)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="true", prompt="look", files={"a.txt": "a"}))
    assert run.state == S.COMPLETED, run_story(run)
    assert run.task.plan_revisions.count() == 1, "reading and running the check itself change nothing"
    assert not run.events.filter(kind="plan.revised").exists()
