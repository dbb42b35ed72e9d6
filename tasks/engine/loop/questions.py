"""The person's answer to a question a model asked (the ask_operator tool).

The run paused at the question ("waiting for your answer"); the answer is stored on that step,
the run resumes, and the step hands the answer to the model as its tool result.
"""

from __future__ import annotations

from django.db import transaction

from providers.contracts import ActionType
from tasks.engine.controls import ControlOutcome, run_resume
from tasks.engine.events import event_emit
from tasks.models import StepExecution, TaskRun

# The run's blocking reason while it waits for the person's answer (the run card offers the form).
WAITING_FOR_ANSWER = "waiting for your answer"


class AnswerRefused(Exception):
    """The answer cannot be taken; the message says why."""


def question_waiting(*, run: TaskRun) -> StepExecution | None:
    """The model's question this paused run waits on, if any."""
    if run.state != TaskRun.State.PAUSED:
        return None
    return (
        StepExecution.objects.filter(
            run=run, action_type=ActionType.ASK_OPERATOR, status=StepExecution.Status.PENDING, result__has_key="paused"
        )
        .order_by("position")
        .first()
    )


@transaction.atomic
def run_answer_model_question(*, run: TaskRun, answer: str) -> ControlOutcome:
    """Store the answer on the question the run waits on, and resume the run.

    Refuses (AnswerRefused) an empty answer and a run that is not waiting on a model's question.
    """
    answer = answer.strip()
    if not answer:
        raise AnswerRefused("Write an answer for the model first.")
    current = TaskRun.objects.select_for_update().get(pk=run.pk)
    step = question_waiting(run=current)
    if step is None or (step.result or {}).get("answer"):
        raise AnswerRefused(f"{run.reference} is not waiting for an answer to a model's question.")
    StepExecution.objects.filter(pk=step.pk).update(result={**(step.result or {}), "answer": answer[:4000]})
    event_emit(
        run=current,
        kind="operator.answer",
        phase="execute",
        status="info",
        step_id=step.step_id,
        title="You answered the model's question",
        explanation=answer[:1500],
    )
    return run_resume(run=current)
