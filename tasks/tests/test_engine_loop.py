"""Model-driven runs through the real engine, against a scripted model over real HTTP in both wire
formats (providers.tests.scripted_model): the model proposes, the engine disposes, the check decides."""

from __future__ import annotations

import json
import re

import pytest

from command_site.audit import audit_run
from providers.tests.scripted_model import FORMATS, Conversation, call, reply, say
from tasks.engine.dispatch import run_create
from tasks.engine.loop.turns import turn_plan_step
from tasks.models import ModelToolCall, ModelTurn, StepExecution, TaskRun
from tasks.tests.engine_support import make_task, make_workspace
from tasks.tests.loop_support import (
    BUGGY,
    CHECK,
    assert_audit_clean,
    drain,
    file_lines,
    latest_results,
    loop_run,
    reactive_fixer,
    run_story,
)

S = TaskRun.State
pytestmark = pytest.mark.django_db


@pytest.fixture(params=FORMATS)
def kind(request):
    """Each test runs once per wire format."""
    return request.param


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
    assert run.state == S.COMPLETED, run_story(run)
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


def test_a_wrong_fix_fails_the_check_the_failure_goes_back_and_the_second_fix_passes(
    scripted_model, owner, tmp_path, kind
):
    model = scripted_model(kind, reactive_fixer)
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
    assert run.state == S.COMPLETED, run_story(run)
    assert (tmp_path / "ws" / "price.py").read_text() == "def total(items):\n    return sum(items)\n"
    assert model.count == 4
    checks = list(StepExecution.objects.filter(run=run, action_type="verify").order_by("position"))
    assert [c.status for c in checks] == ["fed_back", "succeeded"]
    failed = ModelToolCall.objects.get(check_step=checks[0])
    assert failed.is_error and "AssertionError" in failed.observation
    assert run.events.filter(kind="step.failed", payload__fed_back=True).exists()
    assert_audit_clean()


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
    assert run.state == S.COMPLETED, run_story(run)
    assert (tmp_path / "ws" / "lib/use.py").read_text() == "from app import bar\nprint(bar())\n"
    assert (tmp_path / "ws" / "app.py").read_text() == "def bar():\n    return 1\n"
    kinds = list(StepExecution.objects.filter(run=run).order_by("position").values_list("action_type", flat=True))
    assert kinds[:2] == ["model_turn", "search"] and kinds.count("edit_file") == 3
    assert_audit_clean()


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
    assert run.state == S.COMPLETED, run_story(run)
    assert (tmp_path / "ws" / "a.py").read_text() == "VALUE = 1 + 1\n"
    assert (tmp_path / "ws" / "b.py").read_text() == "def f():\n    return 2\n"
    checks = list(StepExecution.objects.filter(run=run, action_type="verify").order_by("position"))
    assert [c.status for c in checks] == ["fed_back", "succeeded"]
    assert model.count == 5
    assert_audit_clean()


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
    assert run.state == S.COMPLETED, run_story(run)
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
    assert run.state == S.COMPLETED, run_story(run)
    assert (tmp_path / "ws" / "price.py").read_text() == "def total(items):\n    return sum(items)\n"
    first = StepExecution.objects.get(run=run, step_id="t1.1-edit_file")
    assert first.status == "fed_back" and first.error_class == "EditRefused"
    assert_audit_clean()


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
    assert run.state in (S.WAITING_APPROVAL, S.COMPLETED), run_story(run)
    assert not (tmp_path / "planted.txt").exists()
    assert model.count == 2
    assert "s3cret" not in json.dumps(list(ModelTurn.objects.filter(run=run).values_list("sent", flat=True)))


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
    assert run.state == S.COMPLETED, run_story(run)
    stored = ModelTurn.objects.get(run=run, number=2).sent[0]["content"]
    assert "line 500 of the log" in stored, "the stored transcript keeps the whole result"


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
    assert run.state == S.COMPLETED, run_story(run)
    rows = list(run.events.filter(kind="model.text").order_by("seq").values_list("explanation", flat=True))
    assert model.requests[0].body.get("stream") is (True if every else None)
    if every:
        # One row for the reply, rewritten as the pieces arrived, whose text is the whole reply.
        assert rows == [words], rows
    else:
        assert rows == []
    assert ModelTurn.objects.get(run=run, number=1).reply_text == words
    assert_audit_clean()  # usage is recorded from a streamed reply too


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


TURN = ("model_turn", "succeeded")


@pytest.mark.parametrize(
    "steps, ok",
    [
        ([TURN, ("edit_file", "fed_back"), ("verify", "succeeded")], True),
        ([TURN, ("verify", "fed_back"), TURN, ("verify", "succeeded")], True),
        ([TURN, ("verify", "succeeded"), TURN, ("verify", "fed_back")], False),
        ([TURN, ("verify", "fed_back")], False),
        ([TURN, ("edit_file", "fed_back")], False),
        ([TURN, ("verify", "skipped"), ("verify", "succeeded")], False),
    ],
    ids=["failed-tool-then-check", "failed-check-then-passing", "last-check-failed", "only-failed-check",
         "no-check", "denied-check-stays-unverified"],
)  # fmt: skip
def test_the_gate_settles_a_fed_back_failure_only_by_a_later_passing_check(steps, ok):
    from tasks.engine.state import verification_passed

    assert verification_passed(TaskRun(), [(a, s, f"{a} {i}") for i, (a, s) in enumerate(steps)])[0] is ok
