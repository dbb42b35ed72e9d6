"""The approval hook: approvals plugs its risk policy in here without editing the engine.

Before each step the executor asks the gate. The default gate lets every step proceed; the
approvals app replaces it (``set_approval_gate(policy_fn)``, e.g. from its AppConfig.ready()).
"wait" puts the run into `waiting_approval` at that step and frees the worker; the approvals app
later calls tasks.engine.controls.run_resume_after_approval or run_skip_step_after_denial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class GateDecision:
    action: Literal["proceed", "wait", "skip"]
    reason: str = ""  # shown in the workstream, e.g. which remembered preference allowed it
    approval_id: str = ""  # the ApprovalRequest this decision created or used, if any

    @classmethod
    def proceed(cls, reason: str = "", approval_id: str = "") -> GateDecision:
        return cls("proceed", reason, approval_id)

    @classmethod
    def wait(cls, reason: str, approval_id: str = "") -> GateDecision:
        return cls("wait", reason, approval_id)

    @classmethod
    def skip(cls, reason: str, approval_id: str = "") -> GateDecision:
        return cls("skip", reason, approval_id)


def _always_proceed(ctx) -> GateDecision:
    return GateDecision.proceed()


_gate: Callable = _always_proceed


def set_approval_gate(gate: Callable | None) -> None:
    """Install `gate(ctx) -> GateDecision` (None restores the default that always proceeds).

    The gate runs inside the worker, before the step starts; it may create rows (e.g. an
    ApprovalRequest) and must not block waiting for a person.
    """
    global _gate
    _gate = gate or _always_proceed


def approval_gate(ctx) -> GateDecision:
    return _gate(ctx)
