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
    EARLIER_ROWS,
    THREAD_ROWS,
    THREADS_PAGE,
    TIMELINE_PAGE,
    PageOutOfRange,
    TimelinePage,
    run_rows_before,
    run_rows_newest,
    task_get_for_owner,
    task_list_recent,
    task_page_for_owner,
    task_record,
    task_timeline,
    thread_runs,
    workspace_sidebar,
)

__all__ = [
    "EARLIER_ROWS",
    "NOTICE_MINUTES",
    "PageOutOfRange",
    "SWITCHER_LIMIT",
    "SWITCHER_RECENT_HOURS",
    "THREADS_PAGE",
    "THREAD_ROWS",
    "TIMELINE_PAGE",
    "TimelinePage",
    "reverse_command",
    "run_get_for_owner",
    "run_list_for_task",
    "run_rows_before",
    "run_rows_newest",
    "run_status",
    "run_steps",
    "switcher_entries",
    "switcher_notice",
    "switcher_signature",
    "task_get_for_owner",
    "task_list_recent",
    "task_page_for_owner",
    "task_record",
    "task_timeline",
    "thread_runs",
    "workspace_sidebar",
]
