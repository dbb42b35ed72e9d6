"""Running a shell command for a step: in the workspace folder, inside the sandbox
(command_site.sandbox: bubblewrap, the workspace only, no network unless its approval allowed it)
or — where no sandbox can start — unsandboxed and saying so, in its own process group, with a
timeout (terminate, grace, then kill the whole group), a scrubbed environment, output streamed
as batched workstream events and stored (truncated with a marker past a limit; the command is
stopped past COMMAND_SANDBOX_OUTPUT_MB), and a CommandExecution record — the only commands the
workstream may name.

A command never outlives its worker's lease. It runs under a lease watchdog
(command_site.lease_watchdog), a small process of its own session between the worker and the
command, sandboxed or not: the worker renews the run's lease before starting it and passes every
later renewal to the watchdog through a pipe (tasks.engine.fencing.lease_deadline_subscribe); when
no renewal arrives before a margin ahead of the lease's expiry — the worker is frozen, stuck, cut
off from the database or dead — the watchdog kills the command with everything it started, so no
other attempt can take the run while it still writes into the workspace.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from approvals.selectors import approval_network_granted
from command_site import lease_watchdog
from command_site.sandbox import SandboxLaunch, sandbox_launch, sandbox_status
from tasks.engine.command_summary import command_summary
from tasks.engine.errors import LeaseLost, StepFailed
from tasks.engine.fencing import lease_deadline, lease_deadline_subscribe, lease_deadline_unsubscribe
from tasks.models import CommandExecution

OUTPUT_LIMIT = 64 * 1024  # characters stored per command
TAIL_LIMIT = 16 * 1024  # the end of the output, kept for the summary (pytest, jest, cargo … report last)
TRUNCATION_MARKER = "\n… output truncated by Command: only the first {limit} characters were kept …\n"
BATCH_SECONDS = 1.0  # how often new output becomes one workstream event
POLL_SECONDS = 0.2
CONTROL_SECONDS = 0.6  # how often a running command checks for a stop request (one query)
GRACE_SECONDS = 3.0  # between SIGTERM and SIGKILL

# Only these variables reach a command; everything else (keys, tokens, database URLs) stays out.
ALLOWED_ENV = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "USER", "LOGNAME", "TERM", "TMPDIR", "SHELL")
SECRET_MARKERS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "DATABASE_URL", "REDIS_URL")


def command_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a command gets: an allow-list of harmless variables, never a secret."""
    env = {k: v for k, v in os.environ.items() if k in ALLOWED_ENV or k.startswith("LC_")}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["CI"] = "1"  # tools stay non-interactive
    for key, value in (extra or {}).items():
        env[key] = value
    return {k: v for k, v in env.items() if not _looks_secret(k)}


def _looks_secret(name: str) -> bool:
    upper = name.upper()
    return upper.startswith("AWS_") or upper.startswith("COMMAND_") or any(m in upper for m in SECRET_MARKERS)


def _descendants(pid: int) -> set[int]:
    """Every process descended from `pid` (Linux /proc); empty where /proc is unavailable."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def kill_process_tree(proc: subprocess.Popen, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the command's process group, wait `grace`, then SIGKILL the group and every
    descendant still alive (including ones that left the group)."""
    known = _descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        known |= _descendants(proc.pid)
        if proc.poll() is not None and not _alive_in_group(proc.pid) and not any(_alive(p) for p in known):
            return
        time.sleep(0.05)
    known |= _descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in known:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


_alive = lease_watchdog.alive  # one reading of /proc/<pid>/stat for both (the watchdog imports nothing of Command)


def _alive_in_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def command_launch(*, command: str, workspace: Path, cwd: Path, network: bool = False) -> SandboxLaunch:
    """How `command` starts: in the sandbox when one can start here, otherwise unsandboxed (and
    the launch says so). Network stays off unless `network` — which command_run passes only
    when this exact command's approval allowed the network."""
    if sandbox_status().sandboxed:
        return sandbox_launch(command, workspace=workspace, cwd=cwd, network=network)
    return SandboxLaunch(argv=["/bin/sh", "-c", command], env=command_environment(), sandboxed=False, network=True)


def lease_watched(launch: SandboxLaunch, *, deadline_fd: int, deadline: float) -> tuple[list[str], tuple[int, ...]]:
    """The argv and pass_fds that start `launch` under the lease watchdog, which reads later
    deadlines from `deadline_fd` and kills the command at `deadline` (CLOCK_MONOTONIC) unless a
    later one arrived. Unsandboxed, the watchdog is the command's subreaper as well."""
    argv = [
        sys.executable, "-I", "-S", lease_watchdog.__file__,
        str(deadline_fd), f"{deadline:.6f}",
        str(launch.cgroup.path / "cgroup.procs") if launch.cgroup else "-",
        "0" if launch.sandboxed else "1",
        ",".join(str(fd) for fd in launch.pass_fds) or "-",
        "--", *launch.argv,
    ]  # fmt: skip
    return argv, (*launch.pass_fds, deadline_fd)


def command_run(*, ctx, command: str, timeout: float | int | None = None, cwd: str = ".") -> CommandExecution:
    """Run `command` for the step in `ctx` and return its CommandExecution record.

    Promises: cwd is the workspace folder (or `cwd`, a folder inside it); the command is
    recorded (and announced, "unsandboxed" when it is) before it starts; it runs in the sandbox
    where one can start, in its own process group with a scrubbed environment; on timeout, on an
    operator's stop, past the output limit, or when this worker loses its lease, the whole group
    (and the sandbox's PID namespace and pids cgroup) is terminated and then killed — and when
    the worker stops renewing the lease (frozen, dead) its lease watchdog kills it all before the
    lease expires (LeaseLost when the worker finds that afterwards); output is
    stored up to OUTPUT_LIMIT characters with a visible marker past it.
    Refuses (StepFailed, not retryable) when the run has no workspace folder.
    """
    if ctx.workspace_path is None or not Path(ctx.workspace_path).is_dir():
        raise StepFailed(
            "The workspace folder is missing, so Command did not run the command.",
            error_type="WorkspaceMissing",
            retryable=False,
        )
    # A plan may ask for less time than the operator's limit, never more.
    limit = float(settings.COMMAND_COMMAND_TIMEOUT)
    with contextlib.suppress(TypeError, ValueError):
        if timeout is not None and 0 < float(timeout) < limit:
            limit = float(timeout)
    folder = ctx.resolve(cwd) if cwd not in ("", ".") else Path(ctx.workspace_path).resolve()
    if not folder.is_dir():
        raise StepFailed(f"“{cwd}” is not a folder in the workspace.", error_type="InvalidStep", retryable=False)
    cwd = str(folder)
    network = approval_network_granted(run_id=ctx.run.pk, step_id=ctx.step.step_id, command=command)
    launch = command_launch(command=command, workspace=Path(ctx.workspace_path), cwd=folder, network=network)
    where = (
        ("in the sandbox with network" if launch.network else "in the sandbox") if launch.sandboxed else "unsandboxed"
    )
    with transaction.atomic():
        execution = CommandExecution.objects.create(run=ctx.run, step=ctx.step, command=command, cwd=cwd)
        ctx.emit(
            kind="command.started",
            title=f"Running `{command}`" + ("" if launch.sandboxed else " (unsandboxed)"),
            phase="execute",
            command=command,
            payload={
                "sandboxed": launch.sandboxed,
                "network": launch.network,
                "where": where,
                "cwd": cwd,
                # The row's terminal pane: later output rows of this command are shown inside it.
                "command_execution_id": execution.pk,
            },
        )

    # Started on a freshly renewed lease, under the watchdog that keeps it within the lease.
    deadline_r, deadline_w = os.pipe()
    try:
        renewal_started = time.monotonic()
        ctx.heartbeat()
        deadline = lease_deadline(renewal_started)
        lease_deadline_subscribe(ctx.run.pk, deadline_w, deadline)
        argv, pass_fds = lease_watched(launch, deadline_fd=deadline_r, deadline=deadline)
        proc = subprocess.Popen(
            argv,
            # In the sandbox bwrap sets the folder (--chdir); its own cwd is "/" so no path leaks in $PWD.
            cwd="/" if launch.sandboxed else cwd,
            env=launch.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session and process group: the group can be killed whole
            pass_fds=pass_fds,
        )
    except BaseException:
        lease_deadline_unsubscribe(ctx.run.pk, deadline_w)
        os.close(deadline_r)
        os.close(deadline_w)
        launch.cleanup()
        raise
    os.close(deadline_r)  # the watchdog holds its own copy
    try:
        launch.started(proc)  # the sandbox's private network link, when the approval allowed one
    except BaseException:
        lease_deadline_unsubscribe(ctx.run.pk, deadline_w)
        os.close(deadline_w)  # the watchdog, seeing its worker gone, kills the command
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        launch.cleanup()
        raise
    CommandExecution.objects.filter(pk=execution.pk).update(pid=proc.pid)
    if network and not launch.network:
        with contextlib.suppress(LeaseLost):
            ctx.emit(
                kind="note",
                title="The network link could not be set up: the command runs without network",
                phase="execute",
                status="warning",
                command=command,
            )
    output_cap = settings.COMMAND_SANDBOX_OUTPUT_MB * 1024 * 1024
    read_bytes = 0

    chunks: list[str] = []
    chunks_lock = threading.Lock()
    tail = ""

    def reader() -> None:
        assert proc.stdout is not None
        nonlocal read_bytes, tail
        for raw in iter(lambda: proc.stdout.read1(65536), b""):
            read_bytes += len(raw)
            if read_bytes > output_cap:
                continue  # past the cap: drained, not kept; the loop below stops the command
            text = raw.decode("utf-8", errors="replace")
            with chunks_lock:
                chunks.append(text)
            tail = (tail + text)[-TAIL_LIMIT:]

    reader_thread = threading.Thread(target=reader, daemon=True)
    reader_thread.start()

    stored: list[str] = []
    stored_len = 0
    truncated = False
    timed_out = stopped = lease_lost = output_limited = False
    started = time.monotonic()
    last_flush = started
    last_beat = started
    last_control = started
    beat_every = max(1.0, settings.COMMAND_LEASE_SECONDS / 3)

    def flush(final: bool = False) -> None:
        nonlocal stored_len, truncated
        with chunks_lock:
            text = "".join(chunks)
            chunks.clear()
        if not text:
            return
        if not truncated:
            room = OUTPUT_LIMIT - stored_len
            kept = text[:room]
            stored.append(kept)
            stored_len += len(kept)
            if len(text) > room:
                truncated = True
                stored.append(TRUNCATION_MARKER.format(limit=OUTPUT_LIMIT))
            if kept and not lease_lost:
                with contextlib.suppress(LeaseLost):
                    ctx.emit(
                        kind="command.output",
                        title="Command output",
                        phase="execute",
                        command=command,
                        payload={"text": kept, "command_execution_id": execution.pk, "truncated": truncated},
                    )

    while proc.poll() is None:
        time.sleep(POLL_SECONDS)
        now = time.monotonic()
        if now - started > limit:
            timed_out = True
            break
        if read_bytes > output_cap:
            output_limited = True
            break
        if now - last_control >= CONTROL_SECONDS:
            last_control = now
            signal_ = ctx.should_stop()
            if signal_ == "stop":
                stopped = True
                break
            if signal_ == "lease_lost":
                lease_lost = True
                break
        if now - last_beat >= beat_every:
            try:
                ctx.heartbeat()
            except LeaseLost:
                lease_lost = True
                break
            last_beat = now
        if now - last_flush >= BATCH_SECONDS:
            flush()
            last_flush = now

    # Whatever happened, nothing the command started outlives it.
    kill_process_tree(proc, grace=0 if proc.poll() is not None else GRACE_SECONDS)
    last_deadline = lease_deadline_unsubscribe(ctx.run.pk, deadline_w)
    os.close(deadline_w)
    launch.cleanup()
    reader_thread.join(timeout=5)
    if lease_lost:
        raise LeaseLost(f"{ctx.run.reference}: lease lost while `{command}` ran; it was stopped.")
    if proc.returncode == lease_watchdog.LEASE_EXPIRED_EXIT and time.monotonic() >= last_deadline:
        ctx._lease_lost.set()
        raise LeaseLost(
            f"{ctx.run.reference}: the lease was not renewed in time while `{command}` ran; its watchdog stopped it."
        )
    flush(final=True)
    exit_code = proc.returncode
    CommandExecution.objects.filter(pk=execution.pk).update(
        exit_code=exit_code,
        timed_out=timed_out,
        stopped=stopped,
        output="".join(stored),
        output_truncated=truncated,
        finished_at=timezone.now(),
    )
    execution.refresh_from_db()
    if timed_out:
        outcome, status = f"`{command}` ran past its {int(limit)} s limit and was stopped", "danger"
    elif stopped:
        outcome, status = f"`{command}` was stopped at your request", "muted"
    elif output_limited:
        mb = settings.COMMAND_SANDBOX_OUTPUT_MB
        outcome, status = f"`{command}` wrote more than {mb} MB of output and was stopped", "danger"
    else:
        outcome = f"`{command}` exited with code {exit_code}"
        status = "success" if exit_code == 0 else "danger"
    summary = command_summary(command, tail, exit_code)
    if summary:
        outcome += f": {summary}"
    with contextlib.suppress(LeaseLost):
        ctx.emit(
            kind="command.finished",
            title=outcome,
            phase="execute",
            status=status,
            command=command,
            payload={
                "command_execution_id": execution.pk,
                "exit_code": exit_code,
                "timed_out": timed_out,
                "stopped": stopped,
                "output_truncated": truncated,
                "output_limited": output_limited,
                "sandboxed": launch.sandboxed,
                "summary": summary,
            },
        )
    execution.summary = summary
    return execution


def _session_id(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[1].split()[3])  # state, ppid, pgrp, session
    except (OSError, ValueError, IndexError):
        return None


def command_orphans_stop(*, run, worker_host: str) -> list[CommandExecution]:
    """Kill the process groups of the run's commands that a dead worker left running.

    Only on the worker's own host, and only a process that still leads the session Command
    created for it (so a recycled pid is never touched). Each stopped command is recorded as
    stopped with no exit code. Returns the commands that were stopped.
    """
    import socket

    if worker_host and worker_host != socket.gethostname():
        return []
    stopped = []
    for execution in CommandExecution.objects.filter(run=run, finished_at__isnull=True, pid__isnull=False):
        if _session_id(execution.pid) != execution.pid or not _alive(execution.pid):
            continue
        members = _descendants(execution.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(execution.pid, signal.SIGKILL)
        for pid in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        CommandExecution.objects.filter(pk=execution.pk).update(stopped=True, finished_at=timezone.now())
        stopped.append(execution)
    return stopped


def command_unfinished_close(*, run) -> list[CommandExecution]:
    """Record as stopped the run's started commands that no worker will finish (recovery calls
    this once the run's lease has expired, after `command_orphans_stop`). Each ran under its lease
    watchdog, which kills it a margin before its lease expires — on whichever host it ran — so none
    of them still runs. Returns them."""
    unfinished = list(CommandExecution.objects.filter(run=run, finished_at__isnull=True, pid__isnull=False))
    CommandExecution.objects.filter(pk__in=[c.pk for c in unfinished]).update(stopped=True, finished_at=timezone.now())
    return unfinished
