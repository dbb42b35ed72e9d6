"""The escape suite: real commands in the real sandbox try to get out, and none may.

Every vector runs through `tasks.engine.commands.command_launch` — the launch every run's command
and every verify command uses — with real secrets planted where an attacker would look: a `.env`
and a database beside the workspaces, another account's workspace, a file in the real home folder,
a canary in this process's environment (the worker's), a server listening on 127.0.0.1. A vector
escapes when its output shows a planted secret or the host shows its effect. The suite reports
the count; it must be 0. With the sandbox off the same vectors must be announced "runs unsandboxed"
and never be answered by a remembered preference (the honest path, not a false claim).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from command_site.sandbox import bwrap_path, sandbox_home, sandbox_status
from tasks.engine.commands import _alive, command_launch, kill_process_tree

SECRET = f"canary-{uuid.uuid4().hex}"


@pytest.fixture(scope="module", autouse=True)
def _bubblewrap_is_required():
    if bwrap_path() is None:
        pytest.fail(
            "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap): the escape suite needs it"
        )


@dataclass
class Place:
    workspace: Path
    other_workspace: Path
    data_dir: Path
    home_secret: Path
    port: int
    outside: Path  # a folder beside the workspace, where writes must never land
    connection_expected: bool = False  # only the test that grants network may reach the loopback server


@pytest.fixture
def place(tmp_path, settings, monkeypatch):
    settings.COMMAND_SANDBOX = "on"
    ws = tmp_path / "roots" / "alice-site"
    ws.mkdir(parents=True)
    (ws / "index.html").write_text("<h1>Alice</h1>\n")
    other = tmp_path / "roots" / "bob-secrets"
    other.mkdir()
    (other / "keys.txt").write_text(SECRET + "\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / ".env").write_text(f"SECRET_KEY={SECRET}\nCOMMAND_SECRET_KEYS={SECRET}\n")
    (data / "command.sqlite3").write_text(SECRET)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    # A link planted in the workspace before the command runs, pointing out (a symlink escape).
    os.symlink(outside / "secret.txt", ws / "planted-link")
    os.symlink(data, ws / "planted-dir-link")
    # Another workspace's sandbox home (its npm token, say) must stay out of this one's sight.
    (sandbox_home(other) / ".npmrc").write_text(f"//registry.npmjs.org/:_authToken={SECRET}\n")
    home_secret = Path.home() / f".command-escape-{uuid.uuid4().hex}"
    home_secret.write_text(SECRET)
    # The worker's own environment holds secrets; the sandbox must not show them.
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("COMMAND_SECRET_KEYS", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"postgres://postgres:{SECRET}@127.0.0.1:5432/command")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    accepted: list[bytes] = []

    def serve():
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                accepted.append(b"connected")
                conn.sendall(SECRET.encode())
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    result = Place(ws, other, data, home_secret, server.getsockname()[1], outside)
    yield result
    server.close()
    home_secret.unlink(missing_ok=True)
    assert result.connection_expected or not accepted, "a sandboxed command reached a server on 127.0.0.1"


def run_in_sandbox(
    command: str, ws: Path, *, timeout: float = 20, network: bool = False
) -> tuple[int | None, str, float]:
    """Start `command` exactly as a run's step does, wait, then kill whatever is left of it."""
    launch = command_launch(command=command, workspace=ws, cwd=ws, network=network)
    assert launch.sandboxed, "the suite must run against the real sandbox"
    started = time.monotonic()
    proc = subprocess.Popen(
        launch.argv,
        cwd="/",
        env=launch.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=launch.pass_fds,
    )
    launch.started(proc)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_process_tree(proc, grace=0)
        out, _ = proc.communicate()
    kill_process_tree(proc, grace=0)
    launch.cleanup()
    return proc.returncode, out.decode(errors="replace")[-20000:], time.monotonic() - started


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if token.encode() in Path(f"/proc/{entry}/cmdline").read_bytes() and _alive(int(entry)):
                    found.append(int(entry))
    return found


def _sleepers(token: str) -> list[int]:
    """The `sleep … token` processes themselves (not the shell or bwrap whose argv also holds token)."""
    return [p for p in _processes_with(token) if Path(f"/proc/{p}/cmdline").read_bytes().startswith(SLEEPER_ARGV0)]


def sleeper(seconds: int, token: str) -> str:
    """A process that sleeps with `token` in its command line (sleep itself refuses extra words)."""
    return f"python3 -c 'import time; time.sleep({seconds})' {token}"


SLEEPER_ARGV0 = b"python3\0-c\0import time"


# (name, command template, host paths that must not exist afterwards). A vector's output must never
# hold a planted secret or "{token}-reached" (printed only when the forbidden thing worked). The
# templates see: {ws} workspace, {other} another account's workspace, {data} the data folder, {home}
# a file in the real home folder, {port} a loopback server, {outside} a folder beside the workspace,
# {repo} Command's own code, {token} this run's marker.
R = "&& echo {token}-reached"
VECTORS: list[tuple[str, str, list[str]]] = [
    # Writes outside the workspace
    ("write /tmp (host)", "echo x > /tmp/escape-{token}", ["/tmp/escape-{token}"]),
    ("touch /tmp", "touch /tmp/escape2-{token}", ["/tmp/escape2-{token}"]),
    ("cd .. and touch", "cd .. && touch escape-{token}", ["{ws}/../escape-{token}"]),
    ("sh -c write outside", "sh -c 'echo x > {outside}/sh-{token}'", ["{outside}/sh-{token}"]),
    ("mv a file out", "mv index.html {outside}/moved-{token}", ["{outside}/moved-{token}"]),
    ("cp into the other workspace", "cp index.html {other}/copied-{token}", ["{other}/copied-{token}"]),
    ("write /usr", f"echo x > /usr/escape-{{token}} {R}", ["/usr/escape-{token}"]),
    ("write /etc/hosts", f"echo 1.2.3.4 evil >> /etc/hosts {R}", []),
    ("write into the home folder", "echo x > {home}-written", ["{home}-written"]),
    ("write through a planted symlink", "echo x > planted-link", []),
    ("write through a planted dir link", "echo x > planted-dir-link/new-{token}", ["{data}/new-{token}"]),
    ("rm -rf the other workspace", "rm -rf {other}", []),
    ("rm -rf ~", "rm -rf ~ ; ls -A ~", []),
    ("python writes outside", "python3 -c \"open('{outside}/py-{token}','w').write('x')\"", ["{outside}/py-{token}"]),
    (
        "node writes outside",
        "node -e \"require('fs').writeFileSync('{outside}/js-{token}','x')\"",
        ["{outside}/js-{token}"],
    ),
    # Reads of secrets
    ("read .env by absolute path", "cat {data}/.env", []),
    ("read the database file", "cat {data}/command.sqlite3", []),
    ("list the data folder", f"ls -la {{data}} {R}", []),
    ("read Command's code", f"cat {{repo}}/command_site/settings.py > /dev/null {R}", []),
    ("read another workspace", "cat {other}/keys.txt", []),
    ("find another workspace", "find / -path /usr -prune -o -path /proc -prune -o -name keys.txt -exec cat {{}} +", []),
    ("grep the visible disk", "grep -rs canary- /home /root /tmp /etc /work /var /srv /opt 2>/dev/null | head", []),
    ("another workspace's home", "cat ~/.npmrc; ls -a /home", []),
    ("read a home secret", "cat {home}", []),
    ("list the home folder", "ls -A $(dirname {home}) | grep -q command-escape && echo {token}-reached", []),
    ("read /etc/shadow", f"cat /etc/shadow > /dev/null {R}", []),
    ("read a planted symlink", "cat planted-link", []),
    ("read through a planted dir link", "cat planted-dir-link/.env", []),
    ("new symlink out", "ln -s {data}/.env mine && cat mine", []),
    ("hard link out", "ln {outside}/secret.txt hard-{token} && cat hard-{token}", []),
    ("hard link a system file", f"ln /etc/passwd hard2-{{token}} {R}", []),
    # Other processes and the worker's environment
    ("read /proc/1/environ", "cat /proc/1/environ", []),
    ("read /proc/$PPID/environ", "cat /proc/$PPID/environ", []),
    ("read every environ", "cat /proc/*/environ", []),
    ("own environment", "env", []),
    ("another process's command line", "cat /proc/*/cmdline", []),
    ("kill every process", "kill -9 -1; echo done", []),
    # Network
    (
        "connect to a local service",
        "python3 -c \"import socket; print(socket.create_connection(('127.0.0.1',{port}),2).recv(99))\"",
        [],
    ),
    (
        "connect to PostgreSQL's port",
        f"python3 -c \"import socket; socket.create_connection(('127.0.0.1',5432),2)\" {R}",
        [],
    ),
    ("curl the internet", f"curl -sS -m 3 -o /dev/null https://example.com {R}", []),
    ("DNS lookup", f"getent hosts example.com {R}", []),
    ("Unix socket of PostgreSQL", "ls /var/run/postgresql /run/postgresql && echo {token}-reached", []),
    # Privilege and devices
    ("mount over /usr", f"mount -t tmpfs none /usr {R}", []),
    ("make a block device", f"mknod disk-{{token}} b 8 0 {R}", []),
    (
        "see a raw disk",
        "for d in /dev/sda /dev/vda /dev/nvme0n1 /dev/xvda; do test -e $d && echo {token}-reached; done",
        [],
    ),
    ("read /sys", f"ls /sys/class/net {R}", []),
    # Kernel settings: a sysctl written from inside would change the host (core_pattern runs a program as
    # root). Only harmless ones are tried: the same value written back, a cache drop.
    ("write a kernel setting", f"cat /proc/sys/kernel/printk_ratelimit > /proc/sys/kernel/printk_ratelimit {R}", []),
    ("drop the host's caches", f"echo 1 > /proc/sys/vm/drop_caches {R}", []),
    ("sysrq", f"test -w /proc/sysrq-trigger {R}", []),
    ("hostname", f"hostname evil-{{token}} {R}; cat /proc/sys/kernel/hostname", []),
    ("docker socket", "test -e /var/run/docker.sock -o -e /run/docker.sock && echo {token}-reached", []),
]


def _fill(template: str, p: Place, token: str) -> str:
    return template.format(
        ws=p.workspace,
        other=p.other_workspace,
        data=p.data_dir,
        home=p.home_secret,
        port=p.port,
        outside=p.outside,
        repo=settings.BASE_DIR,
        token=token,
    )


def test_the_escape_suite_reports_zero_escapes(place, capsys):
    token = uuid.uuid4().hex[:12]
    # A host process holding the secret in its command line (for /proc and kill -1 vectors).
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", SECRET])
    escapes = []
    for name, template, must_not_exist in VECTORS:
        command = _fill(template, place, token)
        code, out, _ = run_in_sandbox(command, place.workspace)
        markers = (SECRET, f"{token}-reached")
        leaked = [marker for marker in markers if marker in out]
        created = [p for p in (_fill(t, place, token) for t in must_not_exist) if os.path.lexists(p)]
        if leaked or created:
            escapes.append(f"{name}: {command!r} → {leaked or created} (exit {code}): {out[:300]}")
    assert host.poll() is None, "kill -9 -1 inside the sandbox killed a process outside it"
    host.kill()
    host.wait()
    # Nothing the vectors did may have changed what lies outside.
    assert (place.other_workspace / "keys.txt").read_text().strip() == SECRET
    assert (place.outside / "secret.txt").read_text() == SECRET
    assert place.home_secret.read_text() == SECRET
    assert "1.2.3.4 evil" not in Path("/etc/hosts").read_text()
    with capsys.disabled():
        print(f"\nsandbox escape suite: {len(VECTORS) + len(TIMED_VECTORS)} vectors, {len(escapes)} escapes")
    assert len(VECTORS) >= 40
    assert escapes == [], "\n".join(escapes)


def test_a_vector_that_escapes_is_counted(place):
    """The suite can fail: the same check run against a command that stays inside but prints the
    planted secret counts it (so a real leak would be seen)."""
    (place.workspace / "inside.txt").write_text(SECRET)
    _, out, _ = run_in_sandbox("cat inside.txt", place.workspace)
    assert SECRET in out


# --- Vectors that need time or a second process ----------------------------------------------

TIMED_VECTORS = ["setsid &", "nohup &", "double fork", "subshell &", "worker killed", "fork bomb", "many processes",
                 "memory", "file size", "huge output", "time limit"]  # fmt: skip


def test_background_processes_die_with_the_command(place):
    token = f"bg-{uuid.uuid4().hex[:10]}"
    command = (
        f"setsid {sleeper(77, token)} & "
        f"nohup sh -c 'sleep 3; echo late > late1.txt' {token} >/dev/null 2>&1 & "
        f"( {sleeper(3, token)}; echo late > late2.txt ) & "
        f'python3 -c "import os,time\nif os.fork(): os._exit(0)\nos.setsid()\nif os.fork(): os._exit(0)\n'
        f"time.sleep(3); open('late3.txt','w').write('late')\" {token} & "
        "echo started"
    )
    # The control: started bare, the same command leaves its background processes running.
    bare_token = f"bare-{token}"
    bare = command.replace(token, bare_token)
    subprocess.run(["/bin/sh", "-c", bare], cwd=place.outside, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    survivors = _processes_with(bare_token)
    for pid in survivors:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert survivors, "the control should leave background processes behind"

    code, out, _ = run_in_sandbox(command, place.workspace)
    assert "started" in out and code == 0
    time.sleep(4)
    assert not _processes_with(token), "a background process outlived its command"
    assert not list(place.workspace.glob("late*.txt")), "a background process wrote after its command ended"


def test_the_command_dies_with_its_worker(place, tmp_path):
    """A worker killed with SIGKILL takes its command and everything it started with it."""
    token = f"orphan-{uuid.uuid4().hex[:10]}"
    launch = command_launch(
        command=f"setsid {sleeper(90, token)} & {sleeper(90, token)}; echo late > late.txt",
        workspace=place.workspace,
        cwd=place.workspace,
    )
    # A stand-in worker: a separate process that starts the sandbox and then dies without cleanup.
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(120)",
            *launch.argv,
        ],
        env=launch.env,
        cwd="/",
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while len(_sleepers(token)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_sleepers(token)) >= 2, "the sandboxed command did not start"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        deadline = time.monotonic() + 5
        while _processes_with(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _processes_with(token), "the command outlived its worker"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        launch.cleanup()
    time.sleep(0.5)
    assert not (place.workspace / "late.txt").exists()


def test_a_fork_bomb_is_contained_and_the_machine_keeps_working(place, settings):
    if not sandbox_status().process_limit:
        pytest.fail("no process limit can be enforced here (no writable pids cgroup and running as root)")
    settings.COMMAND_SANDBOX_MAX_PROCESSES = 64
    started = time.monotonic()
    code, out, elapsed = run_in_sandbox(
        "bomb() { bomb | bomb & }; bomb; sleep 3; echo survived", place.workspace, timeout=8
    )
    assert elapsed < 15
    # The host can still start processes right away.
    assert subprocess.run(["true"], check=False).returncode == 0
    assert time.monotonic() - started < 20


def test_the_process_limit_holds(place, settings):
    if not sandbox_status().process_limit:
        pytest.fail("no process limit can be enforced here (no writable pids cgroup and running as root)")
    settings.COMMAND_SANDBOX_MAX_PROCESSES = 40
    script = (
        "import subprocess\nok = 0\nkids = []\n"
        "for i in range(200):\n"
        "    try:\n        kids.append(subprocess.Popen(['sleep', '5'])); ok += 1\n"
        "    except OSError:\n        pass\n"
        "print('started', ok)\n"
    )
    (place.workspace / "many.py").write_text(script)
    _, out, _ = run_in_sandbox("python3 many.py", place.workspace)
    started = int(out.split("started", 1)[1].split()[0])
    assert started < 40, out


def test_memory_is_limited(place, settings):
    settings.COMMAND_SANDBOX_MEMORY_MB = 256
    _, out, _ = run_in_sandbox("python3 -c \"b = bytearray(512 * 1024 * 1024); print('allocated')\"", place.workspace)
    assert "MemoryError" in out and "allocated" not in out


def test_file_size_is_limited(place, settings):
    settings.COMMAND_SANDBOX_FILE_MB = 1
    code, _, _ = run_in_sandbox("head -c 5000000 /dev/zero > big.bin", place.workspace)
    assert code != 0
    assert (place.workspace / "big.bin").stat().st_size <= 1024 * 1024


@pytest.mark.django_db(transaction=True)
def test_huge_output_stops_the_command_and_time_limits_hold(owner, tmp_path, settings):
    """Through a whole run: `yes` past the output cap is stopped; a sleeper past its time limit too."""
    from providers.contracts import ActionType
    from tasks import jobs
    from tasks.engine.dispatch import run_create
    from tasks.models import CommandExecution
    from tasks.tests.engine_support import make_task, make_workspace, step, verify_step

    settings.COMMAND_SANDBOX = "on"
    settings.COMMAND_SANDBOX_OUTPUT_MB = 1
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    task = make_task(
        owner,
        ws,
        [
            step("flood", ActionType.RUN_COMMAND, "Flood", command="yes 0123456789abcdef"),
            verify_step(),
        ],
    )
    run = run_create(task=task)
    started = time.monotonic()
    jobs.dispatch_next()
    assert time.monotonic() - started < 30
    execution = CommandExecution.objects.get(run=run, step__step_id="flood")
    assert execution.output_truncated and execution.exit_code != 0
    assert run.events.filter(kind="command.finished", title__contains="more than 1 MB").exists()
    started_row = run.events.get(kind="command.started")
    assert started_row.payload["sandboxed"] is True and "unsandboxed" not in started_row.title

    task = make_task(
        owner, ws, [step("slow", ActionType.RUN_COMMAND, "Slow", command="sleep 60", timeout=1), verify_step()]
    )
    run = run_create(task=task)
    started = time.monotonic()
    jobs.dispatch_next()
    assert time.monotonic() - started < 15
    assert CommandExecution.objects.get(run=run, step__step_id="slow").timed_out


# --- The same vectors with the sandbox off: the honest path -----------------------------------


@pytest.mark.django_db
def test_with_the_sandbox_off_every_vector_says_unsandboxed_and_memory_never_answers(settings, owner, tmp_path, client):
    from approvals.models import ApprovalPreference
    from approvals.policy import facts_for_step
    from approvals.services.gate import Outcome, approval_gate_check
    from approvals.tests.conftest import make_step
    from tasks.models import PlanRevision, StepExecution, Task, TaskRun
    from workspaces.models import Workspace

    settings.COMMAND_SANDBOX = "off"
    assert not sandbox_status().sandboxed and sandbox_status().label == "runs unsandboxed"
    health = client.get("/health").json()
    assert health["sandbox"]["sandboxed"] is False and health["sandbox"]["commands"] == "runs unsandboxed"

    folder = tmp_path / "acme"
    folder.mkdir()
    workspace = Workspace.objects.create(owner=owner, name="Acme", path=str(folder))
    for category in ("run_command", "network"):
        ApprovalPreference.objects.create(
            owner=owner, category=category, scope="workspace", workspace=workspace, decision="allow"
        )
    place = Place(folder, tmp_path / "other", tmp_path / "data", Path.home() / ".x", 5432, tmp_path / "out")
    commands = [_fill(t, place, "tok") for _, t, _ in VECTORS] + ["npm test", "pytest -q", "ls"]
    for i, command in enumerate(commands):
        task = Task.objects.create(owner=owner, raw_prompt=f"run {command}", workspace=workspace)
        revision = PlanRevision.objects.create(task=task, number=1, planner="test", brief={"goal": "run it"})
        run = TaskRun.objects.create(task=task, owner=owner, plan_revision=revision, workspace=workspace)
        step_row = StepExecution.objects.create(
            run=run, step_id="s1", position=1, action_type="run_command", title="Run", idempotency_key=uuid.uuid4().hex
        )
        plan_step = make_step(action_type="run_command", command=command)
        decision = approval_gate_check(
            run=run,
            step_execution=step_row,
            plan_step=plan_step,
            facts=facts_for_step(plan_step, workspace_root=folder, workspace_name="Acme"),
        )
        assert decision.outcome == Outcome.WAIT, f"{command!r} was answered by memory while unsandboxed"
        assert "runs unsandboxed" in decision.request.risk_reason, command
        assert decision.request.action["sandboxed"] is False
        if i == 0:
            client.force_login(owner)
            page = client.get(decision.request.get_absolute_url()).content.decode()
            assert "runs unsandboxed" in page and "cannot remember this decision" in page


def test_network_is_on_only_when_the_launch_was_granted_it(place):
    """Granted network gives the sandbox a link out (the switch is real); with slirp4netns installed
    this machine's own services stay closed to it even then, and without it they are reachable —
    which is what the approval says."""
    from command_site.sandbox import _host_addresses, network_reach, slirp_path

    probe = (
        "cat /proc/net/dev | grep -c -E 'tap0|eth' ; "
        f"python3 -c \"import socket; print(socket.create_connection(('127.0.0.1', {place.port}), 2).recv(99))\""
    )
    _, closed, _ = run_in_sandbox(probe, place.workspace)
    _, opened, _ = run_in_sandbox(probe, place.workspace, network=True)
    assert closed.splitlines()[0] == "0" and SECRET not in closed
    assert opened.splitlines()[0] != "0", opened
    if slirp_path():
        assert SECRET not in opened and "not this machine's own services" in network_reach()
        # Not through this machine's own addresses either, nor the metadata service or private ranges.
        server = socket.socket()
        server.bind(("0.0.0.0", 0))  # noqa: S104 — listening everywhere is the point: the sandbox must still not reach it
        server.listen(5)
        port = server.getsockname()[1]
        served = []
        threading.Thread(target=lambda: served.append(server.accept()), daemon=True).start()
        own = [a.split("/")[0] for a in _host_addresses()]
        targets = [(a, port) for a in own] + [("169.254.169.254", 80), ("10.1.2.3", 80), ("192.168.1.1", 80)]
        reach = ";".join(
            f"python3 -c \"import socket\ntry:\n socket.create_connection(('{h}', {p}), 2); print('REACHED {h}')\n"
            f"except OSError as e: print('closed {h}', e)\""
            for h, p in targets
        )
        _, out, _ = run_in_sandbox(reach, place.workspace, network=True)
        server.close()
        assert "REACHED" not in out and not served, out
        assert out.count("closed") == len(targets)
    else:
        assert SECRET in opened and "and this machine's own services" in network_reach()
        place.connection_expected = True
