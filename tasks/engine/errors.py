"""Exceptions the engine understands. Handlers raise StepFailed; the fence raises LeaseLost."""

from __future__ import annotations


class EngineError(Exception):
    """Base class for engine errors."""


class IllegalTransition(EngineError):
    """A state change the run state machine does not allow (or whose guard did not hold)."""


class ConditionNotMet(IllegalTransition):
    """A transition's extra condition (run_transition's `condition`) did not hold: nothing written."""


class LeaseLost(EngineError):
    """This worker no longer holds the run: its attempt was superseded, so it must write nothing."""


class StepFailed(EngineError):
    """A step failed. `error_type` names the kind of failure for the retry policy.

    `retryable` overrides the policy when the handler knows better (True: safe to repeat; False:
    repeating cannot help, e.g. a missing capability or a refused path).
    """

    def __init__(self, message: str, *, error_type: str = "StepFailed", retryable: bool | None = None, data=None):
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.retryable = retryable
        self.data = data or {}


class CapabilityNotInstalled(StepFailed):
    def __init__(self, message: str):
        super().__init__(message, error_type="CapabilityNotInstalled", retryable=False)


class StepPaused(EngineError):
    """The step cannot go on without the operator: the run pauses before it (the step stays
    pending and runs again on resume). `reason` says why, in plain words; `blocking_reason` is the
    short line the queue shows; `payload` goes on the run's state event."""

    def __init__(self, reason: str, *, blocking_reason: str = "paused", payload: dict | None = None):
        super().__init__(reason)
        self.reason = reason
        self.blocking_reason = blocking_reason
        self.payload = payload or {}
