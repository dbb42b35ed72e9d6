"""Reading a shell command the way the shell will run it, for the risk policy.

`read_command(text, workspace_root=…, cwd=…)` splits the text into the simple commands it runs
(pipes, `&&`, `||`, `;`, `&`, newlines, `$(…)` and backticks), unwraps what runs other commands
(`sh -c`, `bash -c`, `xargs`, `find -exec`, `env`, `nohup`, `setsid`, `timeout`, `npx`, `sudo`,
interpreters' `-c`/`-e`) and reports, for each part, what it does that matters: deleting,
truncating, changing permissions, rewriting git history, touching paths outside the workspace,
using the network. Anything it cannot read is itself a finding ("cannot be read for certain"):
the reader never guesses a command harmless.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


class Finding:
    DELETE = "delete"
    TRUNCATE = "truncate"
    PERMISSIONS = "permissions"
    GIT_HISTORY = "git_history"
    OUTSIDE = "outside"
    NETWORK = "network"
    PRIVILEGED = "privileged"
    UNREADABLE = "unreadable"
    INLINE_CODE = "inline_code"


# What each finding means in the approval's words.
FINDING_REASONS = {
    Finding.DELETE: "deletes files",
    Finding.TRUNCATE: "empties or overwrites files",
    Finding.PERMISSIONS: "changes file permissions or owners",
    Finding.GIT_HISTORY: "rewrites or discards git history",
    Finding.OUTSIDE: "touches paths outside the workspace",
    Finding.NETWORK: "uses the network",
    Finding.PRIVILEGED: "asks for administrator rights",
    Finding.UNREADABLE: "cannot be read for certain",
    Finding.INLINE_CODE: "runs inline code that can change files or start programs",
}


@dataclass
class CommandReading:
    parts: list[list[str]] = field(default_factory=list)  # every simple command, as words
    findings: list[tuple[str, str]] = field(default_factory=list)  # (kind, the part or path it is about)

    def kinds(self) -> set[str]:
        return {kind for kind, _ in self.findings}

    @property
    def needs_network(self) -> bool:
        return Finding.NETWORK in self.kinds()

    @property
    def outside_paths(self) -> list[str]:
        return list(dict.fromkeys(what for kind, what in self.findings if kind == Finding.OUTSIDE))

    def add(self, kind: str, what: str) -> None:
        if (kind, what) not in self.findings:
            self.findings.append((kind, what))

    def reasons(self) -> list[str]:
        """One sentence piece per finding kind, in a stable order, naming what it is about."""
        pieces = []
        for kind in FINDING_REASONS:
            about = [what for k, what in self.findings if k == kind]
            if not about:
                continue
            shown = ", ".join(dict.fromkeys(about[:3])) + (" …" if len(set(about)) > 3 else "")
            pieces.append(f"{FINDING_REASONS[kind]} ({shown})")
        return pieces


_OPERATORS = {";", "&&", "||", "|", "&", "|&", ";;", "(", ")", "\n"}
_REDIRECT = re.compile(r"^(\d*|&)(>>?|>\||<|<<|<<<|<>|>&|<&)$")
_SUBSTITUTION = re.compile(r"\$\(([^()]*(?:\([^()]*\)[^()]*)*)\)|`([^`]*)`")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_HARMLESS_TARGETS = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero", "/dev/random", "/dev/urandom"}

# Programs that run the rest of their words as another command (options to skip before it).
_WRAPPERS = {
    "env", "nohup", "setsid", "time", "nice", "ionice", "stdbuf", "command", "exec", "builtin",
    "chronic", "unbuffer", "caffeinate", "watch", "flock", "strace", "ltrace", "xvfb-run",
}  # fmt: skip
_PRIVILEGED = {"sudo", "su", "doas", "pkexec", "runuser"}
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "fish", "ash", "busybox"}
_DELETERS = {"rm", "rmdir", "unlink", "shred", "rimraf", "del", "del-cli", "trash", "trash-put", "srm", "wipe"}
_PERMISSIONS = {"chmod", "chown", "chgrp", "chattr", "setfacl", "chcon"}
_TRUNCATORS = {"truncate", "tee", "dd", "fallocate"}
_NETWORK_PROGRAMS = {
    "curl", "wget", "ssh", "scp", "sftp", "ftp", "rsync", "nc", "ncat", "netcat", "telnet", "socat",
    "http", "https", "aria2c", "lftp", "ping", "dig", "nslookup", "host", "whois", "npx", "bunx",
}  # fmt: skip
# (program, first word) pairs that fetch from or publish to the network.
_NETWORK_SUBCOMMANDS = {
    "pip": {"install", "download", "wheel", "search", "index"},
    "pip3": {"install", "download", "wheel", "search", "index"},
    "uv": {"pip", "add", "sync", "lock", "run", "tool", "venv", "python"},
    "uvx": None,
    "pipx": {"install", "run", "upgrade", "inject"},
    "poetry": {"add", "install", "update", "lock", "publish", "self"},
    "pipenv": {"install", "update", "sync", "lock"},
    "npm": {"install", "i", "ci", "add", "update", "upgrade", "publish", "audit", "outdated", "view", "info",
            "exec", "x", "init", "create", "login", "adduser", "dist-tag", "deprecate", "unpublish", "pack"},
    "pnpm": {"install", "i", "add", "update", "up", "dlx", "publish", "audit", "outdated", "create", "fetch"},
    "yarn": {"install", "add", "upgrade", "up", "dlx", "publish", "audit", "outdated", "create", "info", "npm"},
    "bun": {"install", "i", "add", "update", "x", "create", "publish", "upgrade"},
    "deno": {"install", "cache", "add"},
    "apt": {"install", "update", "upgrade", "full-upgrade", "dist-upgrade", "download", "source"},
    "apt-get": {"install", "update", "upgrade", "dist-upgrade", "download", "source"},
    "brew": {"install", "update", "upgrade", "tap", "fetch", "reinstall"},
    "cargo": {"install", "add", "update", "fetch", "publish", "search", "login"},
    "go": {"get", "install", "mod"},
    "gem": {"install", "update", "fetch", "push", "sources"},
    "bundle": {"install", "update", "add"},
    "composer": {"install", "require", "update", "create-project"},
    "docker": {"pull", "push", "run", "build", "login", "search"},
    "podman": {"pull", "push", "run", "build", "login", "search"},
    "git": {"clone", "fetch", "pull", "push", "ls-remote", "submodule", "remote", "archive"},
    "gh": None,
    "conda": {"install", "create", "update", "search"},
}  # fmt: skip
_GIT_HISTORY = {"reset", "rebase", "filter-branch", "filter-repo", "clean", "checkout", "restore", "reflog",
                "update-ref", "replace", "gc", "prune", "switch"}  # fmt: skip
_INTERPRETERS = re.compile(r"^(python[0-9.]*|pypy[0-9.]*|node|nodejs|deno|bun|perl|ruby|php|lua|Rscript|osascript)$")
_CODE_FLAGS = {"-c", "-e", "-E", "--eval", "-p", "--print", "-r", "-x", "eval"}

# What inline code does, read from its text (the words that matter in Python, JavaScript, Ruby, Perl).
_CODE_DELETE = re.compile(
    r"rmtree|rmSync|rmdirSync|unlinkSync|\bunlink\b|\bremove\s*\(|os\.remove|fs\.rm\b|fs\.rm\(|rimraf|"
    r"\brm_rf\b|\brm_r\b|FileUtils\.rm|File\.delete|Path\([^)]*\)\.unlink|\.unlink\(|rmdir|\bdelete\b"
)
_CODE_WRITE = re.compile(
    r"open\([^)]*['\"][wa+]|writeFileSync|writeFile\(|write_text|write_bytes|truncate|createWriteStream|"
    r"appendFile|File\.write|IO\.write|>\s*\$|chmod|chown|rename|move\(|copyfile|copy2?\("
)
_CODE_NETWORK = re.compile(
    r"urllib|requests|http\.client|httpx|aiohttp|socket|fetch\(|\bhttps?\b|net\.connect|XMLHttpRequest|"
    r"LWP::|Net::HTTP|open-uri|curl|wget"
)
_CODE_RUNS = re.compile(
    r"subprocess|os\.system|os\.popen|os\.exec|child_process|execSync|spawn|\bexec\s*\(|\beval\s*\(|"
    r"__import__|importlib|\bsystem\s*\(|`|Function\(|require\s*\(\s*[^'\"]|getattr\("
)
_CODE_PATH = re.compile(r"""['"]((?:/|~|\.\./)[^'"]*)['"]""")


def tokenize(text: str) -> list[str] | None:
    """Shell words and operators, quotes removed; None when the quoting does not close."""
    lexer = shlex.shlex(text.replace("\\\n", " "), posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:
        return None


def read_command(text: str, *, workspace_root: Path | None = None, cwd: str | Path | None = None) -> CommandReading:
    """Everything the policy needs to know about `text`; see the module docstring."""
    reading = CommandReading()
    _read(text, reading, _Place(workspace_root, cwd), depth=0)
    return reading


@dataclass
class _Place:
    root: Path | None
    cwd: str | Path | None

    def outside(self, word: str) -> bool:
        """True when `word`, used as a path from the command's folder, lands outside the workspace."""
        if not word or "://" in word or word in _HARMLESS_TARGETS:
            return False
        if word.startswith("~") or "$HOME" in word or "${HOME}" in word or word.startswith("$"):
            return True
        path = PurePosixPath(word)
        if self.root is None:
            return path.is_absolute() or ".." in path.parts
        root = Path(os.path.realpath(self.root))
        base = Path(self.cwd) if self.cwd else root
        if not base.is_absolute():
            base = root / base
        target = Path(os.path.realpath(base / word)) if not path.is_absolute() else Path(os.path.realpath(word))
        return not (target == root or root in target.parents)


def _read(text: str, reading: CommandReading, place: _Place, *, depth: int) -> None:
    if depth > 6:
        reading.add(Finding.UNREADABLE, text[:60])
        return
    for inner in _SUBSTITUTION.finditer(text):
        _read(inner.group(1) or inner.group(2) or "", reading, place, depth=depth + 1)
    if "<(" in text or ">(" in text:
        reading.add(Finding.UNREADABLE, "process substitution")
    # A substitution was read above as its own command; here it is one opaque word.
    words = tokenize(_SUBSTITUTION.sub(" SUBSTITUTION ", text).replace("\n", " ; "))
    if words is None:
        reading.add(Finding.UNREADABLE, "unclosed quotes")
        words = text.split()
    part: list[str] = []
    redirect_next: str | None = None
    for word in [*words, ";"]:
        if redirect_next is not None:
            _redirect(redirect_next, word, reading, place)
            redirect_next = None
            continue
        if _REDIRECT.match(word) or (word in {">", ">>", "<"}):
            redirect_next = word
            continue
        if word in _OPERATORS or set(word) <= set(";&|()"):
            if part:
                _read_part(part, reading, place, depth=depth)
            part = []
            continue
        part.append(word)


def _redirect(operator: str, target: str, reading: CommandReading, place: _Place) -> None:
    if "&" in operator and (target.isdigit() or target == "-"):
        return  # 2>&1, >&2: between streams, no file
    if "<" in operator and ">" not in operator:
        if place.outside(target):
            reading.add(Finding.OUTSIDE, target)
        return
    if target in _HARMLESS_TARGETS:
        return
    if place.outside(target):
        reading.add(Finding.OUTSIDE, target)
    if ">>" not in operator:
        reading.add(Finding.TRUNCATE, f"> {target}")


def _program(word: str) -> str:
    return os.path.basename(word)


def _read_part(words: list[str], reading: CommandReading, place: _Place, *, depth: int) -> None:
    while words and _ASSIGNMENT.match(words[0]):
        words = words[1:]
    if not words:
        return
    reading.parts.append(words)
    program = _program(words[0])
    args = words[1:]

    if program in _PRIVILEGED:
        reading.add(Finding.PRIVILEGED, program)
        rest = [a for a in args if not a.startswith("-")]
        if rest:
            _read_part(args[args.index(rest[0]) :], reading, place, depth=depth + 1)
        return
    if program in _WRAPPERS or program == "timeout":
        rest = _after_options(args, takes_value=program in {"timeout", "nice", "ionice", "flock", "watch"})
        if program == "env":
            rest = [a for a in rest if not _ASSIGNMENT.match(a)]
        if rest:
            _read_part(rest, reading, place, depth=depth + 1)
        return
    if program == "xargs":
        rest = _after_options(args, takes_value=False, valued={"-I", "-n", "-P", "-L", "-d", "-s", "-E", "-a"})
        _read_part(rest or ["echo"], reading, place, depth=depth + 1)
        return
    if program in _SHELLS:
        script = (
            _flag_value(args, {"-c"}) if "-c" in args or any(a.startswith("-") and "c" in a for a in args) else None
        )
        if script is None:
            script = _combined_c(args)
        if script is not None:
            _read(script, reading, place, depth=depth + 1)
        else:
            files = [a for a in args if not a.startswith("-")]
            if not files:
                reading.add(Finding.UNREADABLE, f"{program} reading its script from input")
            for f in files[:1]:
                if place.outside(f):
                    reading.add(Finding.OUTSIDE, f)
        return
    if program in {"eval", "source", "."}:
        reading.add(Finding.UNREADABLE, program)
        _read(" ".join(args), reading, place, depth=depth + 1)
        return
    if program in {"npx", "bunx"} or (program in {"pnpm", "yarn", "bun"} and args[:1] in (["dlx"], ["x"])):
        reading.add(Finding.NETWORK, program)
        rest = _after_options(args[1:] if args[:1] in (["dlx"], ["x"]) else args, takes_value=False)
        if rest:
            _read_part(rest, reading, place, depth=depth + 1)
        return

    _paths_in(words, reading, place)
    if program in _DELETERS:
        reading.add(Finding.DELETE, " ".join(words)[:80])
    elif program in _PERMISSIONS:
        reading.add(Finding.PERMISSIONS, " ".join(words)[:80])
    elif program in _TRUNCATORS:
        if program == "tee" and any(a in {"-a", "--append"} for a in args):
            pass
        elif program != "tee" or any(not a.startswith("-") for a in args):
            reading.add(Finding.TRUNCATE, " ".join(words)[:80])
    elif (
        program in {"cp", "mv", "install", "ln"}
        and any(a in {"/dev/null", "/dev/zero"} for a in args)
        or program == "sed"
        and any(a == "-i" or a.startswith("-i") or a.startswith("--in-place") for a in args)
        or program in {"perl", "ruby"}
        and any(a.startswith("-i") or a.startswith("-pi") for a in args)
    ):
        reading.add(Finding.TRUNCATE, " ".join(words)[:80])
    elif program == "find":
        _read_find(args, reading, place, depth=depth)
    elif program == "git":
        _read_git(args, reading)
    elif program in {"mkfs", "wipefs", "fdisk", "parted"} or program.startswith("mkfs."):
        reading.add(Finding.DELETE, " ".join(words)[:80])
    if program in _NETWORK_PROGRAMS:
        reading.add(Finding.NETWORK, program)
    elif program in _NETWORK_SUBCOMMANDS:
        wanted = _NETWORK_SUBCOMMANDS[program]
        first = next((a for a in args if not a.startswith("-")), "")
        if wanted is None or first in wanted:
            reading.add(Finding.NETWORK, f"{program} {first}".strip())
    if _INTERPRETERS.match(program):
        _read_interpreter(program, args, reading, place, depth=depth)
    if program in {"cd", "pushd"} and args and place.outside(args[0]):
        reading.add(Finding.OUTSIDE, args[0])


def _after_options(args: list[str], *, takes_value: bool, valued: set[str] = frozenset()) -> list[str]:
    """The words after a wrapper's own options (and its one positional value, e.g. timeout's 10)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] in valued:
            i += 1
        i += 1
    if takes_value and i < len(args) and re.match(r"^[\d.]+[smhd]?$", args[i]):
        i += 1
    return args[i:]


def _flag_value(args: list[str], flags: set[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg in flags and i + 1 < len(args):
            return args[i + 1]
    return None


def _combined_c(args: list[str]) -> str | None:
    """`bash -lc 'script'`, `sh -ec 'script'`: the first word after a short-option cluster holding c."""
    for i, arg in enumerate(args):
        if re.match(r"^-[a-zA-Z]*c[a-zA-Z]*$", arg) and i + 1 < len(args):
            return args[i + 1]
    return None


def _paths_in(words: list[str], reading: CommandReading, place: _Place) -> None:
    for arg in words[1:]:
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        if value.startswith("-") or "://" in value or re.match(r"^[\w.+-]+@[\w.-]+:", value):
            continue
        looks_like_path = value.startswith(("/", "~", "$")) or ".." in PurePosixPath(value).parts
        if looks_like_path and place.outside(value):
            reading.add(Finding.OUTSIDE, value)


def _read_find(args: list[str], reading: CommandReading, place: _Place, *, depth: int) -> None:
    if "-delete" in args:
        reading.add(Finding.DELETE, "find -delete")
    for i, arg in enumerate(args):
        if arg in {"-exec", "-execdir", "-ok", "-okdir"}:
            inner = []
            for word in args[i + 1 :]:
                if word in {";", "+", "\\;"}:
                    break
                inner.append(word)
            inner = [w for w in inner if w != "{}"] or ["true"]
            _read_part(inner, reading, place, depth=depth + 1)
        if arg in {"-fprint", "-fprintf", "-fls"}:
            reading.add(Finding.TRUNCATE, f"find {arg}")


def _read_git(args: list[str], reading: CommandReading) -> None:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in {"-C", "-c", "--git-dir", "--work-tree"} else 1
    sub = args[i] if i < len(args) else ""
    rest = args[i + 1 :]
    what = f"git {sub}"
    if (
        sub == "rm"
        or (sub == "branch" and any(a in {"-D", "-d", "--delete"} for a in rest))
        or sub == "tag"
        and any(a in {"-d", "--delete"} for a in rest)
    ):
        reading.add(Finding.DELETE, what)
    elif sub == "stash" and rest[:1] and rest[0] in {"drop", "clear"}:
        reading.add(Finding.GIT_HISTORY, f"git stash {rest[0]}")
    elif sub in _GIT_HISTORY:
        reading.add(Finding.GIT_HISTORY, what)
    elif sub == "commit" and "--amend" in rest:
        reading.add(Finding.GIT_HISTORY, "git commit --amend")
    elif sub == "push" and any(
        a in {"-f", "--force", "--force-with-lease", "--mirror", "--delete", "-d"} or a.startswith(("--force", "+"))
        for a in rest
    ):
        reading.add(Finding.GIT_HISTORY, "git push --force")


def _read_interpreter(program: str, args: list[str], reading: CommandReading, place: _Place, *, depth: int) -> None:
    code = None
    for i, arg in enumerate(args):
        if arg in _CODE_FLAGS and i + 1 < len(args):
            code = args[i + 1]
            break
        if re.match(r"^-[a-zA-Z]*[ce]$", arg) and i + 1 < len(args) and program not in {"deno", "bun"}:
            code = args[i + 1]
            break
    if program in {"python", "python3"} or program.startswith("python"):
        module = _flag_value(args, {"-m"})
        if module in {"pip", "pip3"}:
            sub = next((a for a in args[args.index("-m") + 2 :] if not a.startswith("-")), "")
            if sub in _NETWORK_SUBCOMMANDS["pip"]:
                reading.add(Finding.NETWORK, "pip " + sub)
        elif module in {"http.server", "venv", "ensurepip"} and module == "http.server":
            reading.add(Finding.NETWORK, "python -m http.server")
    if code is None:
        return
    found = False
    if _CODE_DELETE.search(code):
        reading.add(Finding.DELETE, f"{program} inline code")
        found = True
    if _CODE_WRITE.search(code):
        reading.add(Finding.TRUNCATE, f"{program} inline code")
        found = True
    if _CODE_NETWORK.search(code):
        reading.add(Finding.NETWORK, f"{program} inline code")
        found = True
    for path in _CODE_PATH.findall(code):
        if place.outside(path):
            reading.add(Finding.OUTSIDE, path)
    if not found and (_CODE_RUNS.search(code) or re.search(r"\bimport\b|\brequire\b|\bopen\b|\bfs\b|\bos\b", code)):
        reading.add(Finding.INLINE_CODE, f"{program} inline code")
