"""Real rows for approvals tests: a workspace folder on disk and a run made through the ORM."""

from __future__ import annotations

import uuid

import pytest

from providers.contracts import PlanStep


def make_step(step_id: str = "s1", action_type: str = "edit_file", title: str = "Update the landing page", **inputs):
    return PlanStep(
        id=step_id,
        title=title,
        action_type=action_type,
        inputs=inputs,
        explanation={
            "what": "Rewrite the hero section of the landing page.",
            "why": "The request asks for a premium B2B landing page.",
            "expect_next": "The page renders with the new hero.",
        },
    )


@pytest.fixture
def acme(owner, tmp_path):
    from workspaces.models import Workspace

    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "index.html").write_text("<h1>Acme</h1>\n")
    (folder / "styles.css").write_text("body { color: black; }\n")
    return Workspace.objects.create(owner=owner, name="Acme site", path=str(folder))


@pytest.fixture
def make_run(owner, acme):
    """Task → PlanRevision → TaskRun → StepExecution, as the engine would have made them."""
    from tasks.models import PlanRevision, StepExecution, Task, TaskRun

    def _make(*, user=None, workspace=acme, step_id: str = "s1", action_type: str = "edit_file"):
        user = user or owner
        task = Task.objects.create(
            owner=user, raw_prompt="creat a premium B2B landng page for Acme", workspace=workspace
        )
        revision = PlanRevision.objects.create(
            task=task,
            number=1,
            planner="test",
            brief={"goal": "A premium B2B landing page for Acme Analytics."},
        )
        run = TaskRun.objects.create(task=task, owner=user, plan_revision=revision, workspace=workspace)
        step = StepExecution.objects.create(
            run=run,
            step_id=step_id,
            position=1,
            action_type=action_type,
            title="Update the landing page",
            idempotency_key=uuid.uuid4().hex,
        )
        return run, step

    return _make
