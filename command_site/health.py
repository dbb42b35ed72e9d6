"""Readiness checks behind `/health`: each returns (ok, detail) and never raises."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

CheckResult = tuple[bool, str]


def check_database() -> CheckResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, f"{connection.vendor} answered"
    except Exception as exc:
        return False, f"database unreachable: {exc.__class__.__name__}: {exc}"


def check_channel_layer() -> CheckResult:
    layer = get_channel_layer()
    if layer is None:
        return False, "no channel layer configured"

    async def round_trip() -> bool:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping"})
        message = await asyncio.wait_for(layer.receive(channel), timeout=2)
        return message.get("type") == "health.ping"

    try:
        ok = async_to_sync(round_trip)()
    except Exception as exc:
        return False, f"channel layer failed a round trip: {exc.__class__.__name__}: {exc}"
    name = layer.__class__.__name__
    return (True, f"{name} round trip ok") if ok else (False, f"{name} returned the wrong message")


def check_worker() -> CheckResult:
    """A django-q2 cluster is alive when it has written its heartbeat recently."""
    try:
        from django_q.brokers import get_broker
        from django_q.status import Stat

        stats = Stat.get_all(broker=get_broker())
    except Exception as exc:
        return False, f"could not read the worker heartbeat: {exc.__class__.__name__}: {exc}"
    alive = [s for s in stats if s.status not in ("Stopped", "Stopping")]
    if not alive:
        return False, "no background worker is running (start it with: make worker, or python -m command_site.worker)"
    workers = sum(len(s.workers) for s in alive)
    return True, f"{len(alive)} cluster(s), {workers} worker process(es)"


def check_storage() -> CheckResult:
    name = f"health/{uuid.uuid4().hex}.txt"
    try:
        saved = default_storage.save(name, ContentFile(b"ok"))
        with default_storage.open(saved, "rb") as handle:
            data = handle.read()
        default_storage.delete(saved)
    except Exception as exc:
        return False, f"storage write/read failed: {exc.__class__.__name__}: {exc}"
    if data != b"ok":
        return False, "storage returned different bytes than were written"
    return True, f"{default_storage.__class__.__name__} write/read ok"


def check_workspaces() -> CheckResult:
    """Workspaces need their roots and the snapshot store on this disk; where they are off (web
    and workers share no disk, COMMAND_WORKSPACES=false) /health says so rather than pretending."""
    from django.conf import settings

    if not settings.COMMAND_WORKSPACES:
        return True, "off in this deployment: web and workers share no disk, so project folders are not offered"
    roots = [str(p) for p in settings.COMMAND_WORKSPACE_ROOTS]
    missing = [p for p in roots if not os.path.isdir(p)]
    # The first root is where new folders are made, and it is made with the first of them (a fresh
    # install has none yet): missing is fine while it can be made. Any other root must exist.
    later = roots[:1] if roots[:1] == missing[:1] and _can_make(roots[0]) else []
    missing = [p for p in missing if p not in later]
    if missing:
        return False, f"workspace root(s) missing on this machine: {', '.join(missing)}"
    if later:
        return True, f"{len(roots)} workspace root(s); {later[0]} is made with the first new folder"
    return True, f"{len(roots)} workspace root(s) present"


def _can_make(path: str) -> bool:
    """Whether `path` can be made: its nearest existing parent is a folder this process can write."""
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "worker": check_worker,
    "storage": check_storage,
    "workspaces": check_workspaces,
}


def sandbox_report() -> dict:
    """Whether commands run in a sandbox on this machine, in words ("runs unsandboxed" when not).

    Not a readiness check: an operator may run Command unsandboxed on purpose (COMMAND_SANDBOX=off
    or a container that refuses namespaces); `/health` says so instead of failing.
    """
    from command_site.sandbox import sandbox_status

    try:
        status = sandbox_status()
    except Exception as exc:  # the probe never takes /health down
        return {"sandboxed": False, "commands": "runs unsandboxed", "detail": f"probe failed: {exc}"}
    return {"sandboxed": status.sandboxed, "commands": status.label, "detail": status.detail}


# A part that does not answer within this long is failing: during an outage /health must say
# so promptly, not wait for the database pool's own timeout (found by make chaos).
CHECK_SECONDS = 3.0


def _bounded(check: Callable[[], CheckResult], seconds: float) -> CheckResult:
    """`check()` in a thread of its own, or (False, why) when it has not answered in `seconds`.
    The thread's database connections are closed when it ends, however late."""
    from django.db import connections

    answer: list[CheckResult] = []

    def run() -> None:
        try:
            answer.append(check())
        except Exception as exc:  # noqa: BLE001 - a check never raises; a broken one is failing
            answer.append((False, f"{exc.__class__.__name__}: {exc}"))
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name="health-check", daemon=True)
    thread.start()
    thread.join(seconds)
    return answer[0] if answer else (False, f"no answer within {seconds:g} s")


def run_checks() -> dict:
    """Every check, each bounded by CHECK_SECONDS: {"status", "failing": [names], "checks"}."""
    results = {}
    for name, check in CHECKS.items():
        ok, detail = _bounded(check, CHECK_SECONDS)
        results[name] = {"ok": ok, "detail": detail}
    failing = [name for name, result in results.items() if not result["ok"]]
    return {
        "status": "ok" if not failing else "failing",
        "failing": failing,
        "checks": results,
        "sandbox": sandbox_report(),
    }
