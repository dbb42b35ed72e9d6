"""Builders shared by the engine tests: a real workspace folder, a task and a plan revision."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.contracts import ActionType, Plan, PlanStep, StepExplanation
from tasks.engine import handlers
from tasks.models import PlanRevision, Task
from workspaces.models import Workspace

# The environment of a real worker process in the engine tests: quick polling, the test handlers.
WORKER_ENV = {"COMMAND_Q_POLL": "0.1", "COMMAND_HANDLER_MODULES": "tasks.tests.engine_worker_handlers"}


def step(step_id: str, action: ActionType, title: str | None = None, **inputs) -> PlanStep:
    return PlanStep(
        id=step_id,
        title=title or f"{action.value} {step_id}",
        action_type=action,
        inputs=inputs,
        explanation=StepExplanation(what=f"Do {step_id}.", why="The test needs it.", expect_next="The next step."),
    )


def verify_step(step_id: str = "verify", **inputs) -> PlanStep:
    return step(step_id, ActionType.VERIFY, "Verify the result", **(inputs or {"command": "true"}))


def make_workspace(owner, folder: Path, name: str = "site") -> Workspace:
    folder.mkdir(parents=True, exist_ok=True)
    return Workspace.objects.create(owner=owner, name=name, path=str(folder))


def make_task(owner, workspace: Workspace | None, steps: list[PlanStep], prompt: str = "build it") -> Task:
    task = Task.objects.create(owner=owner, raw_prompt=prompt, title=prompt, workspace=workspace)
    PlanRevision.objects.create(
        task=task,
        number=1,
        planner="test plan",
        plan=Plan(steps=steps).model_dump(mode="json"),
    )
    return task


@pytest.fixture
def test_handlers():
    """Install the engine test handlers for one test and restore the registry afterwards."""
    saved = dict(handlers._REGISTRY)
    from tasks.tests import engine_handlers

    engine_handlers.install()
    yield engine_handlers
    handlers._REGISTRY.clear()
    handlers._REGISTRY.update(saved)
