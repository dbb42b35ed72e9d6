"""The verification report: a list of named checks; it passes only when every check passed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class VerificationReport:
    checks: list[Check] = field(default_factory=list)
    verified_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def passed(self) -> bool:
        # A report with no checks proves nothing, so it does not pass.
        return bool(self.checks) and all(c.passed for c in self.checks)

    def add(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append(Check(name=name, passed=bool(passed), detail=detail))
        return bool(passed)

    def attempt(self, name: str, fn: Callable[[], str]) -> bool:
        """Run one check; any exception (a corrupt file, a missing part) is a failed check."""
        try:
            detail = fn()
        except Exception as exc:  # noqa: BLE001 — every failure mode of a parser is a failed check
            return self.add(name, False, f"{type(exc).__name__}: {exc}"[:500])
        return self.add(name, True, detail or "")

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.passed:
            return f"All {len(self.checks)} checks passed."
        failed = self.failures() or [Check("no checks", False, "nothing was checked")]
        return "; ".join(f"{c.name}: {c.detail}" for c in failed[:3])

    def to_dict(self) -> dict:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks], "verified_at": self.verified_at}

    @classmethod
    def from_dict(cls, data: dict) -> VerificationReport:
        return cls(checks=[Check(**c) for c in data.get("checks", [])], verified_at=data.get("verified_at", ""))
