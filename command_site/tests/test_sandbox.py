"""The sandbox probe says honestly whether commands run sandboxed: on, missing, refused, or turned off."""

from __future__ import annotations

import stat

import pytest

from command_site import sandbox
from command_site.checks import commands_are_sandboxed


@pytest.fixture(autouse=True)
def _fresh_probe():
    sandbox._status_cache.clear()
    yield
    sandbox._status_cache.clear()


def test_on_this_machine_commands_run_in_the_sandbox(settings):
    settings.COMMAND_SANDBOX = "on"
    status = sandbox.sandbox_status()
    assert status.sandboxed, status.detail
    assert status.label == "runs in a sandbox"
    assert commands_are_sandboxed(None) == []


def test_missing_bubblewrap_means_unsandboxed_with_the_fix(settings, monkeypatch):
    settings.COMMAND_SANDBOX = "on"
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    status = sandbox.sandbox_status()
    assert not status.sandboxed and status.label == "runs unsandboxed"
    assert "not installed" in status.detail and "bubblewrap" in status.detail
    [warning] = commands_are_sandboxed(None)
    assert warning.id == "command.W010" and "apt-get install bubblewrap" in warning.hint


def test_a_bubblewrap_that_cannot_create_namespaces_means_unsandboxed(settings, monkeypatch, tmp_path):
    """Some containers refuse user namespaces: the probe runs a real (failing) bwrap and says why."""
    settings.COMMAND_SANDBOX = "on"
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: str(fake))
    status = sandbox.sandbox_status()
    assert not status.sandboxed
    assert "cannot create its namespaces here (bwrap: No permissions to create new namespace)" in status.detail


def test_turned_off_explicitly(settings):
    settings.COMMAND_SANDBOX = "off"
    status = sandbox.sandbox_status()
    assert not status.sandboxed and "COMMAND_SANDBOX=off" in status.detail


@pytest.mark.django_db
def test_health_reports_the_sandbox_either_way(anon_client, settings):
    settings.COMMAND_SANDBOX = "on"
    assert anon_client.get("/health").json()["sandbox"] == {
        "sandboxed": True,
        "commands": "runs in a sandbox",
        "detail": sandbox.sandbox_status().detail,
    }
    settings.COMMAND_SANDBOX = "off"
    report = anon_client.get("/health").json()["sandbox"]
    assert report["sandboxed"] is False and report["commands"] == "runs unsandboxed"


def test_a_cwd_outside_the_workspace_is_refused(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    with pytest.raises(ValueError, match="not inside the workspace"):
        sandbox.sandbox_launch("ls", workspace=ws, cwd=tmp_path)


def test_the_environment_inside_is_only_plain_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "leak-me")
    ws = tmp_path / "ws"
    ws.mkdir()
    launch = sandbox.sandbox_launch("env", workspace=ws, cwd=ws)
    try:
        assert launch.env == {"PATH": sandbox.PATH_INSIDE}
        assert "leak-me" not in " ".join(launch.argv)
        assert "--unshare-net" in launch.argv and "--unshare-pid" in launch.argv
    finally:
        launch.cleanup()


def _run(command: str, ws):
    import subprocess

    launch = sandbox.sandbox_launch(command, workspace=ws, cwd=ws)
    try:
        return subprocess.run(launch.argv, env=launch.env, cwd="/", capture_output=True, text=True, timeout=30)
    finally:
        launch.cleanup()


def test_each_workspace_has_its_own_home_that_lasts_between_commands(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    assert _run("echo kept > ~/marker && echo $npm_config_cache $PIP_CACHE_DIR", one).stdout.split() == [
        "/home/command/.npm",
        "/home/command/.cache/pip",
    ]
    assert _run("cat ~/marker", one).stdout == "kept\n"
    assert _run("cat ~/marker", two).returncode != 0
    assert (sandbox.sandbox_home(one) / "marker").read_text() == "kept\n"
    assert not list(one.iterdir())  # the home is not inside the workspace
