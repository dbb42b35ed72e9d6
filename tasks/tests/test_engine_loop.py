"""Model-driven runs through the real engine, against a scripted model over real HTTP in both wire
formats: the model proposes, the engine disposes, the check decides."""

from __future__ import annotations

import pytest

from command_site.audit import audit_run
from providers.services import provider_connection_create
from tasks import jobs
from tasks.engine.dispatch import run_create
from tasks.engine.loop.turns import turn_plan_step
from tasks.models import ModelToolCall, ModelTurn, StepExecution, TaskRun
from tasks.tests.engine_support import make_task, make_workspace
from tasks.tests.scripted_model import (
    Received,
    ScriptedModel,
    act,
    call,
    file_lines,
    last_tool_results,
    say,
    turn_number,
)

S = TaskRun.State
pytestmark = pytest.mark.django_db

BUGGY = "def total(items):\n    return sum(items) - 1\n"
CHECK = "python3 -c 'import price; assert price.total([1, 2]) == 3, price.total([1, 2])'"


@pytest.fixture(params=["openai", "anthropic"])
def kind(request, settings):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    return request.param


def connect(owner, model: ScriptedModel):
    return provider_connection_create(
        owner=owner,
        kind="anthropic" if model.kind == "anthropic" else "openai_compatible",
        label=f"Scripted {model.kind}",
        base_url=model.url,
        model="scripted-1",
        api_key="sk-test-key",
    )


def loop_run(owner, folder, model: ScriptedModel, *, check: str, prompt: str, files: dict[str, str]) -> TaskRun:
    workspace = make_workspace(owner, folder)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    connection = connect(owner, model)
    plan = [turn_plan_step(number=1, connection_id=str(connection.id), check=check)]
    return run_create(task=make_task(owner, workspace, plan, prompt=prompt))


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


def test_the_loop_completes_when_the_check_passes(owner, tmp_path, kind):
    def script(received: Received):
        if turn_number(received) == 1:
            assert "README.md" in received.conversation[0]["content"]  # the file tree came with the request
            return say("I will create the file.", call("write_file", path="hello.txt", content="hello\n"))
        return say("", call("finish", summary="Created hello.txt with a greeting."))

    with ScriptedModel(kind, script) as model:
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
    assert len(model.received) == 2 and all(r.with_tools for r in model.received)
    first = model.received[0].conversation[0]["content"]
    assert "add hello.txt" in first and "README.md" in first and "grep -q hello hello.txt" in first
    turns = list(ModelTurn.objects.filter(run=run).order_by("number"))
    assert [t.number for t in turns] == [1, 2] and all(t.input_tokens > 0 for t in turns)
    summary = run.events.get(kind="model.summary")
    assert "In the model's words" in summary.explanation and "Created hello.txt" in summary.explanation
    check = StepExecution.objects.get(run=run, action_type="verify")
    assert check.status == "succeeded" and check.result["report"]["exit_code"] == 0
    assert_audit_clean()


def _reactive_fixer(received: Received):
    """Reads price.py, and computes each edit from the text it was sent: first a wrong fix (the
    sign flipped), then, after the check's failure reaches it, the right one."""
    n = turn_number(received)
    results = last_tool_results(received)
    if n in (1, 3):
        if n == 3:
            assert "AssertionError" in results[-1] and "exit code 1" in results[-1], results
        return say("Let me read the code.", call("read_file", path="price.py"))
    line = next(text for text in file_lines(results[-1]) if "return" in text)
    if n == 2:
        wrong = line.replace("- 1", "+ 1")
        return say(
            "The sign looks wrong.",
            call("edit_file", path="price.py", find=line, replace=wrong),
            call("finish", summary="Flipped the sign."),
        )
    right = line.split(" + 1")[0].split(" - 1")[0]
    return act(
        call("edit_file", path="price.py", find=line, replace=right), call("finish", summary="Removed the offset.")
    )


def test_a_wrong_fix_fails_the_check_the_failure_goes_back_and_the_second_fix_passes(owner, tmp_path, kind):
    with ScriptedModel(kind, _reactive_fixer) as model:
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
    assert len(model.received) == 4
    checks = list(StepExecution.objects.filter(run=run, action_type="verify").order_by("position"))
    assert [c.status for c in checks] == ["fed_back", "succeeded"]
    failed = ModelToolCall.objects.get(check_step=checks[0])
    assert failed.is_error and "AssertionError" in failed.observation
    assert run.events.filter(kind="step.failed", payload__fed_back=True).exists()
    assert_audit_clean()


def test_a_rename_searches_then_edits_every_match(owner, tmp_path, kind):
    def script(received: Received):
        n = turn_number(received)
        if n == 1:
            return act(call("search", pattern="foo"))
        if n == 2:
            edits = []
            for line in last_tool_results(received)[-1].splitlines():
                path, _number, text = line.split(":", 2)
                edits.append(
                    call("edit_file", path=path, find=text.strip(), replace=text.strip().replace("foo", "bar"))
                )
            return act(*edits, call("finish", summary="Renamed foo to bar."))
        raise AssertionError("no third turn expected")

    files = {"app.py": "def foo():\n    return 1\n", "lib/use.py": "from app import foo\nprint(foo())\n"}
    with ScriptedModel(kind, script) as model:
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
