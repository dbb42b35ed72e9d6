"""Retry policies per action type, with Temporal's fields plus jitter.

Defaults come from settings: MAX_RETRIES (retries after the first attempt), RETRY_BACKOFF (the
backoff coefficient) and RETRY_SAFE_TYPES (action types that are safe to repeat; any other type
is never retried automatically, because repeating it could apply a change twice).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.conf import settings

# Failures that repeating cannot fix.
ALWAYS_NON_RETRYABLE = frozenset(
    {
        "CapabilityNotInstalled",
        "PathOutsideWorkspace",
        "InvalidStep",
        "PermissionDenied",
        "VerificationFailed",
        "ApprovalDenied",
        # What the operating system says about a path does not change by asking again.
        "FileNotFoundError",
        "NotADirectoryError",
        "IsADirectoryError",
        "FileExistsError",
        "PermissionError",
        "PathRefused",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    initial_interval: float = 2.0  # seconds before the first retry
    backoff_coefficient: float = 2.0
    maximum_interval: float = 300.0
    maximum_attempts: int = 4  # including the first attempt; 1 = never retry
    non_retryable_error_types: frozenset[str] = field(default_factory=lambda: ALWAYS_NON_RETRYABLE)
    jitter: float = 0.2  # +/- fraction of the interval

    def is_retryable(self, error_type: str) -> bool:
        return self.maximum_attempts > 1 and error_type not in self.non_retryable_error_types

    def interval(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based), before jitter."""
        raw = self.initial_interval * (self.backoff_coefficient ** (attempt - 1))
        return min(raw, self.maximum_interval)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The interval with jitter applied; never negative, never above maximum_interval."""
        base = self.interval(attempt)
        if not self.jitter:
            return base
        r = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, min(base * (1 + r), self.maximum_interval))

    def next_attempt_at(self, attempt: int, now: datetime, rng: random.Random | None = None) -> datetime:
        return now + timedelta(seconds=self.delay(attempt, rng))


# Per-action adjustments on top of the settings defaults.
_OVERRIDES: dict[str, dict] = {
    "run_command": {"initial_interval": 5.0},
    "verify": {"initial_interval": 3.0},
}


# Steps of a model-driven run that change nothing in the folder: always safe to repeat (a model
# turn whose reply was stored is not asked again; see tasks.engine.loop.turns).
ALWAYS_SAFE_TYPES = frozenset({"model_turn", "list_files", "search", "ask_operator", "finish"})


def policy_for(action_type: str) -> RetryPolicy:
    """The retry policy for one action type, built from settings at call time."""
    safe = is_safe_to_repeat(action_type)
    policy = RetryPolicy(
        backoff_coefficient=float(settings.RETRY_BACKOFF),
        maximum_attempts=(int(settings.MAX_RETRIES) + 1) if safe else 1,
    )
    return replace(policy, **_OVERRIDES.get(action_type, {}))


def is_safe_to_repeat(action_type: str) -> bool:
    """Whether an interrupted step of this type may be executed again (its handler is idempotent
    by the step's idempotency key)."""
    return action_type in ALWAYS_SAFE_TYPES or action_type in set(settings.RETRY_SAFE_TYPES)
