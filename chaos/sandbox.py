"""Private services for the fault suite and the benchmarks: a PostgreSQL cluster and a Redis server
of their own, on free loopback ports, in a temporary folder removed at the end.

Why private: the suite restarts PostgreSQL and stops Redis on purpose. Doing that to the shared
servers would break every other developer's (and CI's) tests on the same machine; a private
cluster is restarted by the same `pg_ctl restart` that `pg_ctlcluster` runs underneath.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from command_site.testing import free_port


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not versions:
        raise RuntimeError("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed.")
    return versions[-1].parent


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    # PostgreSQL refuses to run as root; the Debian packages create a `postgres` user.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    done = subprocess.run(prefix + args, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done


class PrivatePostgres:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port, self.bin = folder, port, _pg_bin()
        self.data = folder / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        _as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.folder}'\n"
                "max_connections = 200\nshared_buffers = 64MB\n"
            )

    def _ctl(self, *args: str) -> None:
        _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-w", *args])

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> float:
        """A real server restart (fast shutdown: open connections are cut). Returns seconds down."""
        started = time.monotonic()
        self._ctl("restart", "-m", "fast")
        return time.monotonic() - started

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._ctl("stop", "-m", "immediate")

    def stop_fast(self) -> None:
        """Stop the server as an outage does (open connections are cut); `start()` brings it back."""
        self._ctl("stop", "-m", "fast")

    def create_database(self, name: str) -> str:
        _as_postgres([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name])
        return self.database_url(name)


class PrivateRedis:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError("the private redis-server did not answer within 10 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@contextlib.contextmanager
def private_services(
    *, postgres: bool = True, redis: bool = True, prefix: str = "command-sandbox-"
) -> Iterator[tuple[PrivatePostgres | None, PrivateRedis | None, Path]]:
    """A private PostgreSQL cluster and Redis server (each optional) and a scratch folder."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)  # the postgres user must be able to reach its data folder
    pg = PrivatePostgres(folder / "pg", free_port()) if postgres else None
    rd = PrivateRedis(folder / "redis", free_port()) if redis else None
    try:
        if pg:
            pg.init()
            pg.start()
        if rd:
            rd.start()
        yield pg, rd, folder
    finally:
        if rd:
            rd.stop()
        if pg:
            pg.stop()
        shutil.rmtree(folder, ignore_errors=True)
