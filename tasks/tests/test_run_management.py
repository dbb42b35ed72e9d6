"""manage.py submit / runs / recover_runs, run in-process against the real database."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from providers.contracts import ActionType
from tasks.engine import handlers
from tasks.engine.dispatch import run_create
from tasks.models import Task, TaskRun
from tasks.tests import engine_handlers
from tasks.tests.engine_support import make_task, make_workspace, step, test_handlers, verify_step  # noqa: F401


def _call(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_runs_lists_unfinished_runs_with_why(owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "ws")
    first = run_create(task=make_task(owner, ws, [step("a", ActionType.WRITE_FILE), verify_step()]))
    TaskRun.objects.filter(pk=first.pk).update(state=TaskRun.State.RUNNING, current_step_id="a")
    second = run_create(task=make_task(owner, ws, [step("a", ActionType.WRITE_FILE), verify_step()]))
    out = _call("runs")
    assert first.reference in out and "on step a" in out
    assert second.reference in out and f"behind {first.reference} on the same workspace" in out


def test_runs_makes_the_same_number_of_queries_for_3_runs_and_for_30(owner, tmp_path, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def listed(n: int) -> int:
        ws = make_workspace(owner, tmp_path / f"ws{n}")
        for _ in range(n):
            run_create(task=make_task(owner, ws, [step("a", ActionType.WRITE_FILE), verify_step()]))
        with CaptureQueriesContext(connection) as queries:
            out = _call("runs", "--limit", "100")
        rows = out.splitlines()[1:]
        assert len(rows) == TaskRun.objects.count(), "every run is listed"
        assert all(" queued " in row and ("ahead in the queue" in row or "free worker" in row) for row in rows)
        return len(queries)

    few = listed(3)
    with django_assert_max_num_queries(few):
        _call("runs", "--limit", "100")
    assert listed(27) == few


def test_runs_says_when_there_is_nothing(db):
    assert "No unfinished runs" in _call("runs")


def test_recover_runs_reports_nothing_to_do(db):
    assert "No run needed recovery" in _call("recover_runs")


def test_submit_needs_to_know_the_user(owner, other_user):
    with pytest.raises(CommandError, match="--user"):
        _call("submit", "make a pdf")
    with pytest.raises(CommandError, match="no user with the email"):
        _call("submit", "make a pdf", "--user", "nobody@example.com")


def test_submit_stores_plans_and_queues(owner):
    out = _call("submit", "Write a one-page PDF proposal for Acme Analytics", "--user", owner.email)
    assert "stored" in out and "queued" in out
    run = TaskRun.objects.get(owner=owner)
    assert run.state == TaskRun.State.QUEUED and run.steps.count() == 3
    assert Task.objects.get(owner=owner).status == Task.Status.QUEUED


@pytest.mark.usefixtures("test_handlers")
def test_submit_here_executes_and_follows_the_workstream(owner):
    handlers.register(ActionType.VERIFY)(engine_handlers.instant)
    out = _call("submit", "Write a one-page PDF proposal for Acme Analytics", "--user", owner.email, "--here")
    run = TaskRun.objects.get(owner=owner)
    assert run.state == TaskRun.State.COMPLETED
    assert "#1   " in out and f"{run.reference}: completed." in out


@pytest.mark.usefixtures("test_handlers")
def test_submit_here_reports_a_failure_as_a_failure(owner):
    with pytest.raises(CommandError, match="did not complete"):
        _call("submit", "Write a one-page PDF proposal for Acme Analytics", "--user", owner.email, "--here")
    run = TaskRun.objects.get(owner=owner)
    assert run.state == TaskRun.State.FAILED and "verif" in run.state_reason.lower()
