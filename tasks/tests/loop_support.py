"""What the model-driven run tests share: the scripted model as a provider connection, a run of a
model-driven plan in a real workspace, driving it, and reading what the model was sent."""

from __future__ import annotations

import re

from command_site.audit import audit_run
from providers.planner import BuiltinPlanner, PlanningRequest
from providers.services import provider_connection_create
from providers.tests.scripted_model import Conversation, ScriptedModel, call, reply, say
from tasks import jobs
from tasks.engine.dispatch import run_create
from tasks.engine.loop.plan import model_run_result
from tasks.models import TaskRun
from tasks.tests.engine_support import make_task, make_workspace

S = TaskRun.State


BUGGY = "def total(items):\n    return sum(items) - 1\n"
CHECK = "python3 -c 'import price; assert price.total([1, 2]) == 3, price.total([1, 2])'"


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


def run_story(run):
    steps = list(run.steps.order_by("position").values_list("step_id", "status", "error_message"))
    return steps, list(run.events.order_by("seq").values_list("kind", "title", "explanation"))


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing in the engine catches it."""


def reactive_fixer(convo: Conversation):
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
