"""Settings parsing: good values parse, bad values stop start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from command_site.env import env_bool, env_int, env_list, env_path, env_paths, load_env_file

BASE_DIR = Path(__file__).resolve().parents[2]


def test_env_bool_accepts_common_spellings(monkeypatch):
    for raw, expected in [("1", True), ("TRUE", True), ("on", True), ("no", False), ("0", False)]:
        monkeypatch.setenv("X_FLAG", raw)
        assert env_bool("X_FLAG", not expected) is expected
    monkeypatch.delenv("X_FLAG")
    assert env_bool("X_FLAG", True) is True


def test_env_bool_rejects_garbage_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", False)


def test_env_int_bounds(monkeypatch):
    monkeypatch.setenv("X_NUM", "12")
    assert env_int("X_NUM", 1, minimum=1, maximum=20) == 12
    monkeypatch.setenv("X_NUM", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_NUM must be a whole number"):
        env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("X_NUM", 1, minimum=1)


def test_env_list_and_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("X_LIST", " a, b ,,c ")
    assert env_list("X_LIST") == ["a", "b", "c"]
    monkeypatch.setenv("X_PATHS", f"{tmp_path}/one,{tmp_path}/two")
    assert env_paths("X_PATHS", []) == [tmp_path / "one", tmp_path / "two"]
    monkeypatch.setenv("X_PATHS", "relative/path")
    with pytest.raises(ImproperlyConfigured, match="X_PATHS entries must be absolute"):
        env_paths("X_PATHS", [])
    monkeypatch.setenv("X_PATH", "not/absolute")
    with pytest.raises(ImproperlyConfigured, match="X_PATH must be an absolute path"):
        env_path("X_PATH", tmp_path)


def test_env_file_does_not_override_the_environment(monkeypatch, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nX_FROM_FILE='quoted value'\nX_ALREADY=file\n")
    monkeypatch.setenv("X_ALREADY", "environment")
    monkeypatch.delenv("X_FROM_FILE", raising=False)
    load_env_file(env_file)
    assert os.environ["X_FROM_FILE"] == "quoted value"
    assert os.environ["X_ALREADY"] == "environment"
    env_file.write_text("NOT A PAIR\n")
    with pytest.raises(ImproperlyConfigured, match="line 1"):
        load_env_file(env_file)


def _start(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    """Load the settings in a fresh interpreter, as start-up does."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "command_site.settings",
        "COMMAND_ENV_FILE": "",
        "SECRET_KEY": "x" * 50,
        "COMMAND_DATA_DIR": os.environ.get("COMMAND_DATA_DIR", str(BASE_DIR / "var")),
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_startup_succeeds_with_defaults():
    result = _start({})
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"COMMAND_Q_TIMEOUT": "120", "COMMAND_Q_RETRY": "60"},
            "COMMAND_Q_TIMEOUT (120s) must be shorter than ",
        ),
        ({"COMMAND_Q_TIMEOUT": "60", "COMMAND_Q_RETRY": "60"}, "must be shorter than COMMAND_Q_RETRY"),
        ({"DEBUG": "perhaps"}, "DEBUG must be a boolean"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"DATABASE_URL": "mysql://root@127.0.0.1/x"}, "DATABASE_URL must point at SQLite or PostgreSQL"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL must start with redis://"),
        ({"PORT": "eighty"}, "PORT must be a whole number"),
        ({"COMMAND_WORKERS": "0"}, "COMMAND_WORKERS must be at least 1"),
        ({"COMMAND_STORAGE": "ftp"}, "COMMAND_STORAGE must be one of"),
        ({"CSRF_TRUSTED_ORIGINS": "example.com"}, "CSRF_TRUSTED_ORIGINS entries must start with http"),
        ({"COMMAND_GITHUB_CLIENT_ID": "abc"}, "COMMAND_GITHUB_CLIENT_SECRET"),
        ({"COMMAND_OIDC_SERVER_URL": "http://127.0.0.1:1"}, "COMMAND_OIDC_CLIENT_ID"),
        (
            {"COMMAND_UPLOAD_MAX_BYTES": str(50 * 1024 * 1024), "COMMAND_UPLOAD_REQUEST_MAX_BYTES": "1048576"},
            "COMMAND_UPLOAD_REQUEST_MAX_BYTES (1048576) must be at least COMMAND_UPLOAD_MAX_BYTES",
        ),
        ({"COMMAND_REQUEST_MAX_BYTES": "1000"}, "COMMAND_REQUEST_MAX_BYTES must be at least 65536"),
        ({"COMMAND_SESSION_IDLE_SECONDS": "soon"}, "COMMAND_SESSION_IDLE_SECONDS must be a whole number"),
    ],
)
def test_startup_refuses_bad_values_naming_the_variable(overrides, message):
    result = _start(overrides)
    assert result.returncode != 0
    assert message in result.stderr


def test_debug_gives_a_development_key():
    result = _start({"SECRET_KEY": "", "DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_system_check_refuses_unsafe_cluster(settings):
    from command_site.checks import q_cluster_is_safe

    assert q_cluster_is_safe(None) == []
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 100, "retry": 90}
    errors = q_cluster_is_safe(None)
    assert [e.id for e in errors] == ["command.E002"]
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 10, "retry": 90, "max_attempts": 0}
    assert [e.id for e in q_cluster_is_safe(None)] == ["command.E003"]


def test_sqlite_default_is_tuned_for_several_processes(settings, db):
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("embedded default only")
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
