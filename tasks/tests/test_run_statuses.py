"""Run status for many runs at once (switcher, thread): the same words as one run at a time, with a
number of queries that does not grow with the number of runs."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from providers.contracts import ActionType
from tasks.engine.dispatch import blocking_reason_for, queue_position, run_create
from tasks.models import TaskRun
from tasks.selectors.runs import run_statuses
from tasks.selectors.switcher import switcher_entries
from tasks.tests.engine_support import make_task, make_workspace, step

S = TaskRun.State


def _runs(owner, tmp_path, n, *, prefix="w"):
    shared = make_workspace(owner, tmp_path / f"{prefix}-shared", name=f"{prefix}-shared")
    runs = []
    for i in range(n):
        ws = shared if i % 3 == 0 else make_workspace(owner, tmp_path / f"{prefix}{i}", name=f"{prefix}{i}")
        plan = [step("w", ActionType.WRITE_FILE, "Write it"), step("v", ActionType.VERIFY, "Check it")]
        runs.append(run_create(task=make_task(owner, ws, plan), priority=i % 2))
    return runs


def _mixed(owner, tmp_path, n, prefix="w"):
    runs = _runs(owner, tmp_path, n, prefix=prefix)
    # One holds the shared workspace, one waits for approval, one is paused, one waits for its retry.
    TaskRun.objects.filter(pk=runs[0].pk).update(state=S.RUNNING)
    TaskRun.objects.filter(pk=runs[1].pk).update(state=S.WAITING_APPROVAL)
    TaskRun.objects.filter(pk=runs[2].pk).update(state=S.PAUSED)
    TaskRun.objects.filter(pk=runs[4].pk).update(ready_at=timezone.now() + timedelta(minutes=3))
    return [TaskRun.objects.select_related("task", "workspace").get(pk=r.pk) for r in runs]


def test_many_runs_say_what_one_run_says(owner, tmp_path, settings):
    settings.COMMAND_MAX_RUNS_PER_USER = 5
    runs = _mixed(owner, tmp_path, 9)
    statuses = run_statuses(runs)
    for run, status in zip(runs, statuses, strict=True):
        assert status["run"] is run
        assert status["queue_position"] == queue_position(run)
        expected = blocking_reason_for(run) if run.state in (S.QUEUED, S.PAUSED, S.WAITING_APPROVAL) else ""
        assert status["blocking_reason"] == expected
        assert status["steps_total"] == 2 and status["steps_done"] == 0
    reasons = {s["blocking_reason"] for s in statuses}
    assert f"behind {runs[0].reference} on the same workspace" in reasons
    assert {"waiting for your approval", "paused by you"} <= reasons


def test_the_cap_reason_is_the_same_for_many_runs(owner, tmp_path, settings):
    settings.COMMAND_MAX_RUNS_PER_USER = 1
    # Seven runs: the sixth (index 5) is queued, ready and on a workspace of its own, so only the
    # cap holds it back.
    runs = _mixed(owner, tmp_path, 7)
    checked = 0
    for run, status in zip(runs, run_statuses(runs), strict=True):
        if run.state == S.QUEUED and not run.ready_at and run.workspace.name != "w-shared":
            assert status["blocking_reason"] == "you already have 1 runs under way (the limit is 1)"
            assert status["blocking_reason"] == blocking_reason_for(run)
            checked += 1
    assert checked, "no run was held back by the cap alone: the scenario does not test the cap"


def test_query_count_does_not_grow_with_runs(owner, other_user, tmp_path):
    small = _mixed(owner, tmp_path, 5, prefix="a")
    with CaptureQueriesContext(connection) as few:
        run_statuses(small)
    large = _mixed(other_user, tmp_path, 20, prefix="b")
    with CaptureQueriesContext(connection) as many:
        run_statuses(large)
    assert len(many) == len(few) <= 5


def test_switcher_entries_read_in_constant_queries(owner, other_user, tmp_path):
    _mixed(owner, tmp_path, 5, prefix="a")
    _mixed(other_user, tmp_path, 18, prefix="b")
    with CaptureQueriesContext(connection) as few:
        small = switcher_entries(owner=owner)
    with CaptureQueriesContext(connection) as many:
        large = switcher_entries(owner=other_user)
    assert len(small) == 5 and len(large) == 18
    assert len(many) == len(few)
    # The newest real event of each run is the one shown (run_create wrote "queued" events).
    for entry in large:
        newest = entry["run"].events.order_by("-seq").first()
        assert entry["latest"] == newest


def test_a_status_from_steps_just_read_is_the_same_without_reading_them_again(owner, tmp_path):
    from tasks.models import StepExecution
    from tasks.selectors.runs import run_status, run_steps

    run = _mixed(owner, tmp_path, 5)[0]
    StepExecution.objects.filter(run=run, step_id="w").update(status=StepExecution.Status.SUCCEEDED)
    TaskRun.objects.filter(pk=run.pk).update(current_step_id="v")
    run.refresh_from_db()
    steps = run_steps(run=run)
    with CaptureQueriesContext(connection) as given:
        from_steps = run_status(run=run, steps=steps)
    with CaptureQueriesContext(connection) as read:
        assert run_status(run=run) == from_steps
    assert from_steps["steps_done"] == 1 and from_steps["current_step_title"] == "Check it"
    assert len(given) == len(read) - 1, "the steps are not read again"
