"""django-q2 entry points for approvals: thin wrappers that take ids and call a service."""

from __future__ import annotations

from approvals import services


def expire_overdue_approvals() -> int:
    """Periodic: turn pending requests past their expiry into expired ones (the engine is told by signal)."""
    return services.approvals_expire_overdue()
