"""The sandbox every command runs in: bubblewrap, or an honest "runs unsandboxed".

What a sandboxed command sees (DESIGN.md, "Commands run in a sandbox"):
- its workspace folder, read-write, at its real absolute path;
- a home folder of its own per workspace (npm and pip caches live there), read-write;
- a private `/tmp`, a minimal `/dev`, its own `/proc` (own PID namespace: no `/proc/$PPID`) with
  `/proc/sys` read-only (kernel settings are global);
- the system's program folders (`/usr`, `/bin`, `/lib*`), a prepared copy of a few harmless `/etc`
  files, the prefix of the Python Command runs on and of `node` (e.g. a pyenv version, not the home
  folder around it) and the folders in COMMAND_SANDBOX_READONLY_PATHS, all read-only;
- nothing else: not Command's data folder, `.env`, the database, other workspaces, home folders.
It starts with no capabilities, an environment of a few plain variables (bwrap itself is started
with an empty one, so the sandbox's PID 1 holds nothing either), no network unless the command's
approval allowed it — and then, with slirp4netns installed, a private link out with this machine's
own addresses and private ranges closed (`network_reach()` says what it reaches) — and limits on
address space, file size, output and — where a pids cgroup can be made — processes. It dies with
its parent (the worker) and with its PID namespace.

Where bubblewrap is missing, cannot create namespaces, or COMMAND_SANDBOX=off, `sandbox_status()`
says so in words and commands run unsandboxed; the approval and `/health` repeat it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

SANDBOX_HOME = "/home/command"  # where the per-workspace home folder appears inside
BWRAP_NAMES = ("bwrap",)
PATH_INSIDE = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"

# /etc as the sandbox sees it: copies of the files tools need (users' names, the loader's cache,
# DNS, certificates, the alternatives symlinks /usr/bin points through) and nothing secret — never
# shadow, ssl/private, ssh keys or sudoers. A prepared copy, mounted once: one mount per file was
# most of the sandbox's start-up cost.
ETC_FILES = (
    "passwd", "group", "hosts", "nsswitch.conf", "resolv.conf", "gai.conf", "host.conf", "ld.so.cache",
    "localtime", "timezone", "os-release", "mime.types", "services", "protocols", "npmrc", "gitconfig",
    "ssl/openssl.cnf",
)  # fmt: skip
ETC_TREES = ("alternatives", "ssl/certs", "ca-certificates", "python3")  # copied with their symlinks as links
PROGRAM_FOLDERS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
UNSANDBOXED = "runs unsandboxed"


@dataclass(frozen=True)
class SandboxStatus:
    """Whether commands run sandboxed here, and the words that say why or why not."""

    sandboxed: bool
    detail: str
    process_limit: bool = False

    @property
    def label(self) -> str:
        return "runs in a sandbox" if self.sandboxed else UNSANDBOXED


_status_lock = threading.Lock()
_status_cache: dict[tuple, tuple[SandboxStatus, float]] = {}
RETRY_FAILED_PROBE_SECONDS = 60.0  # a failed probe (a busy machine, a missing package) is tried again


def bwrap_path() -> str | None:
    for name in BWRAP_NAMES:
        found = shutil.which(name, path="/usr/bin:/bin:/usr/local/bin:/usr/sbin")
        if found:
            return found
    return None


def sandbox_status(*, refresh: bool = False) -> SandboxStatus:
    """Probe once per process (and per setting): can a real sandbox start on this machine?

    The probe starts bubblewrap with the same namespaces a command gets and runs `true` in it;
    anything short of exit 0 means commands run unsandboxed, and the detail says why.
    """
    key = (settings.COMMAND_SANDBOX, bwrap_path())
    with _status_lock:
        cached = _status_cache.get(key)
        if cached is not None and not refresh:
            status, at = cached
            if status.sandboxed or key[0] == "off" or time.monotonic() - at < RETRY_FAILED_PROBE_SECONDS:
                return status
        status = _probe(*key)
        _status_cache[key] = (status, time.monotonic())
        return status


def _probe(setting: str, bwrap: str | None) -> SandboxStatus:
    if setting == "off":
        return SandboxStatus(False, "the sandbox is turned off (COMMAND_SANDBOX=off): commands run unsandboxed")
    if bwrap is None:
        return SandboxStatus(
            False, "bubblewrap (bwrap) is not installed: commands run unsandboxed (install the “bubblewrap” package)"
        )
    probe_dir = Path(settings.COMMAND_SANDBOX_HOME_DIR) / "probe"
    try:
        probe_dir.mkdir(parents=True, exist_ok=True)
        launch = sandbox_launch("true", workspace=probe_dir, cwd=probe_dir, home=probe_dir, use_cgroup=False)
        done = subprocess.run(launch.argv, env=launch.env, capture_output=True, timeout=20, start_new_session=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return SandboxStatus(
            False, f"bubblewrap could not start ({exc.__class__.__name__}: {exc}): commands run unsandboxed"
        )
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        return SandboxStatus(
            False,
            f"bubblewrap cannot create its namespaces here ({why[-1] if why else f'exit {done.returncode}'}): "
            "commands run unsandboxed",
        )
    limit = pids_cgroup_root() is not None or os.geteuid() != 0
    return SandboxStatus(
        True,
        "commands run in a bubblewrap sandbox (workspace only, no network unless approved"
        + (", process limit on)" if limit else "; no process limit: no pids cgroup is writable here)"),
        process_limit=limit,
    )


# --- Toolchains ---------------------------------------------------------------------------


def toolchain_folders() -> list[Path]:
    """Language toolchains that live outside /usr, shown read-only at their own paths: the Python
    Command itself runs on (e.g. a pyenv version) and the `node` on the worker's PATH (e.g. nvm),
    each as its installation prefix only — never the home folder around it."""
    found: list[Path] = []
    python = Path(os.path.realpath(sys.base_prefix))
    node = shutil.which("node")
    candidates = [python]
    if node:
        candidates.append(Path(os.path.realpath(node)).parent.parent)
    for prefix in candidates:
        if prefix == Path("/usr") or Path("/usr") in prefix.parents or prefix == Path("/"):
            continue
        if (prefix / "bin").is_dir() and prefix not in found:
            found.append(prefix)
    return found


# --- The sandbox's /etc --------------------------------------------------------------------

_etc_lock = threading.Lock()


def _etc_sources() -> list[Path]:
    return [p for p in (Path("/etc", n) for n in (*ETC_FILES, *ETC_TREES)) if p.is_symlink() or p.exists()]


def sandbox_etc() -> Path:
    """The prepared /etc (built again whenever one of its sources changes on the host)."""
    sources = _etc_sources()
    stamp = hashlib.sha256()
    for path in sources:
        st = path.lstat()
        stamp.update(f"{path}:{st.st_mtime_ns}:{st.st_size}".encode())
    target = Path(settings.COMMAND_SANDBOX_HOME_DIR) / "etc" / stamp.hexdigest()[:16]
    if target.is_dir():
        return target
    with _etc_lock:
        if target.is_dir():
            return target
        building = target.with_name(f"{target.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
        building.mkdir(parents=True)
        for path in sources:
            dest = building / path.relative_to("/etc")
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                if path.is_symlink():
                    os.symlink(os.readlink(path), dest)
                elif path.is_dir():
                    shutil.copytree(path, dest, symlinks=True)
                else:
                    shutil.copy2(path, dest)
            except (OSError, shutil.Error):  # unreadable for this account: the sandbox goes without it
                continue
        for folder in sorted(building.rglob("*"), reverse=True):
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)
        building.chmod(0o755)
        try:
            building.rename(target)
        except OSError:  # another process built it first
            shutil.rmtree(building, ignore_errors=True)
    return target


# --- Per-workspace home --------------------------------------------------------------------


def sandbox_home(workspace: Path) -> Path:
    """The workspace's own writable home (HOME, npm and pip caches), outside the workspace itself."""
    real = os.path.realpath(workspace)
    digest = hashlib.sha256(real.encode()).hexdigest()[:20]
    home = Path(settings.COMMAND_SANDBOX_HOME_DIR) / "homes" / digest
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


# --- Process limit (pids cgroup) ----------------------------------------------------------


def pids_cgroup_root() -> Path | None:
    """A pids cgroup folder this process may create children in, or None.

    cgroup v1 (`/sys/fs/cgroup/pids`) or a v2 cgroup whose subtree already enables `pids`. As root,
    RLIMIT_NPROC is not enforced by the kernel, so this is the only process limit that holds.
    """
    own = ""
    v2 = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            hierarchy, controllers, path = line.split(":", 2)
            if "pids" in controllers.split(","):
                own = path
            if hierarchy == "0":
                v2 = path
    candidates = []
    if own:
        candidates.append(Path("/sys/fs/cgroup/pids") / own.lstrip("/"))
    if v2:
        for mount in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
            base = mount / v2.lstrip("/")
            with contextlib.suppress(OSError):
                if "pids" in (base / "cgroup.subtree_control").read_text().split():
                    candidates.append(base)
    for base in candidates:
        if (base / "cgroup.procs").exists() and os.access(base, os.W_OK):
            return base
    return None


_pool_lock = threading.Lock()
_pool: list[PidsCgroup] = []  # emptied cgroups of this process, ready to be used again


@dataclass
class PidsCgroup:
    """A pids cgroup holding one command's processes at a time.

    Making and removing a cgroup for every command costs the kernel ~20 ms (RCU grace periods), so
    each worker process keeps the cgroups its commands used and reuses them once they are empty;
    they are removed when the process exits (and stale ones of dead processes on the next start).
    """

    path: Path

    @classmethod
    def create(cls, max_processes: int) -> PidsCgroup | None:
        with _pool_lock:
            while _pool:
                cgroup = _pool.pop()
                if cgroup.path.is_dir() and not cgroup.pids() and cgroup._set_max(max_processes):
                    return cgroup
        root = pids_cgroup_root()
        if root is None:
            return None
        _remove_stale(root)
        path = root / f"command-sandbox-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            path.mkdir()
        except OSError:
            return None
        cgroup = cls(path)
        if not cgroup._set_max(max_processes):
            cgroup.remove()
            return None
        return cgroup

    def _set_max(self, max_processes: int) -> bool:
        try:
            (self.path / "pids.max").write_text(str(max_processes))
        except OSError:
            return False
        return True

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup (a setsid'd one too) until it is empty; then the
        cgroup goes back to the pool (or is removed if something in it would not die)."""
        pause = 0.0005
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                with _pool_lock:
                    _pool.append(self)
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(pause)  # a killed process leaves the cgroup within a millisecond or two
            pause = min(pause * 2, 0.05)
        self.remove()

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


def _remove_stale(root: Path) -> None:
    """Empty cgroups left by worker processes that no longer exist."""
    if getattr(_remove_stale, "done", False):
        return
    _remove_stale.done = True
    for folder in root.glob("command-sandbox-*"):
        owner = folder.name.split("-")[2]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(OSError):
                folder.rmdir()


@atexit.register
def _empty_pool() -> None:
    with _pool_lock:
        for cgroup in _pool:
            cgroup.remove()
        _pool.clear()


# --- The launch -----------------------------------------------------------------------------


@dataclass
class SandboxLaunch:
    """What to hand to Popen (argv, env, pass_fds); `started(proc)` right after Popen; `cleanup()`
    at the end (empties the pids cgroup, stops the network helper)."""

    argv: list[str]
    env: dict[str, str]
    sandboxed: bool
    network: bool = False
    cgroup: PidsCgroup | None = None
    notes: list[str] = field(default_factory=list)
    pass_fds: tuple[int, ...] = ()
    private_network: _PrivateNetwork | None = None

    def started(self, proc: subprocess.Popen) -> None:
        """Finish what needs the started sandbox: its private network, then let the command run."""
        if self.private_network is not None:
            self.network = self.private_network.connect()

    def cleanup(self) -> None:
        if self.private_network is not None:
            self.private_network.close()
        if self.cgroup is not None:
            self.cgroup.kill_all()


def slirp_path() -> str | None:
    return shutil.which("slirp4netns", path="/usr/bin:/bin:/usr/local/bin")


def network_reach() -> str:
    """What a command allowed the network can reach here, in the approval's words."""
    if slirp_path():
        return (
            "the internet, but not this machine's own services nor private networks (127.0.0.1, this "
            "machine's addresses, 10/8, 172.16/12, 192.168/16, 169.254/16 and 100.64/10 are closed to it)"
        )
    return "the internet and this machine's own services (install slirp4netns to close 127.0.0.1 to it)"


class _PrivateNetwork:
    """Network for one sandbox through slirp4netns: the sandbox keeps its own network namespace,
    slirp4netns gives it a user-mode link out with the host's loopback closed to it
    (--disable-host-loopback). bwrap waits on `block` until the link is up (or has failed: then
    the command runs with no network, and the launch says so)."""

    def __init__(self) -> None:
        self.info_r, self.info_w = os.pipe()
        self.block_r, self.block_w = os.pipe()
        self.exit_w = -1
        self.helper: subprocess.Popen | None = None

    def bwrap_args(self) -> list[str]:
        return ["--info-fd", str(self.info_w), "--block-fd", str(self.block_r)]

    def connect(self) -> bool:
        import json
        import select

        self._close("info_w", "block_r")  # the sandbox holds its own copies now
        ok = False
        try:
            data = b""
            deadline = time.monotonic() + 10
            while b"}" not in data and time.monotonic() < deadline:
                ready, _, _ = select.select([self.info_r], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(self.info_r, 4096) if ready else b""
                if not chunk:
                    break
                data += chunk
            pid = json.loads(data.decode().split("}", 1)[0] + "}")["child-pid"]
            ready_r, ready_w = os.pipe()
            # slirp4netns exits when this pipe closes: when the command ends, or its worker dies.
            exit_r, self.exit_w = os.pipe()
            try:
                self.helper = subprocess.Popen(
                    [slirp_path() or "slirp4netns", "--mtu=65520", "--disable-host-loopback",
                     "--ready-fd", str(ready_w), "--exit-fd", str(exit_r), str(pid), "tap0"],
                    pass_fds=(ready_w, exit_r), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, env={"PATH": PATH_INSIDE}, start_new_session=True,
                )  # fmt: skip
            finally:
                os.close(ready_w)
                os.close(exit_r)
            ready, _, _ = select.select([ready_r], [], [], 10)
            ok = bool(ready) and os.read(ready_r, 1) == b"1"
            os.close(ready_r)
            ok = ok and _close_local_networks(pid)
            if not ok and self.helper is not None:
                self.helper.kill()
        except (OSError, ValueError, KeyError):
            ok = False
        finally:
            with contextlib.suppress(OSError):
                os.write(self.block_w, b"1")  # let the command start, with or without its link
            self._close("block_w", "info_r")
        return ok

    def _close(self, *names: str) -> None:
        # Each descriptor is closed once: a number closed twice may by then be someone else's file.
        for name in names:
            fd = getattr(self, name)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, -1)

    def close(self) -> None:
        self._close("info_r", "info_w", "block_r", "block_w", "exit_w")
        if self.helper is not None and self.helper.poll() is None:
            self.helper.kill()
            self.helper.wait(timeout=5)


def sandbox_environment(*, home: str) -> dict[str, str]:
    """The whole environment inside: plain variables, the workspace's home and caches, nothing else."""
    return {
        "PATH": PATH_INSIDE,
        "HOME": home,
        "USER": "command",
        "LOGNAME": "command",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "TMPDIR": "/tmp",  # noqa: S108 — the sandbox's own private /tmp
        "SHELL": "/bin/sh",
        "CI": "1",
        "XDG_CACHE_HOME": f"{home}/.cache",
        "npm_config_cache": f"{home}/.npm",
        "npm_config_prefer_offline": "true",  # the workspace's cache first: works without network when it can
        "PIP_CACHE_DIR": f"{home}/.cache/pip",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _limits_prefix(cgroup: PidsCgroup | None) -> str:
    """Shell builtins run just before exec'ing bwrap: join the pids cgroup, set rlimits."""
    memory_kb = settings.COMMAND_SANDBOX_MEMORY_MB * 1024
    file_blocks = settings.COMMAND_SANDBOX_FILE_MB * 1024  # ulimit -f counts 1024-byte blocks
    parts = []
    if cgroup is not None:
        parts.append('echo $$ > "$0" || exit 125')
    parts.append(f"ulimit -v {memory_kb} && ulimit -f {file_blocks} && ulimit -c 0 || exit 125")
    processes = settings.COMMAND_SANDBOX_MAX_PROCESSES
    parts.append(f"ulimit -u {processes} 2>/dev/null || ulimit -p {processes} 2>/dev/null || true")
    parts.append('exec "$@"')
    return "; ".join(parts)


def sandbox_launch(
    command: str,
    *,
    workspace: Path,
    cwd: Path,
    network: bool = False,
    home: Path | None = None,
    use_cgroup: bool = True,
) -> SandboxLaunch:
    """The sandboxed launch of `/bin/sh -c command` in `cwd` (inside `workspace`).

    Promises: only the folders listed in the module docstring are visible; network only when
    `network`; every process the command starts lives in a fresh PID namespace that dies with
    bwrap, and bwrap dies with its parent. Refuses (ValueError) a cwd outside the workspace.
    """
    bwrap = bwrap_path()
    if bwrap is None:
        raise FileNotFoundError("bwrap is not installed")
    ws = Path(os.path.realpath(workspace))
    folder = Path(os.path.realpath(cwd))
    if folder != ws and ws not in folder.parents:
        raise ValueError(f"{folder} is not inside the workspace {ws}")
    home = Path(os.path.realpath(home if home is not None else sandbox_home(ws)))
    argv = [bwrap, "--ro-bind", "/usr", "/usr"]
    for name in PROGRAM_FOLDERS:
        path = Path(name)
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            argv += ["--ro-bind", name, name]
    argv += ["--ro-bind", str(sandbox_etc()), "/etc"]
    toolchains = toolchain_folders()
    for extra in [*toolchains, *settings.COMMAND_SANDBOX_READONLY_PATHS]:
        argv += ["--ro-bind-try", str(extra), str(extra)]
    argv += [
        "--dev", "/dev",
        "--proc", "/proc",
        # As uid 0 (even with no capabilities) /proc/sys is writable and most kernel settings are
        # global: kernel.core_pattern alone would run a program as root on the host. Read-only.
        "--ro-bind", "/proc/sys", "/proc/sys",
        "--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger",
        "--size", str(settings.COMMAND_SANDBOX_FILE_MB * 1024 * 1024),
        "--tmpfs", "/tmp",  # noqa: S108 — a fresh tmpfs, private to this command, as big as one file may be
        "--bind", str(home), SANDBOX_HOME,
        "--bind", str(ws), str(ws),
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", "sandbox",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--clearenv",
    ]  # fmt: skip
    private = _PrivateNetwork() if network and slirp_path() else None
    if not network or private is not None:
        argv.append("--unshare-net")
    if private is not None:
        argv += ["--ro-bind", str(_slirp_resolv_conf()), "/etc/resolv.conf", *private.bwrap_args()]
    env_inside = sandbox_environment(home=SANDBOX_HOME)
    env_inside["PATH"] = ":".join([*(str(t / "bin") for t in toolchains), PATH_INSIDE])
    for key, value in env_inside.items():
        argv += ["--setenv", key, value]
    argv += ["--chdir", str(folder), "--", "/bin/sh", "-c", command]

    cgroup = PidsCgroup.create(settings.COMMAND_SANDBOX_MAX_PROCESSES) if use_cgroup else None
    wrapper = [
        "/bin/sh",
        "-c",
        _limits_prefix(cgroup),
        str(cgroup.path / "cgroup.procs") if cgroup else "sandbox",
        *argv,
    ]
    # bwrap itself starts with an (almost) empty environment: its PID 1 inside keeps it readable.
    return SandboxLaunch(
        argv=wrapper,
        env={"PATH": PATH_INSIDE},
        sandboxed=True,
        network=network,
        cgroup=cgroup,
        pass_fds=(private.info_w, private.block_r) if private else (),
        private_network=private,
    )


# Networks a command allowed "the network" must still not reach: private and link-local ranges (the
# cloud's metadata service, the LAN, other containers) and this machine's own addresses. slirp's own
# 10.0.2.0/24 (its DNS at 10.0.2.3) stays reachable: a connected route is more specific than 10/8.
CLOSED_NETWORKS = ("10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")


def _host_addresses() -> list[str]:
    """This machine's own IPv4 addresses (other than loopback), to close them to the sandbox too."""
    try:
        done = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in done.stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            address = parts[parts.index("inet") + 1].split("/")[0]
            if not address.startswith("127."):
                found.append(f"{address}/32")
    return found


def _close_local_networks(pid: int) -> bool:
    """Prohibit routes in the sandbox's network namespace (it has no capability to remove them)."""
    ip = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
    nsenter = shutil.which("nsenter", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if not ip or not nsenter:
        return False
    # The link is configured here rather than by slirp4netns --configure, which also brings `lo`
    # up and so races bwrap's own loopback set-up in the new namespace ("loopback: Failed
    # RTM_NEWADDR", the command never starting, about one launch in fifty under load).
    link = "link set tap0 mtu 65520 up\naddr add 10.0.2.100/24 dev tap0\nroute add default via 10.0.2.2 dev tap0\n"
    routes = link + "".join(f"route add prohibit {net}\n" for net in (*CLOSED_NETWORKS, *_host_addresses()))
    try:
        done = subprocess.run(
            [nsenter, "--target", str(pid), "--net", ip, "-batch", "-"],
            input=routes, capture_output=True, text=True, timeout=10, env={"PATH": PATH_INSIDE},
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _slirp_resolv_conf() -> Path:
    """DNS inside a slirp4netns link: its own resolver at 10.0.2.3, which forwards to the host's."""
    path = Path(settings.COMMAND_SANDBOX_HOME_DIR) / "slirp-resolv.conf"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("nameserver 10.0.2.3\n")
    return path
