"""A no-op step for the queue benchmark (COMMAND_HANDLER_MODULES=bench.noop_handlers), and the bare
django-q2 task it is compared with. The engine path stays real: claim, lease, step record,
events, verification gate, completion; only the step's own work is nothing."""

from providers.contracts import ActionType
from tasks.engine.handlers import StepContext, StepResult, register


@register(ActionType.READ_FILE)
def noop_step(ctx: StepContext) -> StepResult:
    return StepResult(summary="Nothing to do (benchmark no-op).")


def noop() -> None:
    """The bare django-q2 baseline task."""
    return None
