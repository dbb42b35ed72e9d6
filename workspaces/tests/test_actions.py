"""Plan-step file actions as the engine calls them: rollback point first, honest summaries, safe re-runs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from workspaces import actions
from workspaces.models import FileChange, RollbackPoint
from workspaces.paths import PathRefused
from workspaces.services import EditRefused, run_revert, workspace_root


@pytest.fixture
def run_and_steps(workspace, owner):
    from tasks.models import PlanRevision, StepExecution, Task, TaskRun

    task = Task.objects.create(owner=owner, raw_prompt="edit the site", workspace=workspace)
    run = TaskRun.objects.create(
        task=task, owner=owner, plan_revision=PlanRevision.objects.create(task=task, number=1), workspace=workspace
    )

    def step(n: int):
        return StepExecution.objects.create(
            run=run,
            step_id=f"s{n}",
            position=n,
            action_type="write_file",
            title=f"step {n}",
            idempotency_key=f"{run.pk}-s{n}",
        )

    return run, step


def test_write_edit_delete_take_points_and_survive_a_rerun(workspace, run_and_steps):
    run, step = run_and_steps
    root = Path(workspace_root(workspace=workspace))
    s1, s2, s3 = step(1), step(2), step(3)

    wrote = actions.action_write_file(
        workspace=workspace, inputs={"path": "index.html", "content": "<h1>Hi</h1>\n"}, run=run, step=s1
    )
    assert wrote.summary == "Created index.html (1 line)"
    assert wrote.rollback_point.kind == RollbackPoint.Kind.PRE_EDIT and wrote.rollback_point.step == s1
    again = actions.action_write_file(
        workspace=workspace, inputs={"path": "index.html", "content": "<h1>Hi</h1>\n"}, run=run, step=s1
    )
    assert "nothing changed" in again.summary and again.changes == []

    edit = {"path": "index.html", "find": "Hi", "replace": "Hello"}
    edited = actions.action_edit_file(workspace=workspace, inputs=edit, run=run, step=s2)
    assert edited.summary == "Edited index.html: +1 −1 lines"
    rerun = actions.action_edit_file(workspace=workspace, inputs=edit, run=run, step=s2)
    assert rerun.summary.startswith("Already applied") and (root / "index.html").read_text() == "<h1>Hello</h1>\n"

    deleted = actions.action_delete_file(workspace=workspace, inputs={"path": "index.html"}, run=run, step=s3)
    assert deleted.summary.startswith("Deleted index.html")
    assert actions.action_delete_file(
        workspace=workspace, inputs={"path": "index.html"}, run=run, step=s3
    ).summary.startswith("Already applied")
    assert FileChange.objects.filter(run=run).count() == 3

    assert run_revert(workspace=workspace, run_id=run.pk).done
    assert not (root / "index.html").exists()  # the run created it, so undoing the run removes it


def test_refusals_are_clear(workspace, run_and_steps):
    run, step = run_and_steps
    s1 = step(1)
    with pytest.raises(PathRefused):
        actions.action_write_file(workspace=workspace, inputs={"path": "../x", "content": "x"}, run=run, step=s1)
    with pytest.raises(actions.ActionInputError, match="no file path"):
        actions.action_write_file(workspace=workspace, inputs={"content": "x"})
    with pytest.raises(actions.ActionInputError, match="base64"):
        actions.action_write_file(workspace=workspace, inputs={"path": "a.bin", "content_base64": "%%%"})
    actions.action_write_file(workspace=workspace, inputs={"path": "a.txt", "content": "one one\n"})
    with pytest.raises(EditRefused, match="2 times"):
        actions.action_edit_file(workspace=workspace, inputs={"path": "a.txt", "find": "one", "replace": "two"})
    with pytest.raises(EditRefused, match="not found"):
        actions.action_edit_file(workspace=workspace, inputs={"path": "a.txt", "find": "zzz", "replace": "y"})


def test_binary_write_read_and_command_changes(workspace, run_and_steps):
    run, step = run_and_steps
    root = Path(workspace_root(workspace=workspace))
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    actions.action_write_file(
        workspace=workspace, inputs={"path": "img/logo.png", "content_base64": base64.b64encode(png).decode()}
    )
    read = actions.action_read_file(workspace=workspace, inputs={"path": "img/logo.png"})
    assert read.data["binary"] is True

    s2 = step(2)
    point = actions.command_checkpoint(workspace=workspace, command="npm run build", run=run, step=s2)
    assert point.kind == RollbackPoint.Kind.PRE_COMMAND and "node_modules" in point.ignore_rules[0]
    (root / "dist").mkdir()
    (root / "dist" / "app.js").write_text("console.log(1)\n")
    outcome = actions.command_changes(point=point, command="npm run build", run=run, step=s2)
    assert outcome.summary == "The command changed 1 file: dist/app.js."
    assert outcome.changes[0].actor == "command" and outcome.changes[0].step == s2
    quiet = actions.command_changes(point=actions.command_checkpoint(workspace=workspace, command="ls"), command="ls")
    assert quiet.summary.startswith("The command changed no files")
