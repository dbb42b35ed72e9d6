"""Planners: whatever turns a request into an UnderstandingSnapshot, an ExecutionBrief and a Plan.

`BuiltinPlanner` is the offline default; `providers.adapters` wraps model providers behind the
same interface and falls back to the built-in planner when a provider's reply cannot be trusted.
"""

from providers.planner.base import Planner, PlanningRequest
from providers.planner.builtin import BUILTIN_LABEL, BuiltinPlanner

__all__ = ["BUILTIN_LABEL", "BuiltinPlanner", "Planner", "PlanningRequest"]
