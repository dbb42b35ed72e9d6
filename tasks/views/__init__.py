"""Views of the tasks app, by concept: the task record, run controls, the operator workspace."""

from tasks.views.command import command_home, command_switcher, command_task, run_events
from tasks.views.iterate import asset_regenerate, task_follow_up
from tasks.views.runs import (
    command_output,
    run_answer,
    run_control,
    run_priority,
    run_start,
    run_status,
    task_runs,
)
from tasks.views.task import task_answer, task_detail, task_plan_again

__all__ = [
    "asset_regenerate",
    "command_home",
    "command_output",
    "command_switcher",
    "command_task",
    "run_answer",
    "run_control",
    "run_events",
    "run_priority",
    "run_start",
    "run_status",
    "task_answer",
    "task_detail",
    "task_follow_up",
    "task_plan_again",
    "task_runs",
]
