"""The operator workspace pages and partials: /command/, the thread, the switcher, polled rows,
and the task record's timeline — with the owner / other user / anonymous personas."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from providers.contracts import ActionType
from tasks.engine.dispatch import run_create
from tasks.models import StepExecution, TaskRun, WorkstreamEvent
from tasks.tests.engine_support import make_task, make_workspace, step

pytestmark = pytest.mark.django_db


def _run(owner, tmp_path, name="site", prompt="run the build"):
    ws = make_workspace(owner, tmp_path / name, name=name)
    task = make_task(
        owner,
        ws,
        [
            step("build", ActionType.RUN_COMMAND, "Build the site", command="echo built"),
            step("check", ActionType.RUN_COMMAND, "Check it", command="true"),
        ],
        prompt=prompt,
    )
    return run_create(task=task)


def test_anonymous_visitors_are_sent_to_sign_in(anon_client, owner, tmp_path):
    run = _run(owner, tmp_path)
    for url in ["/command/", f"/command/{run.task_id}/", "/command/switcher/", f"/run/{run.pk}/events/"]:
        response = anon_client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_another_users_thread_and_rows_do_not_exist_for_them(other_client, owner, tmp_path):
    run = _run(owner, tmp_path)
    assert other_client.get(f"/command/{run.task_id}/").status_code == 404
    assert other_client.get(f"/run/{run.pk}/events/?after=0").status_code == 404
    switcher = other_client.get("/command/switcher/").content.decode()
    assert run.reference not in switcher and "No runs right now" in switcher
    home = other_client.get("/command/").content.decode()
    assert run.task.title not in home


def test_empty_workspace_says_what_to_do(owner_client):
    page = owner_client.get("/command/").content.decode()
    assert 'ws-connect="/ws/workstream/"' in page
    assert "No runs right now" in page
    assert "No threads yet" in page
    assert "Add a workspace" in page


def test_thread_shows_prompt_plan_steps_rows_and_the_live_hooks(owner_client, owner, tmp_path):
    run = _run(owner, tmp_path, prompt="run the build please")
    page = owner_client.get(f"/command/{run.task_id}/?run={run.pk}").content.decode()
    assert "run the build please" in page
    assert f'id="run-{run.pk}"' in page and "is-focused" in page
    # Live plan-step status, with stable ids the socket replaces.
    assert f'id="run-steps-{run.pk}"' in page and f'id="run-step-{run.pk}-build"' in page
    # The first event (run.queued) is rendered with its seq: the cursor the browser sends.
    assert f'id="workstream-{run.pk}"' in page and 'data-seq="1"' in page
    assert f"{run.reference} queued with 2 steps" in page
    assert 'aria-live="polite"' in page
    # Polling fallback only while the socket is closed.
    assert f"/run/{run.pk}/events/" in page and 'data-poll-unless="socket"' in page
    # Run controls where the run is shown.
    assert f"/run/{run.pk}/pause/" in page and f"/run/{run.pk}/stop/" in page


def test_polled_rows_come_after_the_cursor_as_the_same_oob_partial(owner_client, owner, tmp_path):
    run = _run(owner, tmp_path)
    for seq in (2, 3):
        WorkstreamEvent.objects.create(run=run, seq=seq, kind="note", status="info", title=f"Row {seq}")
    html = owner_client.get(f"/run/{run.pk}/events/?after=1").content.decode()
    assert f'id="workstream-{run.pk}" hx-swap-oob="beforeend"' in html
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', html)] == [2, 3]
    assert f'id="narration-{run.pk}" class="wsr-narration" hx-swap-oob="true"' in html
    # The plan's live step status and the task's badge travel with the rows.
    assert f'id="run-steps-{run.pk}" class="run-steps" aria-label="Steps of {run.reference}" hx-swap-oob="true"' in html
    assert f'id="task-status-{run.task_id}" class="badge status-queued" hx-swap-oob="true"' in html
    assert (
        f'id="run-status-{run.pk}" class="card run-status" aria-labelledby="run-title-{run.pk}" hx-swap-oob="true"'
        in html
    )
    assert owner_client.get(f"/run/{run.pk}/events/?after=3").content == b""
    assert owner_client.get(f"/run/{run.pk}/events/?after=nonsense").status_code == 200


def test_switcher_shows_queue_position_reason_progress_and_deep_links(owner_client, owner, tmp_path):
    first = _run(owner, tmp_path, name="alpha")
    second = run_create(task=first.task.__class__.objects.get(pk=first.task_id))  # same workspace, queued behind
    TaskRun.objects.filter(pk=first.pk).update(state="running", current_step_id="build")
    StepExecution.objects.filter(run=first, step_id="build").update(status="running")
    StepExecution.objects.filter(run=first, step_id="check").update(status="pending")
    html = owner_client.get("/command/switcher/").content.decode()
    assert first.reference in html and second.reference in html
    assert f"/command/{first.task_id}/?run={first.pk}#run-step-{first.pk}-build" in html
    assert "0 of 2 steps" in html
    # Run controls where the run is shown, here too.
    assert f'hx-post="/run/{first.pk}/pause/"' in html and f'hx-post="/run/{second.pk}/stop/"' in html
    entry = html[html.index(f'id="switcher-run-{second.pk}"') :]
    assert "Queue position" in entry
    assert f"Behind {first.reference} on the same workspace" in entry


def test_switcher_keeps_recently_finished_runs_and_drops_old_ones(owner_client, owner, tmp_path):
    recent = _run(owner, tmp_path, name="a")
    old = _run(owner, tmp_path, name="b")
    now = timezone.now()
    TaskRun.objects.filter(pk=recent.pk).update(state="completed", finished_at=now)
    TaskRun.objects.filter(pk=old.pk).update(state="failed", finished_at=now - timedelta(days=2))
    html = owner_client.get("/command/switcher/").content.decode()
    assert recent.reference in html and old.reference not in html
    # One notice, about the latest notable change.
    assert html.count('class="notice ') == 1


def test_task_record_has_the_replayable_timeline(owner_client, owner, tmp_path):
    run = _run(owner, tmp_path)
    WorkstreamEvent.objects.create(run=run, seq=2, kind="step.started", status="running", title="Started the build")
    page = owner_client.get(f"/task/{run.task_id}/").content.decode()
    assert 'id="timeline"' in page and "data-replay-list" in page and 'data-replay="next"' in page
    assert page.index(f"{run.reference} queued") < page.index("Started the build")
    assert "No approvals were asked for." in page
    assert "No file changes recorded." in page


def test_rows_speak_in_the_tasks_tone(owner_client, owner, tmp_path):
    run = _run(owner, tmp_path)
    WorkstreamEvent.objects.create(run=run, seq=2, kind="step.succeeded", status="success", title="Built")
    run.task.__class__.objects.filter(pk=run.task_id).update(tone="friendly")
    assert "All good" in owner_client.get(f"/command/{run.task_id}/").content.decode()
    run.task.__class__.objects.filter(pk=run.task_id).update(tone="professional")
    page = owner_client.get(f"/command/{run.task_id}/").content.decode()
    assert "All good" not in page and ">Done<" in page


def test_raw_command_output_is_kept_collapsible_not_the_headline(owner_client, owner, tmp_path):
    run = _run(owner, tmp_path)
    WorkstreamEvent.objects.create(
        run=run,
        seq=2,
        kind="command.output",
        title="Command output",
        command="echo built",
        payload={"text": "built\n", "truncated": True},
    )
    page = owner_client.get(f"/command/{run.task_id}/").content.decode()
    assert '<details class="wsr-output"><summary>Raw output (truncated)</summary><pre>built\n</pre></details>' in page


def test_a_long_thread_shows_its_newest_rows_and_points_to_the_record(owner_client, owner, tmp_path, monkeypatch):
    from tasks import selectors

    monkeypatch.setattr(selectors, "THREAD_ROWS", 3)
    run = _run(owner, tmp_path)
    for seq in range(2, 7):
        WorkstreamEvent.objects.create(run=run, seq=seq, kind="note", title=f"Row {seq}")
    page = owner_client.get(f"/command/{run.task_id}/").content.decode()
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', page)] == [4, 5, 6]
    assert "3 earlier rows · all of them in" in page and "Show earlier rows" in page
    record = owner_client.get(f"/task/{run.task_id}/").content.decode()
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', record)] == [1, 2, 3, 4, 5, 6]


def test_a_planned_thread_checks_back_for_its_run_and_gets_only_that_part(owner_client, owner, tmp_path):
    ws = make_workspace(owner, tmp_path / "w", name="w")
    task = make_task(owner, ws, [step("a", ActionType.RUN_COMMAND, "Say hi", command="echo hi")])
    task.__class__.objects.filter(pk=task.pk).update(status="planned")
    page = owner_client.get(f"/command/{task.pk}/").content.decode()
    assert 'id="thread-runs"' in page and 'hx-trigger="every 3s"' in page
    assert "Start the run" in page
    run = run_create(task=task)
    part = owner_client.get(f"/command/{task.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="thread-runs")
    html = part.content.decode()
    assert '<div id="thread-runs"' in html
    assert f'id="workstream-{run.pk}"' in html and "<html" not in html
    # Once a run exists the part stops checking back.
    assert 'hx-trigger="every 3s"' not in html.split(f'id="run-{run.pk}"')[0]
