"""Test plumbing shared by every app: real worker and daphne processes on the test database.

Lives outside `tests/` because several apps' suites use it; nothing here runs in production.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent


def database_url_for_processes() -> str:
    """A DATABASE_URL that points another process at the database this test run uses."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def process_env(**overrides: str) -> dict[str, str]:
    """The environment for a subprocess: the test database, and the test's workspace roots."""
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        {
            "DATABASE_URL": database_url_for_processes(),
            "COMMAND_WORKSPACE_ROOTS": ",".join(str(p) for p in settings.COMMAND_WORKSPACE_ROOTS),
            "COMMAND_SNAPSHOT_DIR": str(settings.COMMAND_SNAPSHOT_DIR),
            "COMMAND_ENV_FILE": "",
            "DJANGO_SETTINGS_MODULE": "command_site.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_cookie(user) -> str:
    """A signed-in session for `user` in the database (the value of the session cookie), for
    clients outside Django's test client: websockets, httpx, a browser context."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    s = SessionStore()
    s[SESSION_KEY] = str(user.pk)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = user.get_session_auth_hash()
    s.create()
    return s.session_key


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM to the process itself, then SIGKILL to whatever is left of its group.

    Only the leader is asked: a qcluster whose children get SIGTERM too does not stop (its
    sentinel dies at once and the cluster waits for it until killed), while a SIGTERM to the
    cluster alone stops it in under a second when it is idle."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


QCLUSTER_COMMAND = [sys.executable, "manage.py", "qcluster"]


def daphne_command(port: int, app: str = "command_site.asgi:application") -> list[str]:
    # The product's web process: daphne with the body limit and the redacted access log.
    return [sys.executable, "-m", "command_site.web", "-b", "127.0.0.1", "-p", str(port), app]


def spawn(args: list[str], *, env: dict[str, str], out) -> subprocess.Popen:
    """A child process of the repository in its own session (so stop_process reaches its children)."""
    return subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_until_answering(proc: subprocess.Popen, base_url: str, *, timeout: float = 30, log_hint: str = "") -> None:
    """Block until the server at `base_url` answers HTTP; fail if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"daphne exited with {proc.returncode} before answering{log_hint}")
        try:
            httpx.get(f"{base_url}/roadmap/", timeout=2)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"daphne did not answer within {timeout:.0f} s{log_hint}") from None
            time.sleep(0.2)


@contextlib.contextmanager
def worker_process(log_path: Path | None = None, **env: str) -> Iterator[subprocess.Popen]:
    """A real `manage.py qcluster` on the test database, stopped (SIGTERM, then SIGKILL) at exit."""
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = spawn(QCLUSTER_COMMAND, env=process_env(**env), out=out)
    try:
        yield proc
    finally:
        stop_process(proc)
        if log_path:
            out.close()


@contextlib.contextmanager
def daphne_process(log_path: Path | None = None, **env: str) -> Iterator[str]:
    """A real daphne serving Command on 127.0.0.1; yields its base URL once it answers."""
    port = free_port()
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = spawn(daphne_command(port), env=process_env(**env), out=out)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(proc, base_url)
        yield base_url
    finally:
        stop_process(proc)
        if log_path:
            out.close()


def processes_with(token: str) -> list[int]:
    """Live processes of this machine (whatever PID namespace they run in) whose command line holds
    `token`: what a test or the fault suite looks for to see a command really gone."""
    from command_site.lease_watchdog import alive

    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline and alive(int(entry)):
            found.append(int(entry))
    return found


def stamped_times(path: Path) -> list[float]:
    """The times a test command stamped into `path`, one per line (none while it does not exist)."""
    return [float(line) for line in path.read_text().split()] if path.exists() else []


def wait_for(predicate, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail with `message` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


# Debian's Chromium through Playwright (never a downloaded browser); the flags keep it off the
# network, which this machine does not have anyway.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def chromium_browser():
    """A headless Chromium for the duration of the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
