"""Commands named in a request, edit intent, and the risks the wording itself carries.

Commands are read from the user's raw text (never the spelling-corrected one): a command is a
literal and must run exactly as typed, or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from providers.contracts import RiskLevel, RiskNote

_PROGRAMS = (
    r"npm|npx|yarn|pnpm|bun|deno|pip3?|python3?|pytest|tox|uv|poetry|ruff|black|make|git|cargo|go|node|"
    r"bundle|rake|rails|composer|php|docker|mvn|gradle|dotnet|ls|cat|rm|mv|cp|mkdir|touch|echo|flask|django-admin|"
    r"\./[\w./-]+|manage\.py"
)
_VERB = r"\b(?:run|execute|exec|launch|start)\s+(?:the\s+)?(?:(?:shell\s+)?command\s+|script\s+)?"
# "run `a`", "run the command `a`", and every backticked command chained after it: "run `a` then `b`".
_BACKTICKED = re.compile(
    _VERB
    + r"`([^`\n]+)`((?:\s*(?:,|;|&&|\band\b|\bthen\b|\bafter that\b|\bafterwards\b|\s)+\s*(?:run\s+)?`[^`\n]+`)*)",
    re.IGNORECASE,
)
_MORE_BACKTICKED = re.compile(r"`([^`\n]+)`")
_LITERAL = re.compile(
    rf"\b(?:run|execute|exec)\s+((?:{_PROGRAMS})(?![\w-])[^,;\n`]*?)(?=\s*(?:$|[,;]|\.(?:\s|$)|\band\b|\bthen\b|\bafter\b|\bbefore\b|\bso\b))",
    re.IGNORECASE,
)
_CLI = (
    r"npm|npx|yarn|pnpm|bun|deno|pip3?|python3?|pytest|tox|poetry|ruff|git|cargo|docker|mvn|gradle|dotnet|\./[\w./-]+"
)
# A second command in a chain: "run npm install and then npm run build".
_CHAINED = re.compile(
    rf"(?:\bthen|\band|,|;|&&)\s+((?:{_CLI})(?![\w-])[^,;\n`]*?)(?=\s*(?:$|[,;]|&&|\.(?:\s|$)|\band\b|\bthen\b))",
    re.IGNORECASE,
)
# Words around a plain-English command that are not part of it: "run pytest in my project",
# "run npm test for me please". Trimmed from the end, repeatedly.
_TRAILING_FILLER = re.compile(
    r"\s+(?:(?:in|on|inside|within|for|from|at)\s+(?:my|our|the|this|that|your)\s+(?:\w+\s+)?"
    r"(?:project|projects|repo|repository|folder|directory|workspace|codebase|app|site|code)"
    r"|for\s+(?:me|us)|please|pls|now|again|quickly|right\s+away|thanks|thank\s+you|as\s+well|too|here)\s*[!?.]*$",
    re.IGNORECASE,
)
# A command the person does not ask for: negated ("never run `x`", "don't run `x`") or quoted from
# someone else / asked about ("My colleague wrote: execute `x` — what does it do?").
_NEGATION = re.compile(
    r"\b(?:never|don'?t|do\s+not|doesn'?t|does\s+not|shouldn'?t|should\s+not|must\s+not|mustn'?t|not|no\s+need\s+to|"
    r"without|avoid|stop|refuse\s+to|instead\s+of|rather\s+than)\b[^.!?\n`]*$",
    re.IGNORECASE,
)
_REPORTED = re.compile(
    r"\b(?:wrote|writes|said|says|told\s+(?:me|us)|suggested|suggests|recommended|claims?|posted|sent\s+me|"
    r"according\s+to|someone|somebody|colleague|coworker|co-worker|friend|boss|stack\s*overflow|a\s+blog|the\s+docs\s+say)\b",
    re.IGNORECASE,
)
_ASKING_ABOUT = re.compile(
    r"\b(?:what\s+(?:does|would|will|is|did)|is\s+(?:it|this|that)\s+safe|should\s+i|explain|why\s+would|"
    r"how\s+does|what\s+happens)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


# "run the tests", "run the build": a command is wanted but not named.
_UNNAMED = re.compile(
    r"\b(?:run|execute)\s+(?:the|my|our|all)\s+(tests?|test suite|build|linter|lint|migrations?|server|app)\b", re.I
)

_DESTRUCTIVE_COMMAND = re.compile(
    r"(?:^|\s)(?:rm\s|rmdir\s|sudo\s|dd\s|mkfs|chmod\s+-R|chown\s+-R)|git\s+(?:push\s+(?:-f|--force)|reset\s+--hard|clean\s+-[a-z]*f)"
    r"|\bdrop\s+(?:table|database)\b|\btruncate\b",
    re.IGNORECASE,
)
_DESTRUCTIVE_WORDS = re.compile(r"\b(delete|remove|wipe|erase|drop|overwrite|purge|destroy|reset)\b", re.IGNORECASE)
_EXTERNAL = re.compile(
    r"\b(deploy(?:ed|ing)?|publish(?:ed|ing)?|push(?:ed)? (?:it )?to (?:github|production|prod|main|origin)|"
    r"send (?:it |an? )?(?:e-?mails?|newsletter|messages?)|e-?mail (?:it|them|this)|tweet|post (?:it )?(?:to|on)|"
    r"upload (?:it )?to)\b",
    re.IGNORECASE,
)

_EDIT_VERB = re.compile(
    r"\b(fix|refactor|debug|rename|migrate|upgrade|optimi[sz]e|implement|add|update|change|edit|modify|"
    r"remove|delete|rewrite|port|convert|replace|tweak|adjust)\b",
    re.IGNORECASE,
)
_CODE_TARGET = re.compile(
    r"\b(?:my|our|the existing|existing|this|the)\s+(?:\w+\s+){0,2}?(bugs?|code|codebase|repo|repository|functions?|"
    r"components?|endpoints?|api|module|class|tests?|login|signup|auth\w*|navbar|css|stylesheets?|styles|readme|"
    r"project|app|site|website|backend|frontend|build|pipeline|dependencies|types|query|queries|migrations?|"
    r"schema|handlers?|routes?|server|script|package\.json|header|footer)\b",
    re.IGNORECASE,
)
_CODE_WORDS = re.compile(
    r"\b(refactor|codebase|repo|repository|bug|bugs|stack trace|traceback|typescript|unit tests?)\b", re.I
)


_HIGH_REASON = "It can delete or overwrite files or history that a rollback may not cover."
_MEDIUM_REASON = "It runs a program in your project folder and may change files there."


@dataclass(frozen=True)
class NamedCommand:
    command: str
    risk: RiskLevel
    risk_reason: str


def _sentence_around(raw: str, at: int) -> tuple[str, str]:
    """The text of the sentence holding position `at`: (before it, whole sentence). Backticks hide ends."""
    masked = re.sub(r"`[^`\n]*`", lambda m: "x" * len(m.group(0)), raw)
    start = 0
    for m in _SENTENCE_END.finditer(masked):
        if m.end() <= at:
            start = m.end()
    end_match = _SENTENCE_END.search(masked, at)
    end = end_match.start() if end_match else len(raw)
    return masked[start:at], masked[start:end]


_CLAUSE_BREAK = re.compile(r"[,;:—–]|\s-\s|\b(?:but|just|instead|only|then|and)\b", re.IGNORECASE)


def is_not_asked_for(raw: str, at: int) -> str | None:
    """Why the command whose verb is at `at` is not a request to run it (None when it is).

    Negation counts within the verb's own clause ("don't run `a`, just run `b`" runs b); quoting
    someone or asking about the command counts anywhere before it in the sentence ("My colleague
    wrote: execute `x`", "what happens if I run `x`?"), never after ("run `x` and tell me what
    happens" runs x).
    """
    before, _ = _sentence_around(raw, at)
    clause = _CLAUSE_BREAK.split(before)[-1]
    if _NEGATION.search(clause):
        return "negated"
    if _REPORTED.search(before) or _ASKING_ABOUT.search(before):
        return "reported"
    return None


def _trim(command: str) -> str:
    command = command.strip().rstrip(".!?").strip()
    while True:
        trimmed = _TRAILING_FILLER.sub("", command).strip()
        if trimmed == command or not trimmed:
            return command
        command = trimmed


def mentioned_not_asked(raw: str) -> list[tuple[str, str]]:
    """Commands the text names but does not ask to run, with why: ("rm -rf ~", "negated")."""
    return [(c, why) for c, why, _ in _candidates(raw) if why]


def _candidates(raw: str) -> list[tuple[str, str | None, int]]:
    found: list[tuple[int, str, int]] = []  # (position, command, position of the verb that asked)
    for m in _BACKTICKED.finditer(raw):
        found.append((m.start(1), m.group(1).strip(), m.start()))
        for more in _MORE_BACKTICKED.finditer(m.group(2) or ""):
            found.append((m.start(2) + more.start(1), more.group(1).strip(), m.start()))
    literal = list(_LITERAL.finditer(raw))
    chained = [m for m in _CHAINED.finditer(raw) if literal and m.start() > literal[0].start()]
    for m in literal + chained:
        command = _trim(m.group(1))
        if command and not any(command == c or command in c for _, c, _ in found):
            found.append((m.start(1), command, m.start()))
    out = []
    for position, command, asked_at in sorted(found):
        out.append((command, is_not_asked_for(raw, asked_at), position))
    return out


def named_commands(raw: str) -> list[NamedCommand]:
    """The commands the person asks Command to run, in order, exactly as typed.

    A command inside a negation ("Never run `rm -rf ~`") or quoted from someone else or asked about
    ("My colleague wrote: execute `curl …` — what does it do?") is not planned; `mentioned_not_asked`
    lists those so the plan can say so. Words around a plain-English command ("in my project",
    "for me please") are not part of it.
    """
    commands = []
    for command, why, _ in _candidates(raw):
        if why:
            continue
        if _DESTRUCTIVE_COMMAND.search(command):
            commands.append(NamedCommand(command, RiskLevel.HIGH, _HIGH_REASON))
        else:
            commands.append(NamedCommand(command, RiskLevel.MEDIUM, _MEDIUM_REASON))
    return commands


def unnamed_command(raw: str) -> str | None:
    m = _UNNAMED.search(raw)
    return m.group(1).lower() if m else None


FILE_PATH = re.compile(
    r"(?<![\w@])(?:[\w-]+/)*[\w-]+\.(?:py|js|mjs|ts|tsx|jsx|css|scss|html|md|json|toml|ya?ml|rb|go|rs|java|php|vue|svelte|sql|sh)\b"
)
_IN_FILE = re.compile(rf"\b(?:in|inside|of|to|from)\s+(?:the\s+)?(?:file\s+)?{FILE_PATH.pattern}")
# Work on material Command would have to read and understand: a template cannot do it honestly.
_TRANSFORM = re.compile(
    r"\b(translate|summari[sz]e|summary of (?:the|this|my|our)|proofread|paraphrase|analy[sz]e|critique|fact-check)\b",
    re.IGNORECASE,
)


def wants_transformation(raw: str) -> str | None:
    m = _TRANSFORM.search(raw)
    return m.group(1).lower() if m else None


def wants_project_edit(raw: str, *, mode: str) -> bool:
    """True when the request asks to change existing work (code or files in a project)."""
    has_verb = bool(_EDIT_VERB.search(raw))
    if _CODE_WORDS.search(raw) or _IN_FILE.search(raw):
        return True
    if has_verb and (_CODE_TARGET.search(raw) or FILE_PATH.search(raw)):
        return True
    return mode == "edit" and has_verb


def risk_notes(raw: str, commands: list[NamedCommand]) -> list[RiskNote]:
    notes = []
    for command, why in mentioned_not_asked(raw):
        reason = "you said not to run it" if why == "negated" else "it is quoted or asked about, not asked for"
        notes.append(RiskNote(kind="command", text=f"Does not run `{command}`: {reason}."))
    for command in commands:
        notes.append(
            RiskNote(kind="command", text=f"Runs `{command.command}` in your workspace folder: {command.risk_reason}")
        )
    words = sorted({m.group(1).lower() for m in _DESTRUCTIVE_WORDS.finditer(raw)})
    if words:
        quoted = ", ".join(f"“{w}”" for w in words)
        notes.append(
            RiskNote(
                kind="destructive",
                text=f"The request says {quoted}: any step that deletes or overwrites will stop and ask you first.",
            )
        )
    external = sorted({m.group(1).lower() for m in _EXTERNAL.finditer(raw)})
    if external:
        quoted = ", ".join(f"“{w}”" for w in external)
        notes.append(
            RiskNote(
                kind="external_call",
                text=f"The request mentions {quoted}. Command does not publish or send anything outside itself "
                "in this build, so that part is left out of the plan.",
            )
        )
    return notes


def external_mentions(raw: str) -> bool:
    return bool(_EXTERNAL.search(raw))
