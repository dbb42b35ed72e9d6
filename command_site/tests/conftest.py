"""A real web process (command_site.web: daphne) for the site-level security tests: origins,
request sizes, what reaches the log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from command_site.testing import daphne_command, free_port, process_env, spawn, stop_process, wait_until_answering


@dataclass
class Web:
    url: str
    pid: int
    log: Path
    outbox: Path

    def peak_memory_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM for the web process")


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker, tmp_path_factory):
    """The web process on this run's test database for the whole module, its log and outbox."""
    folder = tmp_path_factory.mktemp("web")
    port = free_port()
    env = process_env(
        COMMAND_TAIL_INTERVAL="0.2",
        COMMAND_OUTBOX_DIR=str(folder / "outbox"),
        EMAIL_BACKEND="command_site.mail.OutboxEmailBackend",
        LOG_LEVEL="info",
    )
    with django_db_blocker.unblock(), open(folder / "web.log", "wb") as out:
        proc = spawn(daphne_command(port), env=env, out=out)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_answering(proc, url)
            yield Web(url=url, pid=proc.pid, log=folder / "web.log", outbox=folder / "outbox")
        finally:
            stop_process(proc)


@pytest.fixture(scope="module")
def daphne_url(web):
    return web.url
