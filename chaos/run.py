"""The fault-injection suite: real daphne and qcluster processes on PostgreSQL + Redis, under fire.

    .venv/bin/python -m chaos.run            # make chaos: 200 runs over 10 workspaces
    .venv/bin/python -m chaos.run --short    # make chaos-short / CI: 24 runs, same scenarios

Everything runs against a private PostgreSQL cluster and Redis server on loopback ports
(chaos.sandbox), so restarting and stopping them touches nobody else. Scenarios, in order:

1. kill storm: N runs over 10 workspaces, 2 workers; every few seconds one worker's whole
   process group gets SIGKILL and is started again;
2. freeze, six times: a worker is SIGSTOPped inside one of the product's own handlers past its
   lease — write_file (in its atomic write) and deliver (filing an asset, in the upload of its
   bytes), both before the handler's write fence check (chaos.handlers) —, the run is recovered
   and finished by the other worker, then the frozen one is resumed and must write nothing late
   (no workspace write, upload, FileChange, second asset or event of its attempt). A worker of
   this host must have been stopped by recovery (pid + start time) before the run resumed; a
   worker of "another host" (worker 1 runs with COMMAND_WORKER_HOST) must have its late write
   refused, and the refusal recorded. And run_command, while its sandboxed command writes a line
   into the workspace every 100 ms: once the lease has expired — before anything has stopped the
   worker — the command must be dead with no line stamped after the expiry (its lease watchdog,
   command_site.lease_watchdog), and nothing written after recovery put the folder back;
3. services: Redis stopped, then PostgreSQL stopped and started, each with runs in flight
   (asserted): /health must answer 503 naming the failing part during each outage and 200 after,
   the pages must keep answering while Redis is down, the socket must replay the whole log after,
   and runs must finish or become recoverable with a reason;
4. disk full: a workspace on a tiny tmpfs receives a write that does not fit: the file keeps its
   old or new content (never a torn one) and the step fails honestly;

then the truthfulness audit (command_site.audit) must report zero violations. Prints a summary
table and exits non-zero on any lost run, duplicated mutation, false success, broken event log,
accepted zombie write, failed outage check, more `recoverable` runs than the cap (each is listed
with its reason) or audit violation. Every verdict printed is one of those checks; a case that
cannot run here is printed as SKIPPED and the suite's verdict is SKIPPED, not PASSED. Every loop
is bounded by a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from chaos.sandbox import PrivatePostgres, PrivateRedis, private_services
from command_site.testing import free_port, processes_with, session_cookie, stamped_times, stop_process

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
LEASE = 5
MARKER = "<!-- end -->"
# Worker 1 says it runs on another machine: recovery here cannot stop it, the write fence must.
REMOTE_WORKER, REMOTE_HOST = 1, "chaos-remote-host"
# The frozen command: a line stamped into the workspace every 100 ms, for far longer than a lease.
TICK_SCRIPT, TICKS = "tick.sh", "ticks.txt"
TICK = f'i=0; while [ "$i" -lt 300 ]; do date +%s.%N >> {TICKS}; i=$((i+1)); sleep 0.1; done\n'


def say(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", flush=True)


@dataclass
class Tally:
    runs: int = 0
    kills: int = 0
    freezes: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    false_successes: list[str] = field(default_factory=list)
    broken_logs: list[str] = field(default_factory=list)
    zombie_writes: list[str] = field(default_factory=list)
    web_down: list[str] = field(default_factory=list)
    dishonest: list[str] = field(default_factory=list)
    states: collections.Counter = field(default_factory=collections.Counter)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    audit: list[str] = field(default_factory=list)
    delivery_runs: list[int] = field(default_factory=list)
    outages: list[str] = field(default_factory=list)  # /health or in-flight conditions not met
    recoverable: list[str] = field(default_factory=list)  # each recoverable run with its reason
    recoverable_cap: int = 0
    expected_recoverable: list[int] = field(default_factory=list)  # a frozen command's run: the person decides

    @property
    def failures(self) -> list[str]:
        return (
            self.lost
            + self.duplicated
            + self.false_successes
            + self.broken_logs
            + self.zombie_writes
            + self.web_down
            + self.dishonest
            + self.outages
            + self.audit
            + self.over_cap
        )

    @property
    def over_cap(self) -> list[str]:
        if len(self.recoverable) <= self.recoverable_cap:
            return []
        return [
            f"{len(self.recoverable)} runs ended recoverable (cap {self.recoverable_cap}): {line}"
            for line in self.recoverable
        ]

    def verdict(self) -> tuple[str, int]:
        """What the suite says and its exit code: FAILED on any failure, SKIPPED when a case
        could not run here (never PASSED then), PASSED only when every case ran and held."""
        if self.failures:
            return "FAILED", 1
        if self.skipped:
            return "SKIPPED", 0
        return "PASSED", 0


# --- processes -------------------------------------------------------------------------------------


class Cluster:
    """daphne + two qcluster processes (each in its own process group), restarted when they die."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.workers: list[subprocess.Popen | None] = [None, None]
        self.started = 0
        self.web: subprocess.Popen | None = None
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        logs.mkdir(parents=True, exist_ok=True)

    def _spawn(self, args: list[str], log: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        out = open(self.logs / log, "ab")  # noqa: SIM115 - handed to the child
        try:
            return subprocess.Popen(
                args, cwd=REPO, env=env or self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            out.close()

    def start_worker(self, i: int) -> None:
        self.started += 1
        env = self.env | ({"COMMAND_WORKER_HOST": REMOTE_HOST} if i == REMOTE_WORKER else {})
        self.workers[i] = self._spawn([PY, "manage.py", "qcluster"], f"worker{i}.log", env=env)

    def start(self) -> None:
        self.web = self._spawn(
            [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "command_site.asgi:application"], "web.log"
        )
        for i in range(2):
            self.start_worker(i)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/health", timeout=2).status_code < 500:
                    return
            time.sleep(0.3)
        raise RuntimeError("daphne did not answer within 60 s")

    def kill_worker(self, i: int, sig: int = signal.SIGKILL) -> None:
        proc = self.workers[i]
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        if sig == signal.SIGKILL:
            proc.wait(timeout=15)
            self.workers[i] = None

    def worker_index_of(self, pid: int) -> int | None:
        with contextlib.suppress(ProcessLookupError):
            group = os.getpgid(pid)
            for i, proc in enumerate(self.workers):
                if proc is not None and proc.pid == group:
                    return i
        return None

    def supervise(self) -> None:
        """What a process manager does: start again any worker that exited."""
        for i, proc in enumerate(self.workers):
            if proc is None or proc.poll() is not None:
                self.start_worker(i)

    def stop(self) -> None:
        for proc in [*self.workers, self.web]:
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)
            stop_process(proc, timeout=10)  # SIGTERM to the leader only: see its docstring


# --- the world ---------------------------------------------------------------------------------


def _plan(key: str, *, delay: float, first_attempt_only: bool = False, content: str | None = None) -> list:
    from providers.contracts import ActionType, PlanStep, StepExplanation

    def step(step_id, action, title, **inputs):
        return PlanStep(
            id=step_id,
            title=title,
            action_type=action,
            inputs=inputs,
            explanation=StepExplanation(what=title + ".", why="The fault suite needs it.", expect_next="Next step."),
        )

    page = content if content is not None else f"<!doctype html><title>{key}</title><p>{key}</p>\n"
    write_inputs = {"path": f"pages/{key}.html", "content": page, "chaos_delay": delay}
    if first_attempt_only:
        write_inputs["chaos_delay_first_attempt_only"] = True
    return [
        step("write", ActionType.WRITE_FILE, f"Write the page for {key}", **write_inputs),
        step(
            "journal",
            ActionType.EDIT_FILE,
            f"Add {key} to the journal",
            path="journal.txt",
            find=MARKER,
            replace=f"{key}\n{MARKER}",
            chaos_delay=delay / 2,
        ),
        step(
            "verify",
            ActionType.VERIFY,
            f"Check {key} is on disk",
            command=f"grep -qx {key} journal.txt",
        ),
    ]


def _asset_plan(key: str, *, delay: float) -> list:
    """Make a picture, check it, file it as an asset: the filing pauses (first attempt only) inside
    the product's upload of the asset's bytes (chaos.handlers), before its write fence's check."""
    from providers.contracts import ActionType, PlanStep, StepExplanation

    def step(step_id, action, title, inputs=None):
        return PlanStep(
            id=step_id,
            title=title,
            action_type=action,
            inputs=inputs or {},
            deliverable_id="picture",
            explanation=StepExplanation(what=title + ".", why="The fault suite needs it.", expect_next="Next step."),
        )

    return [
        step("make", ActionType.GENERATE_OUTPUT, f"Make the picture for {key}", {"category": "image", "title": key}),
        step("check", ActionType.VERIFY, f"Check the picture for {key}"),
        step(
            "file",
            ActionType.DELIVER,
            f"File the picture for {key}",
            {"chaos_delay": delay, "chaos_delay_first_attempt_only": True},
        ),
    ]


def _command_plan(key: str, **_) -> list:
    """One command that writes into the workspace every 100 ms (TICK_SCRIPT, put there by the
    round), run by the product's own run_command handler in the sandbox."""
    from providers.contracts import ActionType, PlanStep, StepExplanation

    return [
        PlanStep(
            id="tick",
            title=f"Tick for {key}",
            action_type=ActionType.RUN_COMMAND,
            inputs={"command": f"sh {TICK_SCRIPT} {key}"},
            explanation=StepExplanation(what="Tick.", why="The fault suite needs it.", expect_next="Next step."),
        )
    ]


def make_run(owner, workspace, key: str, *, kind: str = "write_file", **plan_kwargs):
    from providers.contracts import Plan
    from tasks.engine.dispatch import run_create
    from tasks.models import PlanRevision, Task

    plans = {"asset": _asset_plan, "command": _command_plan}
    steps = plans.get(kind, _plan)(key, **plan_kwargs)
    task = Task.objects.create(owner=owner, raw_prompt=f"chaos {key}", title=f"chaos {key}", workspace=workspace)
    PlanRevision.objects.create(
        task=task, number=1, planner="fault suite", plan=Plan(steps=steps).model_dump(mode="json")
    )
    return run_create(task=task)


def make_workspace(owner, name: str, folder: Path | None = None):
    from workspaces.services import workspace_create, workspace_register

    ws = (
        workspace_register(owner=owner, path=str(folder), name=name)
        if folder
        else workspace_create(owner=owner, name=name)
    )
    Path(ws.path, "journal.txt").write_text(f"{MARKER}\n")
    # The operator's remembered approvals: edits and the check command go ahead in this workspace.
    from approvals.services.memory import approval_preference_set

    approval_preference_set(owner=owner, category="edit_file", scope="workspace", decision="allow", workspace=ws)
    approval_preference_set(
        owner=owner,
        category="run_command",
        scope="workspace",
        decision="allow",
        workspace=ws,
        command_allowlist=["grep", f"sh {TICK_SCRIPT}"],
    )
    return ws


def submit_request(owner, workspace, prompt: str):
    """What POST / does: store the request, let the built-in planner read it, start its run."""
    from django.db import transaction

    from tasks.planning import task_understand
    from tasks.services import task_start_if_ready, task_submit

    with transaction.atomic():
        task = task_submit(owner=owner, prompt=prompt, workspace=workspace)
        task_understand(task=task)
    return task, task_start_if_ready(task=task)


def terminal_count(run_ids) -> int:
    from tasks.models import TaskRun

    return TaskRun.objects.filter(pk__in=run_ids, state__in=TaskRun.TERMINAL_STATES).count()


def wait_terminal(cluster: Cluster, run_ids, deadline: float, tally: Tally, on_tick=None) -> None:
    while time.monotonic() < deadline and terminal_count(run_ids) < len(run_ids):
        cluster.supervise()
        if on_tick:
            on_tick()
        time.sleep(0.5)


def web_check(cluster: Cluster, cookie: str, paths: list[str], tally: Tally, when: str) -> None:
    for p in paths:
        try:
            r = httpx.get(cluster.base + p, cookies={"sessionid": cookie}, timeout=15)
            if r.status_code != 200:
                tally.web_down.append(f"{when}: GET {p} answered {r.status_code}")
        except httpx.HTTPError as exc:
            tally.web_down.append(f"{when}: GET {p} failed ({type(exc).__name__})")


async def _ws_replay(cluster: Cluster, cookie: str, run_id: int, want: int, timeout: float = 15) -> list[int]:
    """Connect, subscribe from seq 0, collect the seqs of every row the server sends."""
    import websockets

    seen: list[int] = []
    url = cluster.base.replace("http", "ws") + "/ws/workstream/"
    async with websockets.connect(
        url, additional_headers={"Origin": cluster.base, "Cookie": f"sessionid={cookie}"}, open_timeout=10
    ) as ws:
        await ws.send(json.dumps({"type": "subscribe", "runs": [{"run": run_id, "after": 0}]}))
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(seen) < want:
            try:
                html = await asyncio.wait_for(ws.recv(), timeout=max(0.1, end - time.monotonic()))
            except TimeoutError:
                break
            seen += [int(s) for s in re.findall(rf'id="event-{run_id}-(\d+)"', html)]
    return seen


# --- checks ------------------------------------------------------------------------------------


def read_ledger(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def check_runs(run_ids, keys: dict[int, str], ledger: list[dict], tally: Tally) -> None:
    from tasks.engine.state import verification_passed
    from tasks.models import TaskRun

    # Uploads of an asset's bytes are ledger lines too (action "store"): each goes to a new name,
    # so a duplicate filing shows as a second asset of the run (check_deliveries), not here.
    applied = collections.Counter((e["run"], e["step"]) for e in ledger if e.get("action") != "store")
    for (run_id, step), n in applied.items():
        if run_id in keys and n > 1:
            tally.duplicated.append(f"RUN-{run_id:03d} step {step} applied {n} times (ledger)")
    for run in TaskRun.objects.filter(pk__in=run_ids).select_related("workspace"):
        key = keys[run.pk]
        tally.states[run.state] += 1
        if run.state not in TaskRun.TERMINAL_STATES:
            tally.lost.append(f"{run.reference} ({key}) still {run.state}: {run.blocking_reason or run.state_reason}")
        elif run.state in ("failed", "recoverable") and not run.state_reason.strip():
            tally.dishonest.append(f"{run.reference} is {run.state} without a reason")
        seqs = list(run.events.order_by("seq").values_list("seq", flat=True))
        if seqs != list(range(1, len(seqs) + 1)):
            tally.broken_logs.append(f"{run.reference}: event seqs not gapless 1..n ({len(seqs)} events)")
        folder = Path(run.workspace.path)
        journal = (folder / "journal.txt").read_text().splitlines() if (folder / "journal.txt").exists() else []
        count = journal.count(key)
        if count > 1:
            tally.duplicated.append(f"{run.reference} ({key}): the journal line was applied {count} times")
        if run.state == TaskRun.State.COMPLETED:
            ok, why = verification_passed(run)
            page = folder / "pages" / f"{key}.html"
            if not ok or count != 1 or not page.is_file():
                tally.false_successes.append(
                    f"{run.reference} ({key}) completed but: {why or ''} journal×{count} page={page.is_file()}"
                )


def check_deliveries(run_ids: list[int], tally: Tally) -> None:
    """Runs from real requests: terminal, gapless, and completed only with verified assets."""
    from outputs.models import OutputAsset
    from tasks.models import TaskRun

    assets = 0
    for run in TaskRun.objects.filter(pk__in=run_ids):
        tally.states[run.state] += 1
        if run.state not in TaskRun.TERMINAL_STATES:
            tally.lost.append(
                f"{run.reference} (delivery) still {run.state}: {run.blocking_reason or run.state_reason}"
            )
        elif run.state in ("failed", "recoverable") and not run.state_reason.strip():
            tally.dishonest.append(f"{run.reference} is {run.state} without a reason")
        seqs = list(run.events.order_by("seq").values_list("seq", flat=True))
        if seqs != list(range(1, len(seqs) + 1)):
            tally.broken_logs.append(f"{run.reference}: event seqs not gapless 1..n ({len(seqs)} events)")
        delivered = list(OutputAsset.objects.filter(run=run))
        assets += len(delivered)
        per_deliverable = collections.Counter(a.deliverable_key for a in delivered)
        for key, n in per_deliverable.items():
            if n > 1:
                tally.duplicated.append(f"{run.reference}: deliverable {key} delivered {n} times in one run")
        if run.state == TaskRun.State.COMPLETED and not delivered:
            tally.false_successes.append(f"{run.reference} (delivery) completed without an asset")
    if run_ids:
        tally.notes.append(
            f"{len(run_ids)} runs that file assets (the kill storm's real requests, the asset freezes) "
            f"delivered {assets} asset(s)"
        )


# --- scenarios ---------------------------------------------------------------------------------


def scenario_kill_storm(
    cluster, owner, workspaces, n_runs, tally, ledger_path, rng, storm_seconds, deadline, n_deliveries=0
):
    say(f"kill storm: {n_runs} runs over {len(workspaces)} workspaces, 2 workers, SIGKILL every 2-5 s")
    keys = {}
    delivery_runs: list[int] = []
    for i in range(n_runs):
        run = make_run(owner, workspaces[i % len(workspaces)], f"storm-{i:03d}", delay=rng.uniform(0.2, 0.8))
        keys[run.pk] = f"storm-{i:03d}"
    tally.runs += n_runs
    # Real requests through the built-in planner: generated, verified and delivered assets under fire.
    for i in range(n_deliveries):
        prompt = f"a one-page pdf proposal for Acme Analytics number {i}"
        task, run = submit_request(owner, None, prompt)
        if run is None:
            tally.notes.append(f"kill storm: “{prompt}” was not started by the planner ({task.status})")
            continue
        delivery_runs.append(run.pk)
        tally.runs += 1
    storm_end = time.monotonic() + storm_seconds
    next_kill = time.monotonic() + rng.uniform(2, 5)

    def tick():
        nonlocal next_kill
        now = time.monotonic()
        if now < storm_end and now >= next_kill:
            i = rng.randrange(2)
            cluster.kill_worker(i)
            tally.kills += 1
            cluster.start_worker(i)
            next_kill = now + rng.uniform(2, 5)

    wait_terminal(cluster, list(keys) + delivery_runs, deadline, tally, tick)
    done = terminal_count(list(keys) + delivery_runs)
    say(f"kill storm: {tally.kills} kills, {done}/{len(keys) + len(delivery_runs)} runs in a terminal state")
    check_runs(list(keys), keys, read_ledger(ledger_path), tally)
    tally.delivery_runs = delivery_runs
    return keys


# Where a worker is frozen: the product's handler, the step it runs, and the plan's kwargs.
FREEZE_KINDS = {
    "write_file": ("write_file (its atomic write)", "write", {"first_attempt_only": True}),
    "asset": ("deliver (filing an asset: the upload of its bytes)", "file", {}),
}


def scenario_freeze(cluster, owner, tally, ledger_path, deadline, *, kinds=("write_file", "asset", "command")):
    """Freezes inside the product's own handlers, each twice: once a worker of this host, once
    the worker that says it runs on another host (REMOTE_WORKER)."""
    keys = {}
    for kind in kinds:
        for index, where in ((1 - REMOTE_WORKER, "local"), (REMOTE_WORKER, "remote")):
            key = f"frozen-{where}" if kind == "write_file" else f"frozen-{kind}-{where}"
            if kind == "command":
                keys |= _command_freeze_round(cluster, owner, tally, ledger_path, deadline, index=index, key=key)
                continue
            keys |= _freeze_round(cluster, owner, tally, ledger_path, deadline, index=index, key=key, kind=kind)
    return keys


def _command_freeze_round(cluster, owner, tally, ledger_path, deadline, *, index: int, key: str):
    """A worker frozen inside run_command while its sandboxed command writes a line into the
    workspace every 100 ms. Nothing stops the worker until its lease has expired, so by then only
    the command's lease watchdog can have stopped the command; the run is then recovered (the
    folder put back to its pre-command point, the person told) and the frozen worker resumed."""
    from datetime import UTC, datetime

    from command_site.sandbox import sandbox_status
    from tasks.engine.fencing import process_gone
    from tasks.engine.recovery import recover_expired_runs
    from tasks.models import TaskRun

    remote = index == REMOTE_WORKER
    where = "another host" if remote else "this host"
    if not sandbox_status().sandboxed:  # a remembered preference never answers an unsandboxed command
        tally.skipped.append(f"freeze in run_command ({where}): {sandbox_status().detail}")
        return {}
    say(f"freeze ({where}): SIGSTOP worker {index} inside run_command, its command writing every 100 ms")
    ws = make_workspace(owner, key)
    folder = Path(ws.path)
    (folder / TICK_SCRIPT).write_text(TICK)
    ticks = folder / TICKS
    other = 1 - index
    cluster.kill_worker(other, signal.SIGSTOP)
    try:
        run = make_run(owner, ws, key, kind="command")
        tally.runs += 1
        tally.expected_recoverable.append(run.pk)
        held = None
        while time.monotonic() < deadline:
            row = TaskRun.objects.get(pk=run.pk)
            if row.worker_id and len(stamped_times(ticks)) >= 3:
                held = row.worker_id
                break
            time.sleep(0.2)
        if held is None or cluster.worker_index_of(int(held.split(":")[1])) != index:
            tally.lost.append(f"{run.reference}: worker {index} never ran its command: the freeze could not be tried")
            return {run.pk: key}
        cluster.kill_worker(index, signal.SIGSTOP)
        tally.freezes += 1
    finally:
        cluster.kill_worker(other, signal.SIGCONT)
    frozen_attempt, pid, started = TaskRun.objects.get(pk=run.pk).attempt, int(held.split(":")[1]), held.split(":")[2]
    # Every line is sampled as it appears: a worker's own reaper may put the folder back (removing
    # the file) as soon as the lease has expired.
    written, seen_expiry, expires = set(stamped_times(ticks)), None, None
    while time.monotonic() < deadline and expires is None:
        row = TaskRun.objects.get(pk=run.pk)
        seen_expiry = row.lease_expires_at or seen_expiry
        if seen_expiry and (seen_expiry < datetime.now(UTC) or row.state not in TaskRun.LEASED_STATES):
            expires = seen_expiry
        written |= set(stamped_times(ticks))
        time.sleep(0.1)
    time.sleep(0.5)
    written, alive = sorted(written | set(stamped_times(ticks))), processes_with(key)
    superseded_at = time.time()
    reasons = []
    # The operator's reaper: puts the folder back to the pre-command point and tells the person.
    while time.monotonic() < deadline and TaskRun.objects.get(pk=run.pk).state in TaskRun.LEASED_STATES:
        reasons += [r.reason for r in recover_expired_runs() if r.run.pk == run.pk]
        superseded_at = time.time()
        time.sleep(0.5)
    stopped_here = process_gone(pid, started)
    cluster.kill_worker(index, signal.SIGCONT)
    time.sleep(LEASE)  # the woken worker finds its command ended and its lease gone
    check_frozen_command(
        run,
        expires=expires,
        written=written,
        alive=alive,
        after=stamped_times(ticks),
        alive_after=processes_with(key),
        tally=tally,
        where=where,
    )
    check_frozen_attempt(
        run,
        frozen_attempt=frozen_attempt,
        superseded_at=superseded_at,
        ledger=read_ledger(ledger_path),
        tally=tally,
        where=where,
        must_be_refused=False,  # its command was dead before it could be superseded: nothing to refuse
        pid=pid,
    )
    final = TaskRun.objects.get(pk=run.pk)
    if all(run.reference not in z for z in tally.zombie_writes):
        how = "recovery then stopped the worker itself" if stopped_here and not remote else "the worker woke later"
        tally.notes.append(
            f"freeze in run_command ({where}): {run.reference}'s command wrote {len(written)} line(s), none after "
            f"its lease expired, and was dead by then; {how}; the run ended {final.state}"
        )
    return {run.pk: key}


def check_frozen_command(
    run, *, expires, written: list[float], alive: list[int], after: list[float], alive_after: list[int], tally, where
) -> None:
    """A frozen worker's command, judged: dead once the lease had expired (before anything stopped
    the worker), no line stamped after that expiry, nothing written (and nothing running) after
    the folder was put back, and the run left `recoverable` saying its command no longer runs.
    Each breach is a zombie write, which fails the suite."""
    name = f"{run.reference} ({where})"
    if expires is None:
        tally.lost.append(f"{name}: the frozen worker's lease never expired")
        return
    if alive:
        tally.zombie_writes.append(f"{name}: its command was still running after its lease expired (pids {alive})")
    late = [t for t in written if t > expires.timestamp()]
    if late:
        tally.zombie_writes.append(f"{name}: its command wrote {len(late)} line(s) after its lease expired")
    if after or alive_after:
        tally.zombie_writes.append(
            f"{name}: {len(after)} line(s) written and {len(alive_after)} process(es) of its command alive after "
            "the folder was put back"
        )
    run.refresh_from_db()
    if run.state != "recoverable" or "no longer runs" not in run.state_reason:
        tally.dishonest.append(f"{name} ended {run.state}, not recoverable saying its command no longer runs")


def _freeze_round(cluster, owner, tally, ledger_path, deadline, *, index: int, key: str, kind: str = "write_file"):
    from tasks.engine.fencing import process_gone
    from tasks.engine.recovery import recover_expired_runs
    from tasks.models import StepExecution, TaskRun, WorkstreamEvent

    remote = index == REMOTE_WORKER
    where = "another host" if remote else "this host"
    inside, step_id, plan_kwargs = FREEZE_KINDS[kind]
    say(f"freeze ({where}): SIGSTOP worker {index} inside {inside} for longer than its {LEASE} s lease")
    ws = make_workspace(owner, key)
    other = 1 - index
    # Hold the other worker back, so the run is taken by the one to be frozen.
    cluster.kill_worker(other, signal.SIGSTOP)
    try:
        run = make_run(owner, ws, key, kind=kind, delay=LEASE * 3, **plan_kwargs)
        tally.runs += 1
        held = None
        while time.monotonic() < deadline:
            row = TaskRun.objects.get(pk=run.pk)
            if row.worker_id and StepExecution.objects.filter(run=run, step_id=step_id, status="running").exists():
                held = row.worker_id
                break
            time.sleep(0.2)
        if held is None or cluster.worker_index_of(int(held.split(":")[1])) != index:
            tally.lost.append(f"{run.reference}: worker {index} never took it, so the freeze could not be tried")
            return {run.pk: key} if kind == "write_file" else {}
        time.sleep(0.5)  # into the pause inside the product's atomic write
        cluster.kill_worker(index, signal.SIGSTOP)
        tally.freezes += 1
    finally:
        cluster.kill_worker(other, signal.SIGCONT)
    frozen_attempt, pid, started = TaskRun.objects.get(pk=run.pk).attempt, int(held.split(":")[1]), held.split(":")[2]
    superseded_at = time.time()
    reasons = []
    # The operator's reaper (manage.py recover_runs) once the lease has expired.
    while time.monotonic() < deadline and TaskRun.objects.get(pk=run.pk).attempt == frozen_attempt:
        reasons += [r.reason for r in recover_expired_runs() if r.run.pk == run.pk]
        superseded_at = time.time()
        time.sleep(0.5)
    # The other worker finishes the run (the frozen group is not supervised while stopped).
    while time.monotonic() < deadline and TaskRun.objects.get(pk=run.pk).state not in TaskRun.TERMINAL_STATES:
        time.sleep(0.3)
    stopped_here = process_gone(pid, started)  # checked before SIGCONT lets its parent reap it
    cluster.kill_worker(index, signal.SIGCONT)
    refused = WorkstreamEvent.objects.filter(run=run, kind="write.refused", payload__refused_attempt=frozen_attempt)
    if remote:
        # It wakes inside its pause, then tries its write: the fence must refuse it, on record.
        end = min(deadline, time.monotonic() + LEASE * 4)
        while time.monotonic() < end and not refused.exists():
            time.sleep(0.3)
    else:
        time.sleep(LEASE)
    stopped_first = stopped_here and any(f"({pid}) was stopped" in r for r in reasons)
    check_frozen_attempt(
        run,
        frozen_attempt=frozen_attempt,
        superseded_at=superseded_at,
        ledger=read_ledger(ledger_path),
        tally=tally,
        where=where,
        must_be_refused=remote or not stopped_first,
        pid=pid,
    )
    final = TaskRun.objects.get(pk=run.pk)
    if stopped_first:
        outcome = f"recovery stopped its process {pid} before resuming the run"
    else:
        outcome = "its late write was refused and recorded"
    if not tally.zombie_writes or all(run.reference not in z for z in tally.zombie_writes):
        tally.notes.append(
            f"freeze in {kind} ({where}): {run.reference} recovered as attempt {final.attempt}, ended {final.state}; "
            f"{outcome}"
        )
    if kind == "asset":
        tally.delivery_runs.append(run.pk)  # checked as a delivery: terminal, one asset, verified
        return {}
    return {run.pk: key}


def check_frozen_attempt(
    run,
    *,
    frozen_attempt: int,
    superseded_at: float,
    ledger: list[dict],
    tally: Tally,
    where: str,
    must_be_refused: bool,
    pid: int,
) -> None:
    """The frozen attempt, once woken, wrote nothing: no ledger line of its (a workspace write or
    an asset's upload), no FileChange, no second asset of the run, no event after it was
    superseded but its refusals; and where recovery could not stop it first (another host, or
    recovered by that host's reaper) its late write was refused on record. Each breach is a
    zombie write, which fails the suite."""
    from outputs.models import OutputAsset
    from tasks.models import WorkstreamEvent
    from workspaces.models import FileChange

    zombie_lines = [e for e in ledger if e["run"] == run.pk and e["attempt"] == frozen_attempt]
    zombie_changes = FileChange.objects.filter(run=run, run_attempt=frozen_attempt).count()
    # An asset is filed once per run: a second one is the frozen attempt's late filing.
    zombie_assets = max(0, OutputAsset.objects.filter(run=run).count() - 1)
    late_events = (
        WorkstreamEvent.objects.filter(run=run, attempt=frozen_attempt, created_at__gt=_aware(superseded_at))
        .exclude(kind="write.refused")
        .count()
    )
    if zombie_lines or zombie_changes or zombie_assets or late_events:
        tally.zombie_writes.append(
            f"{run.reference}: frozen attempt {frozen_attempt} ({where}) wrote {len(zombie_lines)} mutation(s) or "
            f"upload(s), {zombie_changes} file change(s), {zombie_assets} asset(s) and {late_events} event(s) "
            "after it was superseded"
        )
    refused = WorkstreamEvent.objects.filter(run=run, kind="write.refused", payload__refused_attempt=frozen_attempt)
    if must_be_refused and not refused.exists():
        tally.zombie_writes.append(
            f"{run.reference}: the frozen worker {pid} ({where}) was not stopped before the run resumed and left "
            "no recorded refusal of its late write"
        )


def _aware(ts: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC)


def _health(cluster: Cluster) -> tuple[int, list[str]]:
    """/health's status code and the parts it names as failing ((0, []) when it did not answer)."""
    try:
        r = httpx.get(cluster.base + "/health", timeout=15)
    except httpx.HTTPError:
        return 0, []
    try:
        return r.status_code, list(r.json().get("failing", []))
    except ValueError:
        return r.status_code, []


def _health_expect(cluster: Cluster, tally: Tally, *, when: str, failing: str | None, within: float = 30) -> str:
    """Poll /health until it answers 503 naming `failing` (or 200 when None), for up to `within` s;
    a failure of the suite when it never does. Returns what it said last, for the notes."""
    end = time.monotonic() + within
    code, parts = _health(cluster)
    while time.monotonic() < end:
        if (failing is None and code == 200) or (failing is not None and code == 503 and failing in parts):
            return f"{code} {', '.join(parts) or 'ok'}"
        time.sleep(0.5)
        code, parts = _health(cluster)
    wanted = "200" if failing is None else f"503 naming {failing}"
    tally.outages.append(f"{when}: /health answered {code or 'nothing'} ({', '.join(parts) or '-'}), not {wanted}")
    return f"{code} {', '.join(parts)}"


def _in_flight(run_ids, within: float = 20) -> int:
    """How many of the runs are held by a worker, waiting up to `within` s for one to be."""
    from tasks.models import TaskRun

    end = time.monotonic() + within
    while True:
        n = TaskRun.objects.filter(pk__in=list(run_ids), state__in=TaskRun.LEASED_STATES).count()
        if n or time.monotonic() > end:
            return n
        time.sleep(0.2)


def scenario_services(
    cluster,
    owner,
    workspaces,
    pg: PrivatePostgres,
    redis: PrivateRedis,
    cookie,
    tally,
    deadline,
    restart_postgres: bool,
):
    from tasks.models import TaskRun

    say("services: Redis stopped, then PostgreSQL stopped and started, with runs in flight")
    keys = {}
    for i, ws in enumerate(workspaces):
        run = make_run(owner, ws, f"svc-{i:03d}", delay=3.0)
        keys[run.pk] = f"svc-{i:03d}"
    tally.runs += len(keys)
    first = next(iter(keys))
    task_url = TaskRun.objects.get(pk=first).task.get_absolute_url()
    # /health answers 503 while Redis is down (that is its job); the pages, and the polling path
    # the page falls back to without a socket, must keep working.
    from django.urls import reverse

    polling = reverse("tasks:run_events", args=[first])
    pages = [task_url, "/workspaces/", polling]
    in_flight = _in_flight(keys)
    if not in_flight:
        tally.outages.append("redis stop: no run was in flight, so the outage tested nothing")
    redis.stop()
    say(f"  redis stopped ({in_flight} runs in flight)")
    health_down = _health_expect(cluster, tally, when="redis down", failing="channel_layer")
    t_end = time.monotonic() + 6
    while time.monotonic() < t_end:
        web_check(cluster, cookie, pages, tally, "redis down")
        time.sleep(1)
    polled = httpx.get(cluster.base + polling, cookies={"sessionid": cookie}, timeout=15)
    polled_rows = len(re.findall(rf'id="event-{first}-(\d+)"', polled.text))
    persisted = TaskRun.objects.get(pk=first).events.count()
    if polled_rows < min(persisted, 200) - 2:  # rows written between the two reads are fine
        tally.broken_logs.append(f"RUN-{first:03d}: polling during the outage gave {polled_rows} of {persisted} rows")
    redis.start()
    health_up = _health_expect(cluster, tally, when="redis back", failing=None)
    say("  redis back")
    tally.notes.append(
        f"services: Redis stopped with {in_flight} runs in flight: /health said {health_down}, then {health_up}; "
        f"polling during the outage returned {polled_rows} of {persisted} rows"
    )
    if restart_postgres:
        in_flight = _in_flight(keys)
        if not in_flight:
            tally.outages.append("postgresql stop: no run was in flight, so the outage tested nothing")
        started = time.monotonic()
        pg.stop_fast()
        say(f"  postgresql stopped ({in_flight} runs in flight)")
        pg_down = _health_expect(cluster, tally, when="postgresql down", failing="database", within=10)
        pg.start()
        down = time.monotonic() - started
        from django.db import connections

        connections.close_all()
        pg_up = _health_expect(cluster, tally, when="postgresql back", failing=None)
        say(f"  postgresql back after {down:.1f} s")
        web_check(cluster, cookie, pages, tally, "after postgresql restart")
        tally.notes.append(
            f"services: PostgreSQL down {down:.1f} s with {in_flight} runs in flight: /health said {pg_down}, "
            f"then {pg_up}"
        )
    wait_terminal(cluster, list(keys), deadline, tally)
    web_check(cluster, cookie, pages, tally, "after services returned")
    # Realtime after the outage: a fresh socket replays every persisted event, in order, once.
    for run_id in list(keys)[:3]:
        expected = list(TaskRun.objects.get(pk=run_id).events.order_by("seq").values_list("seq", flat=True))
        seen = asyncio.run(_ws_replay(cluster, cookie, run_id, len(expected)))
        if seen != expected:
            tally.broken_logs.append(f"RUN-{run_id:03d}: socket replay gave {len(seen)} rows, log has {len(expected)}")
    return keys


def scenario_disk_full(cluster, owner, roots: Path, tally, deadline):
    from tasks.models import TaskRun

    mount = roots / "tiny"
    mount.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        tally.skipped.append(f"disk full: tmpfs mount not permitted here ({done.stderr.decode().strip()[:120]})")
        say("disk full: SKIPPED (" + tally.skipped[-1] + ")")
        return {}
    say("disk full: a write that does not fit a 256 KB tmpfs workspace")
    try:
        folder = mount / "site"
        folder.mkdir()
        (folder / "pages").mkdir()
        old = "<!doctype html><p>old content</p>\n"
        (folder / "pages" / "full-000.html").write_text(old)
        ws = make_workspace(owner, "tiny disk", folder)
        big = "<!doctype html>" + ("x" * 79 + "\n") * 5000  # ~400 KB: does not fit
        run = make_run(owner, ws, "full-000", delay=0, content=big)
        tally.runs += 1
        wait_terminal(cluster, [run.pk], deadline, tally)
        run.refresh_from_db()
        now = (folder / "pages" / "full-000.html").read_text()
        if now not in (old, big):
            tally.dishonest.append(f"{run.reference}: the page is neither its old nor its new content (torn write)")
        if run.state == TaskRun.State.COMPLETED:
            tally.false_successes.append(f"{run.reference}: completed although the write could not fit")
        elif run.state not in TaskRun.TERMINAL_STATES:
            tally.lost.append(f"{run.reference} still {run.state} after the disk filled")
        tally.notes.append(
            f"disk full: {run.reference} ended {run.state} ({run.state_reason[:220]}); page kept its "
            f"{'old' if now == old else 'new'} content"
        )
        return {run.pk: "full-000"}
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI form: 24 runs, a 30 s storm")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--no-postgres-restart", action="store_true")
    parser.add_argument(
        "--max-recoverable", type=int, default=None, help="runs allowed to end recoverable (default: 1 in 100)"
    )
    args = parser.parse_args(argv)
    n_runs = args.runs or (24 if args.short else 200)
    storm = 30 if args.short else 150
    budget = 260 if args.short else 900
    rng = random.Random(args.seed)
    started = time.monotonic()
    deadline = started + budget
    tally = Tally(recoverable_cap=n_runs // 100 if args.max_recoverable is None else args.max_recoverable)
    if args.no_postgres_restart:
        tally.skipped.append("postgresql outage: turned off with --no-postgres-restart")
    say(f"seed {args.seed}; private PostgreSQL and Redis starting")

    with private_services(prefix="command-chaos-") as (pg, redis, folder):
        db_url = pg.create_database("chaos")
        roots = folder / "roots"
        roots.mkdir()
        ledger_path = folder / "ledger.jsonl"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "PYTEST_"))} | {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis.url,
            "COMMAND_ENV_FILE": "",
            "DJANGO_SETTINGS_MODULE": "command_site.settings",
            "SECRET_KEY": "chaos-only-secret-key",
            "COMMAND_SECRET_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "DEBUG": "false",
            "COMMAND_DATA_DIR": str(folder / "data"),
            "COMMAND_WORKSPACE_ROOTS": str(roots),
            "COMMAND_SNAPSHOT_DIR": str(folder / "snapshots"),
            "COMMAND_STORAGE": "local",
            "COMMAND_HANDLER_MODULES": "chaos.handlers",
            "CHAOS_LEDGER": str(ledger_path),
            "COMMAND_LEASE_SECONDS": str(LEASE),
            "COMMAND_Q_TIMEOUT": "30",
            "COMMAND_Q_RETRY": "35",
            "COMMAND_Q_POLL": "0.1",
            "COMMAND_WORKERS": "1",
            "MAX_RETRIES": "2",
            "PYTHONUNBUFFERED": "1",
        }
        # The harness itself connects without a pool: it must see the restarted server at once.
        os.environ.update(env | {"COMMAND_DB_POOL": "false"})
        sys.path.insert(0, str(REPO))
        import django

        django.setup()
        import logging

        logging.getLogger("django-q").setLevel(logging.WARNING)
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        owner = get_user_model().objects.create_user(username="chaos", email="chaos@example.com", password=None)
        cookie = session_cookie(owner)
        workspaces = [make_workspace(owner, f"chaos {i}") for i in range(10)]
        cluster = Cluster(env, folder / "logs")
        keys: dict[int, str] = {}
        try:
            cluster.start()
            say(f"web at {cluster.base}; workers started")
            keys |= scenario_kill_storm(
                cluster,
                owner,
                workspaces,
                n_runs,
                tally,
                ledger_path,
                rng,
                storm,
                started + budget * 0.6,
                n_deliveries=2 if args.short else 6,
            )
            keys |= scenario_freeze(cluster, owner, tally, ledger_path, min(deadline, time.monotonic() + 180))
            keys |= scenario_services(
                cluster,
                owner,
                workspaces,
                pg,
                redis,
                cookie,
                tally,
                min(deadline, time.monotonic() + 120),
                restart_postgres=not args.no_postgres_restart,
            )
            disk_full = scenario_disk_full(cluster, owner, roots, tally, min(deadline, time.monotonic() + 60))
            keys |= disk_full
            # Every run of every scenario, checked once more after everything settled.
            wait_terminal(cluster, list(keys), min(deadline, time.monotonic() + 30), tally)
            final = Tally()
            check_runs(list(keys), keys, read_ledger(ledger_path), final)
            check_deliveries(tally.delivery_runs, final)
            tally.notes += [n for n in final.notes if n not in tally.notes]
            tally.lost, tally.duplicated = final.lost, sorted(set(tally.duplicated) | set(final.duplicated))
            tally.false_successes = sorted(set(tally.false_successes) | set(final.false_successes))
            tally.broken_logs = sorted(set(tally.broken_logs) | set(final.broken_logs))
            tally.dishonest = sorted(set(tally.dishonest) | set(final.dishonest))
            tally.states = final.states
            # A run the disk could not hold is expected to stop; every other recoverable run counts.
            # So is a frozen command's run: the person decides, told its folder was put back.
            expected = {*disk_full, *tally.expected_recoverable}
            check_recoverable([pk for pk in [*keys, *tally.delivery_runs] if pk not in expected], tally)
        finally:
            cluster.stop()
        from command_site.audit import audit_run

        report = audit_run()
        tally.audit = [f"{v.rule}: {v.subject}: {v.message}" for v in report.violations]
        say(f"audit: {len(report.violations)} violation(s) over {report.checked}")
        if tally.failures:
            for log in sorted((folder / "logs").glob("*.log")):
                keep = REPO / "var" / f"chaos-{log.name}"
                keep.parent.mkdir(exist_ok=True)
                keep.write_bytes(log.read_bytes()[-2_000_000:])
            tally.notes.append("process logs kept in var/chaos-*.log")
        from django.db import connections

        connections.close_all()

    print_summary(tally, time.monotonic() - started, worker_starts=cluster.started)
    return tally.verdict()[1]


def check_recoverable(run_ids, tally: Tally) -> None:
    """Each run that ended `recoverable`, with its reason: more than the cap fails the suite."""
    from tasks.models import TaskRun

    for run in TaskRun.objects.filter(pk__in=list(run_ids), state=TaskRun.State.RECOVERABLE).order_by("pk"):
        tally.recoverable.append(f"{run.reference}: {' '.join(run.state_reason.split())[:300]}")


def print_summary(t: Tally, seconds: float, worker_starts: int) -> None:
    rows = [
        ("runs", t.runs),
        ("worker kills (SIGKILL)", t.kills),
        ("worker freezes (SIGSTOP)", t.freezes),
        ("worker starts", worker_starts),
        ("lost", len(t.lost)),
        ("duplicated mutations", len(t.duplicated)),
        ("false successes", len(t.false_successes)),
        ("broken event logs", len(t.broken_logs)),
        ("zombie writes accepted", len(t.zombie_writes)),
        ("web errors during outages", len(t.web_down)),
        ("failed/recoverable without reason", len(t.dishonest)),
        (f"recoverable (cap {t.recoverable_cap})", len(t.recoverable)),
        ("outage checks not met", len(t.outages)),
        ("audit violations", len(t.audit)),
    ]
    print("\nFault-injection summary")
    print("-" * 44)
    for label, value in rows:
        print(f"{label:<36}{value:>8}")
    print("-" * 44)
    print("end states: " + ", ".join(f"{k} {v}" for k, v in sorted(t.states.items())))
    for note in t.notes:
        print(f"note: {note}")
    for line in t.recoverable:
        print(f"recoverable: {line}")
    for skipped in t.skipped:
        print(f"SKIPPED: {skipped}")
    for problem in t.failures[:40]:
        print(f"FAIL: {problem}")
    print(f"{t.verdict()[0]} in {seconds:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
