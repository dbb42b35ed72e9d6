"""The risk policy: one place that decides what a planned action is, how risky it is, and whether to ask.

The engine hands over a `PlanStep` plus the facts only it can know (which target files already
exist, the exact command and folder, the diff it would apply, which provider a step would call).
`classify()` returns a `Classification`: a category, a risk level with a plain reason, what the
default is (proceed, ask, or refuse) and the canonical exact action with its sha256 hash. An approval
is bound to that hash, so a changed command or file set asks again.

Defaults (issue 6): reading and creating new files inside the workspace proceed; editing existing
files, deleting, running commands and paid provider calls ask; ambiguous understanding asks;
anything outside the workspace is refused and no remembered preference can change that.

Commands (issue 17) are read part by part (approvals.shell): deleting, truncating, permission
changes, git history rewrites, paths outside the workspace, administrator rights and network use
make a command high risk, with the reason. A command whose only finding is the network is its own
category (`network`), which a workspace may remember; any other high-risk command asks every time.
Where commands run unsandboxed the reason says so, and no remembered "allow" answers for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath

from approvals.shell import Finding, read_command
from providers.contracts import ActionType, PlanStep, RiskLevel
from workspaces import diffs


class Category(StrEnum):
    READ = "read"
    CREATE_FILE = "create_file"
    EDIT_FILE = "edit_file"
    DELETE_FILE = "delete_file"
    RUN_COMMAND = "run_command"
    NETWORK = "network"
    EXTERNAL_PROVIDER_CALL = "external_provider_call"
    OUTSIDE_WORKSPACE = "outside_workspace"


CATEGORY_LABELS: dict[str, str] = {
    Category.READ: "Read files",
    Category.CREATE_FILE: "Create new files",
    Category.EDIT_FILE: "Edit existing files",
    Category.DELETE_FILE: "Delete files",
    Category.RUN_COMMAND: "Run commands",
    Category.NETWORK: "Run commands that use the network",
    Category.EXTERNAL_PROVIDER_CALL: "Call a paid provider",
    Category.OUTSIDE_WORKSPACE: "Touch files outside the workspace",
}

# How a remembered decision reads in a sentence: "you allow file edits in Acme site".
CATEGORY_NOUNS: dict[str, str] = {
    Category.READ: "file reads",
    Category.CREATE_FILE: "new files",
    Category.EDIT_FILE: "file edits",
    Category.DELETE_FILE: "file deletions",
    Category.RUN_COMMAND: "commands",
    Category.NETWORK: "commands that use the network",
    Category.EXTERNAL_PROVIDER_CALL: "paid provider calls",
    Category.OUTSIDE_WORKSPACE: "changes outside the workspace",
}

# Categories an operator may remember a decision for. Outside-the-workspace is always refused.
REMEMBERABLE = frozenset(
    {Category.EDIT_FILE, Category.DELETE_FILE, Category.RUN_COMMAND, Category.NETWORK, Category.EXTERNAL_PROVIDER_CALL}
)
# Remembered for one workspace only: network for commands is never an everywhere decision.
WORKSPACE_ONLY = frozenset({Category.NETWORK})
# "Always allow everywhere" for these needs more than one click (a typed allow-list or a confirmation).
HIGH_RISK_CATEGORIES = frozenset({Category.DELETE_FILE, Category.RUN_COMMAND})


class Default(StrEnum):
    PROCEED = "proceed"
    ASK = "ask"
    REFUSE = "refuse"


@dataclass(frozen=True)
class ActionFacts:
    """What the engine knows about the action just before it runs it.

    `paths` are the step's target files as the plan names them (relative to the workspace).
    `existing_paths` lists those that exist now; when None the policy looks at the folder itself.
    `diffs` maps a path to the unified diff the edit would apply (shown in full to the operator).
    `command`/`cwd` are the exact command text and working folder. `provider`/`provider_paid` name
    an external provider a step would call. `ambiguities` are open questions in the understanding
    that bear on this step. `sandboxed` says whether a command would run in the sandbox (None: the
    gate fills it in from command_site.sandbox before classifying).
    """

    workspace_root: Path | None = None
    workspace_name: str = ""
    paths: tuple[str, ...] = ()
    existing_paths: frozenset[str] | None = None
    diffs: Mapping[str, str] = field(default_factory=dict)
    content: Mapping[str, Mapping] = field(default_factory=dict)
    command: str = ""
    cwd: str = ""
    provider: str = ""
    provider_paid: bool = False
    ambiguities: tuple[str, ...] = ()
    sandboxed: bool | None = None
    network_reach: str = ""  # what a command allowed the network could reach here (shown, not hashed)


@dataclass(frozen=True)
class Classification:
    category: Category
    risk_level: RiskLevel
    reason: str
    default: Default
    action: dict
    action_hash: str
    ambiguous: bool = False

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self.category]


# --- Facts from a plan step ------------------------------------------------------------------

_PATH_KEYS = ("path", "paths", "file", "files", "target", "targets")


def paths_from_inputs(inputs: Mapping) -> tuple[str, ...]:
    """The file paths a plan step names in its inputs, in order, without duplicates."""
    found: list[str] = []
    for key in _PATH_KEYS:
        value = inputs.get(key)
        if isinstance(value, str) and value.strip():
            found.append(value.strip())
        elif isinstance(value, list | tuple):
            found.extend(str(v).strip() for v in value if str(v).strip())
    return tuple(dict.fromkeys(found))


def command_text(value) -> str:
    """A command as one string, whether the plan gave a string or an argv list."""
    if isinstance(value, list | tuple):
        return shlex.join(str(v) for v in value)
    return str(value or "").strip()


def facts_for_step(
    plan_step: PlanStep, *, workspace_root: Path | None = None, workspace_name: str = "", **overrides
) -> ActionFacts:
    """Facts read from the step's own inputs; the engine passes what it knows better as overrides."""
    inputs = plan_step.inputs or {}
    command = command_text(inputs.get("command"))
    cwd = str(inputs.get("cwd") or "")
    if command and workspace_root is not None:
        # The dialog shows the real folder the command runs in, never "runs in .".
        cwd = os.path.realpath(Path(workspace_root) / (cwd or "."))
    base = {
        "workspace_root": workspace_root,
        "workspace_name": workspace_name,
        "paths": paths_from_inputs(inputs),
        "command": command,
        "cwd": cwd,
        "provider": str(inputs.get("provider") or ""),
        "provider_paid": bool(inputs.get("provider_paid", False)),
    }
    base.update(overrides)
    if workspace_root is not None and plan_step.action_type in _FILE_CHANGES:
        planned, content = _planned_change(Path(workspace_root), plan_step.action_type, base["paths"], inputs)
        base.setdefault("diffs", planned)
        base.setdefault("content", content)
    return ActionFacts(**base)


_FILE_CHANGES = (ActionType.WRITE_FILE, ActionType.EDIT_FILE, ActionType.DELETE_FILE)

MAX_DIFF_SOURCE_BYTES = 512 * 1024


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _planned_change(
    root: Path, kind: ActionType, paths: tuple[str, ...], inputs: Mapping
) -> tuple[dict[str, str], dict[str, dict]]:
    """The unified diff a file step would make now, and the content it binds — computed before applying.

    Returns ({path: diff}, {path: {"before": sha256 or None, "after": sha256 or None}}). The content
    digests go into the action's hash: an approval binds the file as it was shown, so a file that
    changed in between (or an edit that would now write something else) asks again. The diff is the
    one `workspaces.diffs` records after the change, for one named text file inside the workspace;
    no preview when the step would refuse (text not found exactly once) or the file is too large.
    """
    content: dict[str, dict] = {}
    befores: dict[str, object] = {}
    for path in paths:
        if not _inside(root, path):
            continue
        digest, befores[path] = _state(root / path)
        content[path] = {"before": digest}
    if len(paths) != 1 or paths[0] not in befores:
        return {}, content
    path = paths[0]
    before = befores[path]
    if before is _TOO_LARGE:
        if kind == ActionType.WRITE_FILE and isinstance(inputs.get("content"), str):
            content[path]["after"] = _sha(inputs["content"].encode("utf-8"))
        return {}, content
    after = _after(kind, before, inputs)
    if after is _UNKNOWN:
        return {}, content
    content[path]["after"] = _sha(after)
    result = diffs.compute(path, before, after)
    if result.is_binary or result.truncated or not result.text:
        return {}, content
    return {path: result.text.rstrip("\n")}, content


_UNKNOWN = object()
_TOO_LARGE = object()  # in place of the bytes of a file too large to read whole


def _state(target: Path) -> tuple[str | None, object]:
    """(sha256, bytes) of a file now; (None, None) when there is no file; the bytes are _TOO_LARGE past
    MAX_DIFF_SOURCE_BYTES (hashed in pieces, never held whole)."""
    try:
        if not target.is_file():
            return None, None
        if target.stat().st_size <= MAX_DIFF_SOURCE_BYTES:
            data = target.read_bytes()
            return _sha(data), data
        digest = hashlib.sha256()
        with target.open("rb") as handle:
            while piece := handle.read(1 << 20):
                digest.update(piece)
        return digest.hexdigest(), _TOO_LARGE
    except OSError:
        return None, None


def _after(kind: ActionType, before: bytes | None, inputs: Mapping):
    """The file's bytes after the step (None: deleted), or _UNKNOWN when the step would refuse."""
    if kind == ActionType.DELETE_FILE:
        return None if before is not None else _UNKNOWN
    if kind == ActionType.WRITE_FILE:
        if isinstance(inputs.get("content"), str):
            return inputs["content"].encode("utf-8")
        return _UNKNOWN
    find, replacement = inputs.get("find"), inputs.get("replace")
    if before is None or not isinstance(find, str) or not find or not isinstance(replacement, str):
        return _UNKNOWN
    try:
        text = before.decode("utf-8")
    except UnicodeDecodeError:
        return _UNKNOWN
    count = text.count(find)
    if inputs.get("replace_all") and count:
        return text.replace(find, replacement).encode("utf-8")
    if count != 1:
        return _UNKNOWN
    return text.replace(find, replacement, 1).encode("utf-8")


# --- Path containment ------------------------------------------------------------------------


def _inside(root: Path, candidate: str) -> bool:
    """True when `candidate` (relative to root, or absolute) resolves inside root, symlinks included.

    A second line of defence: the workspace's path safety enforces this again when it opens the file.
    """
    if "\x00" in candidate:
        return False
    root_real = Path(os.path.realpath(root))
    target = Path(candidate)
    if not target.is_absolute():
        target = root_real / target
    real = Path(os.path.realpath(target))
    return real == root_real or root_real in real.parents


def _outside_paths(facts: ActionFacts) -> list[str]:
    candidates = list(facts.paths)
    if facts.cwd:
        candidates.append(facts.cwd)
    if facts.workspace_root is None:
        # Without a workspace, only a path that plainly climbs out or is absolute can be judged.
        return [p for p in candidates if PurePosixPath(p).is_absolute() or ".." in PurePosixPath(p).parts]
    return [p for p in candidates if not _inside(facts.workspace_root, p)]


def _existing(facts: ActionFacts) -> set[str]:
    if facts.existing_paths is not None:
        return {p for p in facts.paths if p in facts.existing_paths}
    if facts.workspace_root is None:
        return set()
    return {p for p in facts.paths if (facts.workspace_root / p).exists()}


# --- Commands --------------------------------------------------------------------------------

# Shell control operators: a command containing one is never covered by an allow-list prefix.
_SHELL_CONTROL = re.compile(r"(;|&&|\|\||\||`|\$\(|>|<|\n|&\s*$)")

# The order findings are named in a reason: the most consequential first.
_FINDING_ORDER = (
    Finding.PRIVILEGED, Finding.DELETE, Finding.TRUNCATE, Finding.PERMISSIONS, Finding.GIT_HISTORY,
    Finding.OUTSIDE, Finding.INLINE_CODE, Finding.UNREADABLE, Finding.NETWORK,
)  # fmt: skip


def _tokens(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _starts_with(tokens: list[str], prefix: Iterable[str]) -> bool:
    prefix = list(prefix)
    return tokens[: len(prefix)] == prefix


def command_needs_network(command: str) -> bool:
    """True when any part of the command uses the network (npm install, pip install, curl, git push …)."""
    return read_command(command).needs_network


def command_risk(command: str, *, workspace_root: Path | None = None, cwd: str = "") -> tuple[RiskLevel, str]:
    """How risky a command is, with the reason in plain words: every part of it is read (pipes,
    chains, `sh -c`, `xargs`, `find -exec`, inline code) and any finding makes it high risk."""
    if not command.strip():
        return RiskLevel.HIGH, "runs an empty or unreadable command"
    reading = read_command(command, workspace_root=workspace_root, cwd=cwd or None)
    if not reading.parts:
        return RiskLevel.HIGH, "runs an empty or unreadable command"
    if reading.findings:
        return RiskLevel.HIGH, "runs a command that " + "; ".join(reading.reasons())
    programs = list(dict.fromkeys(os.path.basename(p[0]) for p in reading.parts))
    if len(reading.parts) > 1:
        return (
            RiskLevel.MEDIUM,
            f"runs {len(reading.parts)} commands ({', '.join(programs[:4])}) in your project folder",
        )
    return RiskLevel.MEDIUM, f"runs {programs[0]!r} in your project folder"


def command_network_only(command: str, *, workspace_root: Path | None = None, cwd: str = "") -> bool:
    """True when the network is the command's only finding (so the network approval covers it)."""
    kinds = read_command(command, workspace_root=workspace_root, cwd=cwd or None).kinds()
    return kinds == {Finding.NETWORK}


def allowlist_covers(allowlist: Iterable[str], command: str) -> bool:
    """True when one typed entry is a whole-word prefix of the command and the command chains nothing.

    "npm run build" covers "npm run build --prod" but not "npm run build && rm -rf ~".
    """
    if not command.strip() or _SHELL_CONTROL.search(command):
        return False
    tokens = _tokens(command)
    for entry in allowlist:
        entry_tokens = _tokens(entry)
        if entry_tokens and _starts_with(tokens, entry_tokens):
            return True
    return False


# --- Classification --------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def canonical_action(*, category: Category, facts: ActionFacts, removes: Iterable[str] = ()) -> dict:
    """The exact action as data: what the operator sees, and what the hash binds.

    The hash covers the category, command, working folder, file set and provider, and for a file
    step the content it binds (each file's sha256 before, and after when known): the diff is shown in
    full, and what was approved is exactly that change to exactly that file.
    """
    action = {
        "category": str(category),
        "command": facts.command,
        "cwd": facts.cwd,
        "paths": sorted(facts.paths),
        "removes": sorted(removes),
        "provider": facts.provider,
        "workspace": str(facts.workspace_root or ""),
    }
    if facts.content:
        action["content"] = {p: dict(facts.content[p]) for p in sorted(facts.content)}
    return action


def action_hash(action: Mapping) -> str:
    keys = ("category", "command", "cwd", "paths", "provider", "workspace", "sandboxed", "network")
    bound = {k: action.get(k) for k in keys}
    if action.get("content"):
        bound["content"] = action["content"]
    return hashlib.sha256(json.dumps(bound, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


_RISK_ORDER = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


def classify(plan_step: PlanStep, facts: ActionFacts) -> Classification:
    """Classify one planned action. Pure: reads the folder only to see which targets exist.

    The policy's own judgement decides the category and the default; when the planner rated the
    step riskier, the higher level is kept and the planner's reason is added.
    """
    result = _classify(plan_step, facts)
    planner_risk = RiskLevel(plan_step.risk_level)
    if _RISK_ORDER[planner_risk] > _RISK_ORDER[result.risk_level] and result.default != Default.REFUSE:
        reason = result.reason + (
            f" (the plan rates it {planner_risk}: {plan_step.risk_reason})" if plan_step.risk_reason else ""
        )
        result = replace(result, risk_level=planner_risk, reason=reason)
    return result


def _classify(plan_step: PlanStep, facts: ActionFacts) -> Classification:
    kind = plan_step.action_type
    outside = _outside_paths(facts)
    if outside:
        return _result(
            Category.OUTSIDE_WORKSPACE,
            RiskLevel.HIGH,
            f"would touch {', '.join(outside[:3])}{' …' if len(outside) > 3 else ''}, outside the workspace",
            Default.REFUSE,
            facts,
        )

    if kind == ActionType.RUN_COMMAND or facts.command:
        return _classify_command(facts)

    if facts.provider and facts.provider_paid:
        return _result(
            Category.EXTERNAL_PROVIDER_CALL,
            RiskLevel.MEDIUM,
            f"calls {facts.provider}, a paid provider (this may cost money)",
            Default.ASK,
            facts,
        )

    if kind == ActionType.DELETE_FILE:
        existing = sorted(_existing(facts))
        n = len(existing) if facts.workspace_root is not None or facts.existing_paths is not None else len(facts.paths)
        reason = f"deletes {_plural(n, 'file')}" if n else "deletes nothing that exists now"
        return _result(Category.DELETE_FILE, RiskLevel.HIGH, reason, Default.ASK, facts, removes=existing)

    if kind in (ActionType.WRITE_FILE, ActionType.EDIT_FILE, ActionType.GENERATE_OUTPUT):
        existing = _existing(facts)
        new = len(facts.paths) - len(existing)
        if existing:
            reason = f"overwrites {_plural(len(existing), 'existing file')}"
            if new:
                reason += f" and creates {_plural(new, 'new file')}"
            return _result(Category.EDIT_FILE, RiskLevel.MEDIUM, reason, Default.ASK, facts)
        if kind == ActionType.EDIT_FILE and not facts.paths:
            return _result(Category.EDIT_FILE, RiskLevel.MEDIUM, "edits files it has not named", Default.ASK, facts)
        reason = f"creates {_plural(new, 'new file')}" if new else "records a result without touching your folder"
        return _result(Category.CREATE_FILE, RiskLevel.LOW, reason, Default.PROCEED, facts)

    # read_file, verify, deliver, and free provider calls change nothing in the folder.
    reason = "reads files without changing them" if kind == ActionType.READ_FILE else "changes nothing in your folder"
    return _result(Category.READ, RiskLevel.LOW, reason, Default.PROCEED, facts)


def _classify_command(facts: ActionFacts) -> Classification:
    root = facts.workspace_root
    risk, reason = command_risk(facts.command, workspace_root=root, cwd=facts.cwd)
    network = command_needs_network(facts.command)
    category = Category.RUN_COMMAND
    if facts.sandboxed is False:
        reason += "; it runs unsandboxed: nothing stops it reaching beyond the workspace, so Command asks every time"
    elif network:
        reason += "; the sandbox turns the network on for this command only if you allow it"
        if command_network_only(facts.command, workspace_root=root, cwd=facts.cwd):
            category = Category.NETWORK
    result = _result(category, risk, reason, Default.ASK, facts)
    action = {**result.action, "sandboxed": facts.sandboxed, "network": network}
    if network and facts.network_reach:
        action["network_reach"] = facts.network_reach
    return replace(result, action=action, action_hash=action_hash(action))


def _result(
    category: Category,
    risk: RiskLevel,
    reason: str,
    default: Default,
    facts: ActionFacts,
    *,
    removes: Iterable[str] = (),
) -> Classification:
    action = canonical_action(category=category, facts=facts, removes=removes)
    action["diffs"] = {p: facts.diffs[p] for p in sorted(facts.diffs)}
    ambiguous = bool(facts.ambiguities) and category not in (Category.READ, Category.OUTSIDE_WORKSPACE)
    if ambiguous:
        # Whatever the category, Command is not sure this is what the operator meant: it asks, and no
        # remembered preference answers for them.
        connector = ", but" if default == Default.PROCEED else "; also,"
        default = Default.ASK
        reason = f"{reason}{connector} the request is ambiguous: {facts.ambiguities[0]}"
    action["ambiguities"] = list(facts.ambiguities)
    return Classification(
        category=category,
        risk_level=risk,
        reason=reason,
        default=default,
        action=action,
        action_hash=action_hash(action),
        ambiguous=ambiguous,
    )
