"""`/health`: 200 only when database, channel layer, worker and storage all answer."""

from __future__ import annotations

import pytest

from command_site import health
from command_site.testing import wait_for, worker_process


@pytest.mark.django_db(transaction=True)
def test_health_is_503_naming_the_worker_when_none_runs(anon_client):
    response = anon_client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["failing"] == ["worker"]
    assert "make worker" in body["checks"]["worker"]["detail"]
    for name in ("database", "channel_layer", "storage"):
        assert body["checks"][name]["ok"], body["checks"][name]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_health_is_200_with_a_real_worker_running(anon_client, tmp_path):
    with worker_process(log_path=tmp_path / "worker.log"):
        response = wait_for(
            lambda: (r := anon_client.get("/health")).status_code == 200 and r,
            timeout=40,
            message="the worker heartbeat to appear in /health",
        )
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["worker"]["ok"]
    assert "1 cluster(s)" in body["checks"]["worker"]["detail"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_check_makes_health_503_and_names_it(anon_client, monkeypatch):
    monkeypatch.setitem(health.CHECKS, "worker", lambda: (True, "pretend"))
    monkeypatch.setitem(health.CHECKS, "storage", lambda: (False, "disk is read-only"))
    response = anon_client.get("/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["storage"]
    assert response.json()["checks"]["storage"]["detail"] == "disk is read-only"


@pytest.mark.django_db(transaction=True)
def test_database_check_reports_a_broken_connection(monkeypatch):
    from django.db import connection

    def broken_cursor(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    ok, detail = health.check_database()
    assert not ok
    assert "connection refused" in detail


def test_storage_check_writes_and_reads_real_bytes(db, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    ok, detail = health.check_storage()
    assert ok, detail
    assert list(tmp_path.rglob("*.txt")) == []  # the probe cleans up after itself


def test_the_cloud_layout_says_plainly_that_workspaces_are_off(owner_client, anon_client, settings, tmp_path):
    from django.conf import settings as live

    # cloudbuild.yaml deploys web and worker with no shared disk: both say workspaces are off.
    deploy = (live.BASE_DIR / "cloudbuild.yaml").read_text()
    env_lines = [line for line in deploy.splitlines() if "--set-env-vars=" in line]
    assert len(env_lines) == 2 and all("COMMAND_WORKSPACES=false" in line for line in env_lines)

    settings.COMMAND_WORKSPACES = False
    body = anon_client.get("/health").json()
    assert body["checks"]["workspaces"] == {
        "ok": True,
        "detail": "off in this deployment: web and workers share no disk, so project folders are not offered",
    }
    page = owner_client.get("/workspaces/").content.decode()
    assert "Workspaces are off in this deployment" in page and "Create folder" not in page
    before = sorted(p.name for p in tmp_path.iterdir())
    refused = owner_client.post("/workspaces/", {"action": "create", "create-name": "Acme site"})
    assert refused.status_code == 400 and "Workspaces are off in this deployment" in refused.content.decode()
    from workspaces.models import Workspace

    assert not Workspace.objects.exists() and sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.django_db(transaction=True)
def test_a_part_that_does_not_answer_is_named_failing_within_the_bound(anon_client, monkeypatch):
    import threading
    import time

    release = threading.Event()
    monkeypatch.setattr(health, "CHECK_SECONDS", 0.5)
    monkeypatch.setitem(health.CHECKS, "worker", lambda: (True, "pretend"))
    monkeypatch.setitem(health.CHECKS, "database", lambda: (release.wait(10), "answered late"))
    started = time.monotonic()
    try:
        response = anon_client.get("/health")
    finally:
        release.set()
    assert time.monotonic() - started < 5, "an outage is reported promptly"
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["checks"]["database"]["detail"] == "no answer within 0.5 s"


def test_a_fresh_install_is_healthy_before_its_first_workspace_and_a_missing_extra_root_is_not(
    anon_client, settings, tmp_path
):
    # make run on a fresh clone: the first root (where new folders are made) does not exist yet.
    first, extra = tmp_path / "data" / "workspaces", tmp_path / "elsewhere"
    settings.COMMAND_WORKSPACE_ROOTS = [first]
    check = anon_client.get("/health").json()["checks"]["workspaces"]
    assert check["ok"] and "is made with the first new folder" in check["detail"]
    assert not first.exists(), "a health check does not make folders"

    settings.COMMAND_WORKSPACE_ROOTS = [first, extra]
    check = anon_client.get("/health").json()["checks"]["workspaces"]
    assert not check["ok"] and str(extra) in check["detail"] and str(first) not in check["detail"]
