"""The lease watchdog: a command lives only while its worker keeps renewing its run's lease.

    python -I -S lease_watchdog.py DEADLINE_FD DEADLINE CGROUP_PROCS|- SUBREAPER(0|1) FDS|- -- ARGV...

The worker (tasks.engine.commands) starts this small program *instead of* the command, as the
leader of the command's own session and process group; it starts ARGV (the sandbox's launch, or
`/bin/sh -c …` unsandboxed) as its child, in the same group, and waits for it. DEADLINE is a
CLOCK_MONOTONIC time (seconds; the clock is the same for every process of the machine). The
worker holds the only write end of the pipe DEADLINE_FD and writes a later deadline on it, one per
line, each time it renews the run's lease — a margin before the renewed lease expires in the
database (tasks.engine.fencing.lease_deadline).

When the deadline passes with no later one, or the pipe closes (the worker is gone), the watchdog
SIGKILLs the command with everything it started — the members of its pids cgroup (CGROUP_PROCS),
every descendant of the watchdog, the sandbox's PID namespace with them — waits until none of them
is alive, writes one line to the command's output and exits with LEASE_EXPIRED_EXIT. So the
command is dead before its lease can expire and another attempt take the run, on this host or any
other, whatever state the worker's own Python process is in: this process is apart from it (its
own session), so a worker frozen with SIGSTOP, stuck in a debugger or in a long garbage
collection does not hold it back. (A machine that is itself suspended stops this watchdog too;
its monotonic clock, and the command, resume together with it — that is outside what one host can
guard. And a recovery on another machine reads the lease's expiry with its own clock: this holds
while the machines' clocks agree within the margin, as the lease itself needs them to.)

Unsandboxed (SUBREAPER=1) the watchdog is the command's child subreaper: processes that leave the
group (`setsid`, double forks) are re-parented to it instead of to init, so they are still its
descendants and die with the command — at its deadline, or when the command's first process exits.

FDS (comma-separated, or -) are descriptors the command inherits (the sandbox's network set-up);
the watchdog closes its own copies once the command has started.

Only the standard library; started with `-I -S` (no site packages, no environment) to start fast.
"""

import _signal as signal  # the C module: `signal` itself imports enum, a few ms at every start
import os
import select
import sys
import time

LEASE_EXPIRED_EXIT = 124  # the worker also checks its own record of the deadline before believing it
STOPPED_LINE = b"\n[Command stopped this command: its worker no longer renewed the run's lease]\n"
PR_SET_CHILD_SUBREAPER = 36


def _descendants(root: int) -> list[int]:
    """Every process descended from `root`, seen in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (exists and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def _cgroup_members(procs: str) -> list[int]:
    if procs == "-":
        return []
    try:
        with open(procs) as fh:
            return [int(p) for p in fh.read().split()]
    except (OSError, ValueError):
        return []


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_everything(procs: str, wait: float = 5.0) -> bool:
    """SIGKILL the cgroup's members and every descendant until none is alive; True when none is."""
    me = os.getpid()
    end = time.monotonic() + wait
    while True:
        targets = [p for p in {*_cgroup_members(procs), *_descendants(me)} if p != me and alive(p)]
        if not targets:
            return True
        if time.monotonic() > end:
            return False
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.002)
        _reap()


def _subreaper() -> None:
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _exit_like(status: int) -> None:
    """Exit as the command did: with its code, or killed by its signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL, SIGSTOP: always their default
            pass
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


def main(argv: list[str]) -> None:
    fd, deadline, procs, subreaper = int(argv[1]), float(argv[2]), argv[3], argv[4] == "1"
    passed = [int(n) for n in argv[5].split(",")] if argv[5] != "-" else []
    command = argv[argv.index("--") + 1 :]
    if subreaper:
        _subreaper()
    # SIGTERM/SIGINT/SIGHUP reach the whole group, the command too: the watchdog waits for the
    # command to end (and then ends like it) instead of dying before it.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    child = os.fork()
    if child == 0:
        try:
            os.close(fd)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            os.execve(command[0], command, os.environ)  # noqa: S606 - the launch built by tasks.engine.commands
        finally:
            os._exit(127)
    # The descriptors the command inherited (the sandbox's network set-up) are its own now.
    for number in passed:
        try:
            os.close(number)
        except OSError:
            pass
    pidfd = os.pidfd_open(child)
    watching = [fd, pidfd]
    buffer = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            ready, _, _ = select.select(watching, [], [], left)
        except InterruptedError:
            continue
        if pidfd in ready:
            _, status = os.waitpid(child, 0)
            if subreaper:
                kill_everything(procs)  # nothing it started outlives it
            _exit_like(status)
        if fd in ready:
            data = os.read(fd, 4096)
            if not data:  # the worker is gone: nobody renews the lease any more
                break
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                try:
                    deadline = max(deadline, float(line))
                except ValueError:
                    continue
    kill_everything(procs)
    try:
        os.write(1, STOPPED_LINE)
    except OSError:
        pass
    os._exit(LEASE_EXPIRED_EXIT)


if __name__ == "__main__":
    main(sys.argv)
