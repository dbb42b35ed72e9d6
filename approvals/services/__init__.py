"""Writes for approvals and operator memory, by concept:

- gate: `approval_gate_check` — the engine's one call before each step;
- decisions: `approval_allow` / `approval_deny` / `approval_refine` (+ remember), expiry, withdrawal;
- memory: preferences, format defaults, tone and expertise, remembered clarifications, forget, touch.
"""

from approvals.services.decisions import (
    approval_allow,
    approval_deny,
    approval_refine,
    approvals_expire_overdue,
    approvals_withdraw_for_run,
)
from approvals.services.gate import (
    EngineGateDecision,
    GateDecision,
    Outcome,
    approval_gate_check,
    approval_gate_for_engine,
    preference_matching,
)
from approvals.services.memory import (
    approval_preference_forget,
    approval_preference_set,
    clarification_remember,
    format_default_set,
    memory_forget,
    memory_touch,
    style_preference_set,
)

__all__ = [
    "EngineGateDecision",
    "approval_gate_for_engine",
    "GateDecision",
    "Outcome",
    "approval_allow",
    "approval_deny",
    "approval_gate_check",
    "approval_preference_forget",
    "approval_preference_set",
    "approval_refine",
    "approvals_expire_overdue",
    "approvals_withdraw_for_run",
    "clarification_remember",
    "format_default_set",
    "memory_forget",
    "memory_touch",
    "preference_matching",
    "style_preference_set",
]
