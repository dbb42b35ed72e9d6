""".gitignore rules, read folder by folder as a walk descends, without needing git.

Supports what real projects use: comments, blank lines, `!` negation, a trailing `/` for
folders only, patterns anchored by a `/` (to the folder of their .gitignore), `*`, `?`, `[…]` and
`**`. The last rule that matches wins, as in git; a file inside an ignored folder is never seen
because the walk does not enter that folder (git's own rule: it cannot be re-included).
Not read: `.git/info/exclude` and the user's global excludes file (they are per machine).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_GITIGNORE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Rule:
    base: str  # folder of the .gitignore, relative to the workspace ("" for the top)
    regex: re.Pattern
    negated: bool
    folders_only: bool


def _glob_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end + 1
        elif c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def rules_parse(text: str, *, base: str = "") -> list[Rule]:
    """The rules of one .gitignore found in folder `base`; lines that cannot be understood are skipped."""
    rules = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        line = line.rstrip(" ") if not line.endswith("\\ ") else line
        negated = line.startswith("!")
        if negated or line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        folders_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _glob_regex(line)
        try:
            regex = re.compile(("" if anchored else "(?:.*/)?") + body + r"\Z", re.DOTALL)
        except re.error:
            continue
        rules.append(Rule(base=base, regex=regex, negated=negated, folders_only=folders_only))
    return rules


def is_ignored(rules: list[Rule], path: str, *, is_folder: bool) -> bool:
    """Whether `path` (relative to the workspace) is ignored by `rules` (outer .gitignore files first)."""
    ignored = False
    for rule in rules:
        if rule.folders_only and not is_folder:
            continue
        if rule.base:
            if not path.startswith(rule.base + "/"):
                continue
            inner = path[len(rule.base) + 1 :]
        else:
            inner = path
        if rule.regex.match(inner):
            ignored = not rule.negated
    return ignored
