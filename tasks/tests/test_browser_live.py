"""The live operator workspace in real Chromium against daphne and a real worker process:
runs side by side in the switcher, a queued run's position and reason, a dropped websocket that
replays exactly what it missed, and another user who sees none of it."""

from __future__ import annotations

import json
import time

from providers.contracts import ActionType
from tasks.engine.dispatch import run_create
from tasks.models import TaskRun, WorkstreamEvent
from tasks.tests import browser
from tasks.tests.browser import browser_marks, live, row_seqs, signed_in_page, wait_for
from tasks.tests.engine_support import make_task, make_workspace, step

pytestmark = browser_marks
# The module-scoped stack (daphne + worker) and browser, shared by this module's tests.
stack = browser.stack
chromium = browser.chromium
audited = browser.audited


def _commands(*commands: str):
    return [
        step(f"s{i}", ActionType.RUN_COMMAND, f"Run step {i}: {c.split()[0]}", command=c)
        for i, c in enumerate(commands, start=1)
    ]


def _allow_commands(owner) -> None:
    """These tests are about delivery, not approvals: the owner allows commands everywhere."""
    from approvals.services.memory import approval_preference_set

    approval_preference_set(
        owner=owner,
        category="run_command",
        scope="everywhere",
        decision="allow",
        command_allowlist=[
            "sleep 3",
            "sleep 1",
            "sleep 0.6",
            "echo alpha",
            "echo beta",
            "echo third",
            "echo finished",
            "echo private",
        ],
    )


def _story(*runs) -> str:
    """What the database says happened, for a failure message."""
    lines = []
    for run in runs:
        run.refresh_from_db()
        titles = list(WorkstreamEvent.objects.filter(run=run).order_by("seq").values_list("title", flat=True))
        lines.append(f"{run.reference} {run.state} {run.state_reason!r}: {titles}")
    return "\n".join(lines)


def _state(page, run_id: int) -> str:
    return page.get_attribute(f"#switcher-run-{run_id}", "data-state") or ""


def _finished_with_every_row(page, run) -> bool:
    """The run completed and the page shows each of its rows once, in order."""
    stored = list(WorkstreamEvent.objects.filter(run=run).values_list("seq", flat=True))
    return TaskRun.objects.get(pk=run.pk).state == "completed" and row_seqs(page, run.pk) == stored


def test_two_runs_side_by_side_and_a_third_waits_its_turn(stack, chromium, owner):
    alpha = make_workspace(owner, stack.roots / "alpha", name="alpha")
    beta = make_workspace(owner, stack.roots / "beta", name="beta")
    _allow_commands(owner)
    page = signed_in_page(chromium, stack, owner)
    page.goto(stack.url + "/command/")
    live(page)
    page.evaluate("window.__noReload = true")

    first = run_create(task=make_task(owner, alpha, _commands("sleep 3", "echo alpha"), prompt="build alpha"))
    second = run_create(task=make_task(owner, beta, _commands("sleep 3", "echo beta"), prompt="build beta"))
    third = run_create(task=make_task(owner, alpha, _commands("echo third"), prompt="tidy alpha"))

    # The third run is queued behind the first on the same workspace, and says so.
    page.wait_for_selector(f"#switcher-run-{third.pk} .switcher-reason", timeout=15_000)
    page.wait_for_function(
        f"document.querySelector('#switcher-run-{third.pk}').textContent.includes('Behind {first.reference}')",
        timeout=15_000,
    )
    assert "Queue position" in page.inner_text(f"#switcher-run-{third.pk}")
    # Controls work from the switcher, and the entry follows live.
    page.click(f"#switcher-run-{third.pk} button:has-text('Pause')")
    wait_for(lambda: _state(page, third.pk) == "paused", timeout=10, message="the paused entry")
    assert "Paused by you" in page.inner_text(f"#switcher-run-{third.pk}")
    page.click(f"#switcher-run-{third.pk} button:has-text('Resume')")
    wait_for(lambda: _state(page, third.pk) != "paused", timeout=10, message="the resumed entry")
    # Both others run at the same time, visible side by side without a reload.
    try:
        wait_for(
            lambda: _state(page, first.pk) == "running" and _state(page, second.pk) == "running",
            timeout=20,
            message="both runs shown running at once",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_story(first, second, third)}") from None
    # Then the third gets its turn and everything finishes, still without a reload.
    wait_for(
        lambda: all(_state(page, r.pk) == "completed" for r in (first, second, third)),
        timeout=40,
        message="all three runs completed in the switcher",
    )
    assert page.evaluate("window.__noReload") is True
    assert TaskRun.objects.get(pk=third.pk).started_at >= TaskRun.objects.get(pk=first.pk).finished_at
    # Progress is steps done / total; the one notice names the latest finished run.
    assert "2 of 2 steps" in page.inner_text(f"#switcher-run-{first.pk}")
    assert page.locator("#switcher-notice .notice").count() == 1
    # Deep link to the exact run.
    page.click(f"#switcher-run-{second.pk} a")
    page.wait_for_url(f"**/command/{second.task_id}/?run={second.pk}#run-{second.pk}")
    assert page.locator(f"#run-{second.pk}.is-focused").count() == 1
    page.context.close()


def test_a_dropped_socket_replays_the_missed_rows_once_in_order(stack, chromium, owner):
    _allow_commands(owner)
    ws = make_workspace(owner, stack.roots / "gamma", name="gamma")
    run = run_create(
        task=make_task(owner, ws, _commands(*["sleep 0.6"] * 8, "echo finished"), prompt="slow and steady")
    )
    page = signed_in_page(chromium, stack, owner)
    sockets = []

    def route(ws_route):
        if page.evaluate("window.__socketBlocked === true") if sockets else False:
            ws_route.close(code=1012, reason="down for the test")
            return
        ws_route.connect_to_server()
        sockets.append(ws_route)

    page.route_web_socket("**/ws/workstream/", route)
    # Keep the polling fallback out of it: this test is about the socket's own replay.
    page.route("**/run/*/events/**", lambda r: r.abort())
    page.goto(f"{stack.url}/command/{run.task_id}/")
    live(page)
    wait_for(lambda: len(row_seqs(page, run.pk)) >= 4, timeout=20, message="the first rows to arrive live")

    page.evaluate("window.__socketBlocked = true")
    sockets[-1].close(code=1012, reason="service restart")
    page.wait_for_function("window.commandSocketOpen === false")
    seen_at_drop = max(row_seqs(page, run.pk))
    wait_for(
        lambda: WorkstreamEvent.objects.filter(run=run, seq__gt=seen_at_drop + 3).exists(),
        timeout=20,
        message="rows written while the socket is down",
    )
    assert max(row_seqs(page, run.pk)) == seen_at_drop, "nothing arrives while the socket is down"
    page.evaluate("window.__socketBlocked = false")
    live(page)
    wait_for(
        lambda: _finished_with_every_row(page, run),
        timeout=30,
        message="every row once, in order, after reconnecting",
    )
    seqs = row_seqs(page, run.pk)
    assert seqs == list(range(1, len(seqs) + 1)) and len(set(seqs)) == len(seqs)
    assert len(sockets) >= 2
    page.context.close()


def test_another_user_sees_none_of_it(stack, chromium, owner, other_user):
    _allow_commands(owner)
    ws = make_workspace(owner, stack.roots / "delta", name="delta")
    run = run_create(task=make_task(owner, ws, _commands("sleep 1", "echo private"), prompt="private work"))
    page = signed_in_page(chromium, stack, other_user)
    page.goto(stack.url + "/command/")
    live(page)
    # Pages and partials: not found, not listed.
    assert page.goto(f"{stack.url}/command/{run.task_id}/").status == 404
    assert page.goto(f"{stack.url}/task/{run.task_id}/").status == 404
    assert page.request.get(f"{stack.url}/run/{run.pk}/events/?after=0").status == 404
    assert page.request.get(f"{stack.url}/run/{run.pk}/status/").status == 404
    assert run.reference not in page.request.get(f"{stack.url}/command/switcher/").text()
    # The socket: a hand-made subscription to the owner's run gets a refusal and no rows.
    page.goto(stack.url + "/command/")
    live(page)
    messages = page.evaluate(
        """([runId]) => new Promise(resolve => {
            const got = [];
            const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws/workstream/');
            const hello = {type: 'subscribe', runs: [{run: runId, after: 0}], switcher: true};
            ws.onopen = () => ws.send(JSON.stringify(hello));
            ws.onmessage = e => got.push(e.data);
            setTimeout(() => { ws.close(); resolve(got); }, 4000);
        })""",
        [run.pk],
    )
    wait_for(lambda: TaskRun.objects.get(pk=run.pk).state == "completed", timeout=20, message="the owner's run")
    joined = "\n".join(messages)
    assert json.dumps({"type": "error", "message": f"Run {run.pk} is not available."}) in joined
    assert "data-seq" not in joined and run.reference not in joined and "private work" not in joined
    time.sleep(1.2)  # a switcher tick after the owner's run finished
    assert run.reference not in page.inner_text("#task-switcher")
    page.context.close()


def test_without_a_websocket_the_same_partials_are_polled(stack, chromium, owner):
    _allow_commands(owner)
    ws = make_workspace(owner, stack.roots / "epsilon", name="epsilon")
    run = run_create(task=make_task(owner, ws, _commands("sleep 1", "echo alpha"), prompt="no socket here"))
    page = signed_in_page(chromium, stack, owner)
    # A proxy that refuses every websocket (close code 4000: the client does not retry).
    page.route_web_socket("**/ws/workstream/", lambda ws_route: ws_route.close(code=4000, reason="no sockets"))
    page.goto(f"{stack.url}/command/{run.task_id}/")
    at_load = len(row_seqs(page, run.pk))
    wait_for(
        lambda: _finished_with_every_row(page, run),
        timeout=30,
        message="every row once, in order, by polling",
    )
    assert len(row_seqs(page, run.pk)) > at_load, "rows arrived after the page loaded"
    assert page.evaluate("window.commandSocketOpen") is False
    assert page.inner_text("[data-live-status]") == "Live updates are off; this page checks every few seconds"
    wait_for(lambda: _state(page, run.pk) == "completed", timeout=10, message="the polled switcher")
    page.context.close()
