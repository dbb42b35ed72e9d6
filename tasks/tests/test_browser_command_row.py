"""A command is one workstream row in the browser: its output lands in that row's terminal pane,
in order, instead of one row per output batch (issue 19 item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from command_site.testing import CHROMIUM
from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.dispatch import run_create
from tasks.tests.engine_support import make_task, make_workspace, step, verify_step

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed"),
]


def test_a_commands_output_is_one_pane_in_its_own_row(transactional_db, live_server, browser_page, owner, tmp_path):
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    # Three seconds of output: several output batches (one a second), each its own event.
    command = "for i in $(seq 1 30); do printf '\\033[32mline %s\\033[0m\\n' $i; sleep 0.1; done"
    task = make_task(owner, ws, [step("cmd", ActionType.RUN_COMMAND, "Print", command=command), verify_step()])
    run = run_create(task=task)
    jobs.dispatch_next()
    batches = run.events.filter(kind="command.output").count()
    assert batches >= 2

    page = browser_page
    page.goto(live_server.url + task.get_absolute_url())
    pane = page.wait_for_selector("pre[data-terminal]")
    page.wait_for_function("document.querySelectorAll('li[data-terminal-for].is-merged').length >= 2")
    text = pane.text_content()
    assert text.splitlines() == [f"line {i}" for i in range(1, 31)]  # in order, colour codes stripped
    visible_output_rows = page.eval_on_selector_all(
        "li[data-terminal-for]", "rows => rows.filter(r => r.offsetParent !== null).length"
    )
    assert visible_output_rows == 0
    assert page.eval_on_selector_all("li[data-terminal-for]", "rows => rows.length") == batches
