"""The verification report: a list of named checks; it passes only when every check passed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not_checked"


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""
    # passed | failed | not_checked. A criterion nobody could check is neither passed nor failed.
    status: str = ""
    # The brief's criterion this check answers (its id), or "" for a check of the file itself.
    criterion: str = ""

    def __post_init__(self) -> None:
        if not self.status:
            self.status = PASSED if self.passed else FAILED
        if self.status == NOT_CHECKED:
            self.passed = False


@dataclass
class VerificationReport:
    checks: list[Check] = field(default_factory=list)
    verified_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def passed(self) -> bool:
        """Every check that was made passed. A report with no checks made proves nothing, so it
        does not pass; criteria that could not be checked are listed, never counted as passed."""
        made = [c for c in self.checks if c.status != NOT_CHECKED]
        return bool(made) and all(c.passed for c in made)

    @property
    def not_checked(self) -> list[Check]:
        return [c for c in self.checks if c.status == NOT_CHECKED]

    @property
    def criteria(self) -> list[Check]:
        return [c for c in self.checks if c.criterion]

    def add(self, name: str, passed: bool, detail: str = "", *, criterion: str = "") -> bool:
        self.checks.append(Check(name=name, passed=bool(passed), detail=detail, criterion=criterion))
        return bool(passed)

    def skip(self, name: str, why: str, *, criterion: str = "") -> None:
        """Record a criterion that was not checked, and why (shown as “not checked”, never as passed)."""
        self.checks.append(Check(name=name, passed=False, detail=why, status=NOT_CHECKED, criterion=criterion))

    def attempt(self, name: str, fn: Callable[[], str], *, criterion: str = "") -> bool:
        """Run one check; any exception (a corrupt file, a missing part) is a failed check."""
        try:
            detail = fn()
        except Exception as exc:  # noqa: BLE001 — every failure mode of a parser is a failed check
            return self.add(name, False, f"{type(exc).__name__}: {exc}"[:500], criterion=criterion)
        return self.add(name, True, detail or "", criterion=criterion)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAILED]

    def summary(self) -> str:
        if self.passed:
            made = len(self.checks) - len(self.not_checked)
            unchecked = f" {len(self.not_checked)} not checked." if self.not_checked else ""
            return f"All {made} checks passed.{unchecked}"
        failed = self.failures() or [Check("no checks", False, "nothing was checked")]
        return "; ".join(f"{c.name}: {c.detail}" for c in failed[:3])

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
            "not_checked": len(self.not_checked),
            "verified_at": self.verified_at,
        }

    @classmethod
    def from_dict(cls, data: dict) -> VerificationReport:
        return cls(checks=[Check(**c) for c in data.get("checks", [])], verified_at=data.get("verified_at", ""))
