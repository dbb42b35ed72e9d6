"""Model-driven runs through the real engine, against a scripted model over real HTTP in both wire
formats (providers.tests.scripted_model): the model proposes, the engine disposes, the check decides."""

from __future__ import annotations

import json
import re

import pytest

from command_site.audit import audit_run
from providers.planner import BuiltinPlanner, PlanningRequest
from providers.services import provider_connection_create
from providers.tests.scripted_model import FORMATS, Conversation, ScriptedModel, call, reply, say
from tasks import jobs
from tasks.engine.dispatch import run_create
from tasks.engine.loop.plan import model_run_result
from tasks.engine.loop.turns import turn_plan_step
from tasks.models import ModelToolCall, ModelTurn, StepExecution, TaskRun
from tasks.tests.engine_support import make_task, make_workspace

S = TaskRun.State
pytestmark = pytest.mark.django_db

BUGGY = "def total(items):\n    return sum(items) - 1\n"
CHECK = "python3 -c 'import price; assert price.total([1, 2]) == 3, price.total([1, 2])'"


@pytest.fixture(params=FORMATS)
def kind(request):
    return request.param


def connect(owner, model: ScriptedModel):
    return provider_connection_create(
        owner=owner,
        kind=model.kind,
        label=f"Scripted {model.fmt}",
        base_url=model.base_url,
        model=model.model,
        api_key="sk-test-key",
    )


def latest_results(convo: Conversation) -> list[str]:
    """The tool results this request sends (those after the last assistant message)."""
    results: list[str] = []
    for m in convo.messages:
        if m["role"] == "assistant":
            results = []
        elif m["role"] == "tool":
            results.append(m["content"])
    return results


_NUMBERED = re.compile(r"^\s*(\d+)\| ?(.*)$")


def file_lines(observation: str) -> list[str]:
    """A read_file result's lines as the model received them, line numbers stripped."""
    return [m.group(2) for line in observation.splitlines() if (m := _NUMBERED.match(line))]


def loop_run(owner, folder, model: ScriptedModel, *, check: str, prompt: str, files: dict[str, str]) -> TaskRun:
    workspace = make_workspace(owner, folder)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    connection = connect(owner, model)
    # The revision a model-driven plan stores (tasks.engine.loop.plan), whatever the built-in makes of the prompt.
    reading = BuiltinPlanner().plan(PlanningRequest(prompt=prompt, mode="edit", workspace_name=workspace.name))
    result = model_run_result(reading=reading, connection=connection, check=check)
    task = make_task(owner, workspace, result.plan.steps, prompt=prompt)
    task.plan_revisions.update(
        understanding=result.understanding.model_dump(mode="json"), brief=result.brief.model_dump(mode="json")
    )
    return run_create(task=task)


def drain(run: TaskRun, limit: int = 40) -> TaskRun:
    for _ in range(limit):
        jobs.dispatch_next()
        run.refresh_from_db()
        if run.state not in (S.QUEUED, S.RUNNING, S.VERIFYING):
            break
    return run


def assert_audit_clean():
    report = audit_run()
    assert report.ok, [v.message for v in report.violations]


def test_the_loop_completes_when_the_check_passes(scripted_model, owner, tmp_path, kind):
    def script(convo: Conversation):
        if convo.turn == 1:
            assert "README.md" in convo.messages[0]["content"]  # the file tree came with the request
            return reply(say("I will create the file."), call("write_file", path="hello.txt", content="hello\n"))
        return reply(say(""), call("finish", summary="Created hello.txt with a greeting."))

    model = scripted_model(kind, script)
    run = drain(
        loop_run(
            owner,
            tmp_path / "ws",
            model,
            check="grep -q hello hello.txt",
            prompt="add hello.txt",
            files={"README.md": "# demo\n"},
        )
    )
    assert run.state == S.COMPLETED, _debug(run)
    assert (tmp_path / "ws" / "hello.txt").read_text() == "hello\n"
    assert model.count == 2 and all(r.body.get("tools") for r in model.requests)
    first = model.conversations[0].messages[0]["content"]
    assert "add hello.txt" in first and "README.md" in first and "grep -q hello hello.txt" in first
    turns = list(ModelTurn.objects.filter(run=run).order_by("number"))
    assert [t.number for t in turns] == [1, 2] and all(t.input_tokens > 0 for t in turns)
    summary = run.events.get(kind="model.summary")
    assert "In the model's words" in summary.explanation and "Created hello.txt" in summary.explanation
    check = StepExecution.objects.get(run=run, action_type="verify")
    assert check.status == "succeeded" and check.result["report"]["exit_code"] == 0
    assert_audit_clean()


def _reactive_fixer(convo: Conversation):
    """Reads price.py, and computes each edit from the text it was sent: first a wrong fix (the
    sign flipped), then, after the check's failure reaches it, the right one."""
    n = convo.turn
    results = latest_results(convo)
    if n in (1, 3):
        if n == 3:
            assert "AssertionError" in results[-1] and "exit code 1" in results[-1], results
        return reply(say("Let me read the code."), call("read_file", path="price.py"))
    line = next(text for text in file_lines(results[-1]) if "return" in text)
    if n == 2:
        wrong = line.replace("- 1", "+ 1")
        return reply(
            say("The sign looks wrong."),
            call("edit_file", path="price.py", find=line, replace=wrong),
            call("finish", summary="Flipped the sign."),
        )
    right = line.split(" + 1")[0].split(" - 1")[0]
    return reply(
        call("edit_file", path="price.py", find=line, replace=right), call("finish", summary="Removed the offset.")
    )


def test_a_wrong_fix_fails_the_check_the_failure_goes_back_and_the_second_fix_passes(
    scripted_model, owner, tmp_path, kind
):
    model = scripted_model(kind, _reactive_fixer)
    run = drain(
        loop_run(
            owner,
            tmp_path / "ws",
            model,
            check=CHECK,
            prompt="the total is off by one, fix it",
            files={"price.py": BUGGY},
        )
    )
    assert run.state == S.COMPLETED, _debug(run)
    assert (tmp_path / "ws" / "price.py").read_text() == "def total(items):\n    return sum(items)\n"
    assert model.count == 4
    checks = list(StepExecution.objects.filter(run=run, action_type="verify").order_by("position"))
    assert [c.status for c in checks] == ["fed_back", "succeeded"]
    failed = ModelToolCall.objects.get(check_step=checks[0])
    assert failed.is_error and "AssertionError" in failed.observation
    assert run.events.filter(kind="step.failed", payload__fed_back=True).exists()
    assert_audit_clean()


def test_a_model_driven_run_reads_in_the_thread_and_on_the_record(scripted_model, owner, owner_client, tmp_path):
    from django.urls import reverse

    model = scripted_model("openai", _reactive_fixer)
    run = drain(loop_run(owner, tmp_path / "ws", model, check=CHECK, prompt="fix it", files={"price.py": BUGGY}))
    assert run.state == S.COMPLETED, _debug(run)
    for name in ("tasks:command_task", "tasks:detail"):
        page = owner_client.get(reverse(name, args=[run.task_id]))
        assert page.status_code == 200, name
        text = page.content.decode()
        assert "The model says: “Let me read the code.”" in text, name
        assert "needs a model provider" not in text, name
        assert "In the model&#x27;s words: “Removed the offset.”" in text, name
    events = owner_client.get(reverse("tasks:run_events", args=[run.pk])).content.decode()
    assert "the model is told why" in events


def test_a_rename_searches_then_edits_every_match(scripted_model, owner, tmp_path, kind):
    def script(convo: Conversation):
        n = convo.turn
        if n == 1:
            return reply(call("search", pattern="foo"))
        if n == 2:
            edits = []
            for line in latest_results(convo)[-1].splitlines():
                path, _number, text = line.split(":", 2)
                edits.append(
                    call("edit_file", path=path, find=text.strip(), replace=text.strip().replace("foo", "bar"))
                )
            return reply(*edits, call("finish", summary="Renamed foo to bar."))
        raise AssertionError("no third turn expected")

    files = {"app.py": "def foo():\n    return 1\n", "lib/use.py": "from app import foo\nprint(foo())\n"}
    model = scripted_model(kind, script)
    run = drain(
        loop_run(
            owner,
            tmp_path / "ws",
            model,
            check="! grep -rq foo --include=*.py .",
            prompt="rename foo to bar everywhere",
            files=files,
        )
    )
    assert run.state == S.COMPLETED, _debug(run)
    assert (tmp_path / "ws" / "lib/use.py").read_text() == "from app import bar\nprint(bar())\n"
    assert (tmp_path / "ws" / "app.py").read_text() == "def bar():\n    return 1\n"
    kinds = list(StepExecution.objects.filter(run=run).order_by("position").values_list("action_type", flat=True))
    assert kinds[:2] == ["model_turn", "search"] and kinds.count("edit_file") == 3
    assert_audit_clean()


def _debug(run):
    steps = list(run.steps.order_by("position").values_list("step_id", "status", "error_message"))
    return steps, list(run.events.order_by("seq").values_list("kind", "title", "explanation"))


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
    assert run.state == S.WAITING_APPROVAL, _debug(run)
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
    assert run.state == S.COMPLETED, _debug(run)
    assert not run.next_runs.exists(), "the same run goes on: the words went to the model"
    assert (tmp_path / "ws" / "price.py").read_text() == BUGGY
    assert model.count == 2
    refused = ModelToolCall.objects.get(turn__run=run, name="edit_file")
    assert refused.is_error and words in refused.observation
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
    assert run.state == S.PAUSED, _debug(run)
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
    assert run.state == S.PAUSED, _debug(run)
    assert run.blocking_reason == "the model seems stuck" and words in run.state_reason
    assert model.count == 3
    assert_audit_clean()


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing in the engine catches it."""


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
    assert run.state == S.COMPLETED, _debug(run)
    assert model.count == 2, "turn 1 was asked once, turn 2 once"
    assert len(model.conversations[1].messages) == 3, "turn 2 carries turn 1 and its result only"
    assert_audit_clean()


def test_a_model_without_tools_falls_back_to_a_one_shot_plan_and_says_so(scripted_model, owner, tmp_path):
    from providers.tests.provider_server import good_result

    result = good_result("write notes.txt")
    result["plan"] = {
        "schema_version": 1,
        "steps": [
            {
                "id": "write",
                "title": "Write notes.txt",
                "action_type": "write_file",
                "inputs": {"path": "notes.txt", "content": "notes\n"},
                "explanation": {"what": "Write the file.", "why": "Asked for.", "expect_next": "The check."},
            },
            {
                "id": "verify",
                "title": "Check notes.txt",
                "action_type": "verify",
                "inputs": {"command": "test -s notes.txt"},
                "explanation": {"what": "Check it.", "why": "Proof.", "expect_next": "Done."},
            },
        ],
    }

    def script(convo: Conversation):
        return say(json.dumps(result))

    model = scripted_model("openai", script, tools_unsupported=True)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="", prompt="write notes.txt", files={}))
    assert run.state == S.COMPLETED, _debug(run)
    assert [bool(r.body.get("tools")) for r in model.requests] == [True, False]
    revised = run.events.get(kind="plan.revised")
    assert revised.payload["fell_back"] and "does not take tools" in revised.explanation
    revision = run.task.plan_revisions.order_by("-number").first()
    assert "made without seeing your files" in revision.change_note
    assert not ModelTurn.objects.filter(run=run).exists()
    assert_audit_clean()


def test_the_audit_flags_a_model_step_that_traces_to_no_turn(owner, tmp_path):
    from tasks.engine.loop.tools import step_for_call

    workspace = make_workspace(owner, tmp_path / "ws")
    run = run_create(task=make_task(owner, workspace, [turn_plan_step(number=1, connection_id="", check="true")]))
    forged = step_for_call(name="list_files", args={}, step_id="t9.1-list_files", call_id="call_x", model_words="")
    StepExecution.objects.create(
        run=run,
        step_id=forged.id,
        position=99,
        action_type="list_files",
        title=forged.title,
        idempotency_key=f"run-{run.pk}:{forged.id}",
        spec=forged.model_dump(mode="json"),
        status="succeeded",
    )
    report = audit_run()
    assert [v.rule for v in report.violations] == ["tool_step_untraced"]
    assert "t9.1-list_files" in report.violations[0].subject


def test_a_project_edit_with_a_provider_is_planned_as_model_turns_and_runs(scripted_model, owner, tmp_path, kind):
    from django_q.models import OrmQ

    from tasks.planning import task_understand
    from tasks.services import task_submit

    model = scripted_model(kind, _reactive_fixer)
    connection = connect(owner, model)
    folder = tmp_path / "ws"
    workspace = make_workspace(owner, folder)
    (folder / "price.py").write_text(BUGGY)
    (folder / "check.py").write_text("import price\nassert price.total([1, 2]) == 3, price.total([1, 2])\n")
    task = task_submit(
        owner=owner, prompt="fix the bug in price.py, then run python3 check.py", mode="edit", workspace=workspace
    )
    task_understand(task=task)
    [job] = [q for q in OrmQ.objects.all() if q.task["func"] == "tasks.jobs.understand_with_provider"]
    job.delete()
    jobs.understand_with_provider(*job.task["args"])

    revision = task.plan_revisions.order_by("-number").first()
    assert revision.planner == connection.planner_label
    [turn] = revision.plan["steps"]
    assert turn["action_type"] == "model_turn" and turn["inputs"]["check"] == "python3 check.py"
    assert "`python3 check.py` exits 0" in revision.brief["expected_outcomes"][0]
    assert not revision.understanding["needs_provider"]
    run = drain(TaskRun.objects.get(task=task))
    assert run.state == S.COMPLETED, _debug(run)
    assert (folder / "price.py").read_text() == "def total(items):\n    return sum(items)\n"
    assert model.count == 4
    assert_audit_clean()


def test_without_a_workspace_or_with_other_deliverables_the_one_pass_plan_stays(owner, tmp_path):
    from providers.planner import PlanningRequest
    from tasks.engine.loop.plan import model_run_plan

    class Connection:
        id, planner_label = "c1", "Scripted"

    edit = "fix the bug in price.py, then run python3 check.py"
    assert model_run_plan(request=PlanningRequest(prompt=edit, mode="edit"), connection=Connection) is None
    both = PlanningRequest(prompt=f"{edit} and make a PDF report", mode="edit", workspace_name="ws")
    assert model_run_plan(request=both, connection=Connection) is None
    alone = model_run_plan(
        request=PlanningRequest(prompt=edit, mode="edit", workspace_name="ws"), connection=Connection
    )
    assert alone is not None and alone.plan.steps[0].inputs["check"] == "python3 check.py"


def test_a_model_question_waits_for_the_persons_answer(scripted_model, owner, tmp_path, kind):
    from tasks.engine.loop.questions import AnswerRefused, question_waiting, run_answer_model_question

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(call("ask_operator", question="Which currency should prices show?"))
        answer = latest_results(convo)[-1]
        assert "The person answered: EUR" in answer, answer
        return reply(call("write_file", path="currency.txt", content="EUR\n"), call("finish", summary="Set EUR."))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="grep -q EUR currency.txt", prompt="set it", files={}))
    assert run.state == S.PAUSED and run.blocking_reason == "waiting for your answer", _debug(run)
    assert "Which currency should prices show?" in run.state_reason
    assert question_waiting(run=run) is not None
    with pytest.raises(AnswerRefused):
        run_answer_model_question(run=run, answer="  ")
    run_answer_model_question(run=run, answer="EUR")
    run = drain(run)
    assert run.state == S.COMPLETED, _debug(run)
    assert model.count == 2
    assert_audit_clean()


def test_the_transcript_is_readable_in_the_back_office(scripted_model, owner, tmp_path, admin_client):
    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(say("Looking first."), call("list_files"))
        return reply(call("finish", summary="Nothing to change."))

    model = scripted_model("anthropic", script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="true", prompt="look", files={"a.txt": "a"}))
    assert run.state == S.COMPLETED, _debug(run)
    turn = ModelTurn.objects.get(run=run, number=1)
    assert admin_client.get("/admin/tasks/modelturn/").status_code == 200
    page = admin_client.get(f"/admin/tasks/modelturn/{turn.pk}/change/").content.decode()
    assert "Looking first." in page and "a.txt" in page  # the reply, and the listing it was told


def test_past_the_context_threshold_older_results_go_as_stubs_and_the_transcript_stays_whole(
    scripted_model, owner, tmp_path, kind, settings
):
    settings.COMMAND_LOOP_CONTEXT_CHARS = 10_000
    big = "".join(f"line {n} of the log\n" for n in range(1, 501))  # ~10 kB

    def script(convo: Conversation):
        if convo.turn in (1, 2):
            return reply(call("read_file", path=f"log{convo.turn}.txt"))
        old, new = convo.results("read_file")
        assert old["content"].startswith("[an earlier result of read_file") and len(old["content"]) < 300
        assert "line 500 of the log" in new["content"], "the newest result is sent whole"
        return reply(call("finish", summary="Read both."))

    model = scripted_model(kind, script)
    files = {"log1.txt": big, "log2.txt": big}
    run = drain(loop_run(owner, tmp_path / "ws", model, check="true", prompt="read the logs", files=files))
    assert run.state == S.COMPLETED, _debug(run)
    stored = ModelTurn.objects.get(run=run, number=2).sent[0]["content"]
    assert "line 500 of the log" in stored, "the stored transcript keeps the whole result"


@pytest.mark.parametrize(
    "name, args",
    [
        ("read_file", {"path": "src/price.py"}),
        ("edit_file", {"path": "index.html", "find": "a", "replace": "b"}),
        ("run_command", {"command": "npm run build"}),
        ("search", {"pattern": "foo.bar", "path": "lib"}),
        ("write_file", {"path": "notes/todo.md", "content": "x"}),
    ],
)
def test_a_model_step_title_names_no_file_or_command_its_explanation_does(name, args):
    from command_site.audit import fallback_line_problems
    from tasks.engine.loop.tools import step_for_call

    step = step_for_call(name=name, args=args, step_id="t1.1", call_id="c1", model_words="Because.")
    assert not fallback_line_problems(step.title), step.title
    assert str(args.get("path") or args.get("command")) in step.explanation.what


_TRACE = re.compile(r'File "[^"]*/(\w+\.py)", line (\d+)')


def _build_fixer(convo: Conversation):
    """Runs the build, reads the file its error names, fixes the line it names; one error a time."""
    if convo.turn == 1:
        return reply(call("run_command", command=BUILD))
    result = latest_results(convo)[-1]
    where = _TRACE.search(result)
    if where:
        return reply(say(f"The build stops in {where.group(1)}."), call("read_file", path=where.group(1)))
    # The file text it was sent, and the line the last error it was sent names.
    traces = [m["content"] for m in convo.results() if _TRACE.search(m["content"])]
    name, number = _TRACE.findall(traces[-1])[-1]
    broken = file_lines(convo.last_result("read_file"))[int(number) - 1]
    fixed = broken + " 1" if broken.rstrip().endswith("+") else broken.replace("(:", "():")
    return reply(call("edit_file", path=name, find=broken, replace=fixed), call("finish", summary=f"Fixed {name}."))


BUILD = "python3 -c 'import a; import b'"


def test_a_build_with_two_errors_takes_two_iterations(scripted_model, owner, tmp_path, kind):
    files = {"a.py": "VALUE = 1 +\n", "b.py": "def f(:\n    return 2\n"}
    model = scripted_model(kind, _build_fixer)
    run = drain(loop_run(owner, tmp_path / "ws", model, check=BUILD, prompt="make the build pass", files=files))
    assert run.state == S.COMPLETED, _debug(run)
    assert (tmp_path / "ws" / "a.py").read_text() == "VALUE = 1 + 1\n"
    assert (tmp_path / "ws" / "b.py").read_text() == "def f():\n    return 2\n"
    checks = list(StepExecution.objects.filter(run=run, action_type="verify").order_by("position"))
    assert [c.status for c in checks] == ["fed_back", "succeeded"]
    assert model.count == 5
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
    assert run.state == S.COMPLETED, _debug(run)
    assert (tmp_path / "ws" / "notes.txt").read_text() == "once\n"
    assert FileChange.objects.filter(run=run, path="notes.txt").count() == 1
    assert model.count == 2
    assert_audit_clean()


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
    assert run.state == S.WAITING_APPROVAL, _debug(run)
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
    assert run.state == S.COMPLETED, _debug(run)
    checks = list(StepExecution.objects.filter(run=run, action_type="verify").order_by("position"))
    assert [c.status for c in checks] == ["fed_back", "succeeded"]
    assert [c.spec["inputs"]["check_origin"] for c in checks] == ["model", "model"]
    revisions = list(run.task.plan_revisions.order_by("number"))
    assert [r.plan["steps"][0]["inputs"]["check"] for r in revisions] == ["", "rm -rf build && true", "test -d ."]
    assert "the model proposed `test -d .` as the check" in revisions[-1].change_note
    assert run.events.filter(kind="plan.revised", payload__proposed_by="model").count() == 2
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
    assert run.state == S.COMPLETED, _debug(run)
    assert (tmp_path / "ws" / "price.py").read_text() == "def total(items):\n    return sum(items)\n"


def test_every_call_of_a_reply_gets_its_result_even_unknown_or_malformed_and_finish_runs_last(
    scripted_model, owner, tmp_path, kind
):
    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(
                call("finish", summary="Done, I think."),
                call("frobnicate", level=3),
                call("write_file", path="out.txt"),  # no content
                call("write_file", path="out.txt", content=""),
            )
        told = {m["tool_call_id"]: m["content"] for m in convo.results()}
        assert len(told) == 4, told  # the strict server also refuses a call left unanswered
        texts = "\n".join(told.values())
        assert "There is no tool named “frobnicate”" in texts and "missing content" in texts
        assert "exit code 1" in texts  # the check ran after the write, and failed on the empty file
        return reply(call("write_file", path="out.txt", content="x\n"), call("finish", summary="Now with text."))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="test -s out.txt", prompt="write out.txt", files={}))
    assert run.state == S.COMPLETED, _debug(run)
    first = list(StepExecution.objects.filter(run=run, step_id__startswith="t1.").order_by("position"))
    assert [s.action_type for s in first] == ["write_file", "finish", "verify"]
    assert model.count == 2
    assert_audit_clean()


def test_an_edit_that_does_not_match_shows_the_model_the_closest_lines(scripted_model, owner, tmp_path, kind):
    def script(convo: Conversation):
        if convo.turn == 1:  # from memory, not from the file: a typo
            return reply(call("edit_file", path="price.py", find="return sum(item) - 1", replace="return sum(item)"))
        told = latest_results(convo)[-1]
        assert "was not found" in told and "The closest lines in the file now:" in told, told
        line = next(text for text in file_lines(told) if "return" in text).strip()
        return reply(
            call("edit_file", path="price.py", find=line, replace=line.replace(" - 1", "")),
            call("finish", summary="Removed the offset."),
        )

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check=CHECK, prompt="fix it", files={"price.py": BUGGY}))
    assert run.state == S.COMPLETED, _debug(run)
    assert (tmp_path / "ws" / "price.py").read_text() == "def total(items):\n    return sum(items)\n"
    first = StepExecution.objects.get(run=run, step_id="t1.1-edit_file")
    assert first.status == "fed_back" and first.error_class == "EditRefused"
    assert_audit_clean()


@pytest.mark.parametrize("every", [0.000001, 0])
def test_the_models_words_stream_into_the_workstream(scripted_model, owner, tmp_path, kind, settings, every):
    settings.COMMAND_LOOP_STREAM_SECONDS = every
    words = "I will look at the files first, then change what the request asks, and finish. " * 3

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(say(words), call("list_files"))
        return reply(call("finish", summary="Nothing to change."))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="true", prompt="look", files={"a.txt": "a"}))
    assert run.state == S.COMPLETED, _debug(run)
    rows = list(run.events.filter(kind="model.text").order_by("seq").values_list("explanation", flat=True))
    assert model.requests[0].body.get("stream") is (True if every else None)
    if every:
        assert len(rows) > 1 and "".join(rows) == words, rows
    else:
        assert rows == []
    assert ModelTurn.objects.get(run=run, number=1).reply_text == words
    assert_audit_clean()  # usage is recorded from a streamed reply too


@pytest.mark.approval_gate
def test_a_refused_path_reaches_the_model_and_nothing_outside_is_touched(scripted_model, owner, tmp_path, kind):
    (tmp_path / "secret.txt").write_text("s3cret\n")

    def script(convo: Conversation):
        if convo.turn == 1:
            return reply(
                call("read_file", path="../secret.txt"), call("write_file", path="../planted.txt", content="x")
            )
        read, write = latest_results(convo)
        assert "s3cret" not in read and "outside" in read, read
        assert "Refused" in write and "outside the workspace" in write, write
        return reply(call("finish", summary="Stayed inside."))

    model = scripted_model(kind, script)
    run = drain(loop_run(owner, tmp_path / "ws", model, check="true", prompt="look", files={"a.txt": "a"}))
    assert run.state in (S.WAITING_APPROVAL, S.COMPLETED), _debug(run)
    assert not (tmp_path / "planted.txt").exists()
    assert model.count == 2
    assert "s3cret" not in json.dumps(list(ModelTurn.objects.filter(run=run).values_list("sent", flat=True)))


def test_without_a_provider_a_code_change_says_so_with_connect_and_plan_again_right_there(
    owner, owner_client, tmp_path
):
    from django.urls import reverse

    from tasks.models import Task
    from tasks.planning import task_understand
    from tasks.services import task_submit

    workspace = make_workspace(owner, tmp_path / "ws")
    task = task_submit(owner=owner, prompt="fix the bug in price.py", mode="edit", workspace=workspace)
    task_understand(task=task)
    task.refresh_from_db()
    assert task.status == Task.Status.NEEDS_PROVIDER
    assert not TaskRun.objects.filter(task=task).exists(), "nothing pretends to do it"
    page = owner_client.get(reverse("tasks:command_task", args=[task.pk])).content.decode()
    assert "This needs a model provider." in page and "Connect a provider" in page
    assert reverse("tasks:plan_again", args=[task.pk]) in page
