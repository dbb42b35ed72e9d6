"""A command's full stored log downloads as plain text, for the run's owner only."""

from __future__ import annotations

from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.dispatch import run_create
from tasks.tests.engine_support import make_task, make_workspace, step


def test_the_full_log_downloads_for_its_owner_only(owner, other_user, client, tmp_path):
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    run = run_create(task=make_task(owner, ws, [step("cmd", ActionType.RUN_COMMAND, "Run", command="seq 1 500")]))
    jobs.dispatch_next()
    started = run.events.get(kind="command.started")
    execution_id = started.payload["command_execution_id"]
    url = f"/run/{run.pk}/commands/{execution_id}/output.log"
    client.force_login(other_user)
    assert client.get(url).status_code == 404
    client.force_login(owner)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert response.content.decode().splitlines() == [str(i) for i in range(1, 501)]
    assert "attachment" in response["Content-Disposition"]
