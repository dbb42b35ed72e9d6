"""The built-in planner package: vocabulary, spelling, detection, entities, commands, plans, copy."""

from providers.planner.builtin.planner import BUILTIN_LABEL, BuiltinPlanner

__all__ = ["BUILTIN_LABEL", "BuiltinPlanner"]
