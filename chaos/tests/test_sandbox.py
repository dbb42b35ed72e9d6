"""The private services the fault suite and the benchmarks break on purpose: they really restart
and stop, and the data survives a restart (otherwise the suite would test nothing)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from chaos.sandbox import private_services

pytestmark = pytest.mark.skipif(
    not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")) or not shutil.which("redis-server"),
    reason="PostgreSQL server binaries or redis-server not installed",
)


def _psql(url: str, sql: str) -> str:
    done = subprocess.run(["psql", url, "-Atc", sql], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_private_postgres_restart_keeps_data_and_private_redis_stops_and_starts():
    with private_services(prefix="command-sandbox-test-") as (pg, redis, folder):
        url = pg.create_database("sandbox")
        assert str(pg.port) in url
        _psql(url, "CREATE TABLE t (v int); INSERT INTO t VALUES (42);")
        started = _psql(url, "SELECT pg_postmaster_start_time()")
        assert pg.restart() >= 0
        assert _psql(url, "SELECT pg_postmaster_start_time()") != started, "the server really restarted"
        assert _psql(url, "SELECT v FROM t") == "42"
        assert _redis_ping(redis.port)
        redis.stop()
        assert not _redis_ping(redis.port)
        redis.start()
        assert _redis_ping(redis.port)
    assert not folder.exists(), "the scratch folder is removed at the end"
