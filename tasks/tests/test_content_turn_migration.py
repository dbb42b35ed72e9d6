"""Upgrading a database whose content replies were kept only in their workstream rows: they become
content model turns, so a step run again replays them and the audit finds each output's replies."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tasks.models import ModelTurn, PlanRevision, StepExecution, Task, TaskRun, WorkstreamEvent

BEFORE = [("tasks", "0006_model_turn_content_replies_and_prices")]
AFTER = [("tasks", "0007_content_replies_as_model_turns")]


def _migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


@pytest.mark.django_db(transaction=True)
def test_content_replies_kept_in_rows_become_stored_turns_with_their_usage(owner):
    _migrate(BEFORE)
    try:
        task = Task.objects.create(owner=owner, raw_prompt="budget as excel", title="budget")
        revision = PlanRevision.objects.create(task=task, number=1, planner="test")
        run = TaskRun.objects.create(task=task, owner=owner, plan_revision=revision)
        make = StepExecution.objects.create(
            run=run,
            step_id="make",
            position=1,
            action_type="generate_output",
            title="Make the sheet",
            idempotency_key=f"run-{run.pk}:make",
            spec={"inputs": {"content_connection_id": "c0ffee"}},
        )
        for seq, (text, usage) in enumerate([("A first go.", [3000, 500]), ("Fixed.", [3200, 400])], start=1):
            WorkstreamEvent.objects.create(
                run=run,
                seq=seq,
                kind="model.content",
                step_id="make",
                title=f"OpenAI-compatible · gpt-x is writing Budget (reply {seq})",
                payload={
                    "model_words": text,
                    "reply": {"text": text, "calls": [], "usage": usage, "stop_reason": "tool_use"},
                },
            )
        WorkstreamEvent.objects.create(run=run, seq=3, kind="model.content", step_id="make", title="no reply kept")
    finally:
        _migrate(AFTER)
    turns = list(
        ModelTurn.objects.filter(run=run)
        .order_by("number")
        .values_list("purpose", "step", "number", "provider", "reply_text", "input_tokens", "output_tokens", "cost_usd")
    )
    assert turns == [
        ("content", make.pk, 1, "OpenAI-compatible · gpt-x", "A first go.", 3000, 500, None),
        ("content", make.pk, 2, "OpenAI-compatible · gpt-x", "Fixed.", 3200, 400, None),
    ]
