"""Reads for tasks, by concept. Every selector takes the requesting user (or an object already
checked against them) and returns only their objects."""

from tasks.selectors.runs import run_get_for_owner, run_list_for_task, run_status, run_steps
from tasks.selectors.switcher import (
    NOTICE_MINUTES,
    SWITCHER_LIMIT,
    SWITCHER_RECENT_HOURS,
    reverse_command,
    switcher_entries,
    switcher_notice,
    switcher_signature,
)
from tasks.selectors.thread import (
    THREAD_ROWS,
    task_get_for_owner,
    task_list_recent,
    task_record,
    thread_runs,
    workspace_sidebar,
)

__all__ = [
    "NOTICE_MINUTES",
    "SWITCHER_LIMIT",
    "SWITCHER_RECENT_HOURS",
    "THREAD_ROWS",
    "reverse_command",
    "run_get_for_owner",
    "run_list_for_task",
    "run_status",
    "run_steps",
    "switcher_entries",
    "switcher_notice",
    "switcher_signature",
    "task_get_for_owner",
    "task_list_recent",
    "task_record",
    "thread_runs",
    "workspace_sidebar",
]
