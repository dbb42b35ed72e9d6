"""What a finished command's output says, in one line, for the tools Command knows.

`command_summary(command, output_tail, exit_code)` reads the end of the output of pytest, unittest,
jest, vitest, node --test, mocha, cargo test, go test, npm/yarn/pnpm scripts and make, and returns e.g.
"12 passed, 2 failed" — or "" when it recognises nothing (then only the exit code is reported;
a summary is never guessed).
"""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# pytest: "=== 12 passed, 2 failed, 1 skipped in 0.31s ===" (or the -q form without the rules).
_PYTEST_LINE = re.compile(
    r"^[=\s]*((?:\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|rerun)(?:, )?)+)"
    r"(?: in [\d.]+s)",
    re.MULTILINE,
)
_PYTEST_NOTHING = re.compile(r"^=+ no tests ran in [\d.]+s =+$", re.MULTILINE)
# unittest: "Ran 12 tests in 0.003s" then "OK" / "FAILED (failures=2, errors=1)".
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in [\d.]+s$", re.MULTILINE)
_UNITTEST_RESULT = re.compile(r"^(OK|FAILED)(?: \(([^)]*)\))?\s*$", re.MULTILINE)
# jest: "Tests:       2 failed, 10 passed, 12 total"
_JEST = re.compile(r"^Tests:\s+(.+?total)\s*$", re.MULTILINE)
# vitest: " Tests  2 failed | 10 passed (12)"
_VITEST = re.compile(r"^\s*Tests\s+((?:\d+ \w+(?: \| )?)+)\s*\((\d+)\)", re.MULTILINE)
# mocha: "  10 passing (12ms)" / "  2 failing"
_MOCHA = re.compile(r"^\s+(\d+) (passing|failing|pending)\b", re.MULTILINE)
# cargo: "test result: FAILED. 10 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out"
_CARGO = re.compile(r"^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored", re.MULTILINE)
# go test: "ok  \texample.com/pkg\t0.01s", "FAIL\texample.com/pkg\t0.01s", "--- FAIL: TestX"
_GO_OK = re.compile(r"^ok\s+\S+\s", re.MULTILINE)
_GO_FAIL_PKG = re.compile(r"^FAIL\s+\S+\s", re.MULTILINE)
_GO_FAIL_TEST = re.compile(r"^\s*--- FAIL: (\S+)", re.MULTILINE)
# node --test: "# tests 2", "# pass 1", "# fail 1" (TAP) or "ℹ pass 1" (the spec reporter)
_NODE_TEST = re.compile(r"^(?:#|ℹ) (tests|pass|fail|skipped|todo|cancelled) (\d+)\s*$", re.MULTILINE)
# npm / yarn / pnpm: a missing script, or the script that failed.
_NPM_MISSING = re.compile(r'(?:npm (?:ERR!|error) )?Missing script: "?([\w:.-]+)"?', re.IGNORECASE)
_YARN_MISSING = re.compile(r'error Command "([\w:.-]+)" not found')
_NPM_FAILED = re.compile(r"npm (?:ERR!|error) (?:Lifecycle script|code) ?`?([\w:.-]+)`?", re.IGNORECASE)
# make: "make: *** [Makefile:12: build] Error 2" / "make: *** No rule to make target 'x'.  Stop."
_MAKE_ERROR = re.compile(r"make(?:\[\d+\])?: \*\*\* \[(?:[^\]:]*:\d+: )?([^\]]+)\] Error (\d+)")
_MAKE_NO_RULE = re.compile(r"make(?:\[\d+\])?: \*\*\* No rule to make target '([^']+)'")


def _clean(text: str) -> str:
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def command_summary(command: str, output_tail: str, exit_code: int | None) -> str:
    """One line saying what the output reports; "" when no known tool's summary is in it."""
    text = _clean(output_tail)
    for reader in (_pytest, _unittest, _jest, _vitest, _node_test, _cargo, _go, _mocha, _npm, _make):
        found = reader(text)
        if found:
            return found
    return ""


def _pytest(text: str) -> str:
    lines = _PYTEST_LINE.findall(text)
    if lines:
        return lines[-1].strip().rstrip(",")
    return "no tests ran" if _PYTEST_NOTHING.search(text) else ""


def _unittest(text: str) -> str:
    ran = _UNITTEST_RAN.findall(text)
    result = _UNITTEST_RESULT.findall(text)
    if not ran or not result:
        return ""
    total = int(ran[-1])
    verdict, detail = result[-1]
    if verdict == "OK":
        extra = f" ({detail})" if detail else ""
        return f"{total} test{'s' if total != 1 else ''} passed{extra}"
    counts = dict(part.split("=") for part in detail.split(", ") if "=" in part)
    bad = sum(int(v) for k, v in counts.items() if k in ("failures", "errors"))
    parts = [f"{total - bad} passed"]
    parts += [f"{v} {'failed' if k == 'failures' else k}" for k, v in counts.items()]
    return ", ".join(parts)


def _jest(text: str) -> str:
    found = _JEST.findall(text)
    return found[-1].strip() if found else ""


def _vitest(text: str) -> str:
    found = _VITEST.findall(text)
    if not found:
        return ""
    counts, total = found[-1]
    return ", ".join(p.strip() for p in counts.split("|") if p.strip()) + f", {total} total"


def _node_test(text: str) -> str:
    counts = dict(_NODE_TEST.findall(text))
    if "tests" not in counts:
        return ""
    labels = (
        ("pass", "passed"),
        ("fail", "failed"),
        ("skipped", "skipped"),
        ("todo", "todo"),
        ("cancelled", "cancelled"),
    )
    parts = [f"{counts[k]} {word}" for k, word in labels if counts.get(k, "0") != "0" or k == "pass"]
    return ", ".join(parts)


def _mocha(text: str) -> str:
    found = _MOCHA.findall(text)
    if not found:
        return ""
    labels = {"passing": "passed", "failing": "failed", "pending": "pending"}
    return ", ".join(f"{n} {labels[word]}" for n, word in found)


def _cargo(text: str) -> str:
    found = _CARGO.findall(text)
    if not found:
        return ""
    passed = sum(int(p) for p, _, _ in found)
    failed = sum(int(f) for _, f, _ in found)
    ignored = sum(int(i) for _, _, i in found)
    return f"{passed} passed, {failed} failed" + (f", {ignored} ignored" if ignored else "")


def _go(text: str) -> str:
    ok, failed = len(_GO_OK.findall(text)), len(_GO_FAIL_PKG.findall(text))
    if not ok and not failed:
        return ""
    summary = f"{ok} package{'s' if ok != 1 else ''} ok, {failed} failed"
    tests = _GO_FAIL_TEST.findall(text)
    if tests:
        summary += f" ({', '.join(tests[:3])}{' …' if len(tests) > 3 else ''})"
    return summary


def _npm(text: str) -> str:
    missing = _NPM_MISSING.search(text) or _YARN_MISSING.search(text)
    if missing:
        return f"there is no “{missing.group(1)}” script in package.json"
    failed = _NPM_FAILED.search(text)
    return f"the “{failed.group(1)}” script failed" if failed and not failed.group(1).startswith("E") else ""


def _make(text: str) -> str:
    no_rule = _MAKE_NO_RULE.search(text)
    if no_rule:
        return f"make has no target “{no_rule.group(1)}”"
    error = _MAKE_ERROR.findall(text)
    if error:
        target, code = error[-1]
        return f"make stopped: “{target.strip()}” failed (error {code})"
    return ""
