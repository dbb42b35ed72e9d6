"""The interface every planner implements, and the request it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from providers.contracts import PlannerResult


@dataclass(frozen=True)
class PlanningRequest:
    """Everything a planner may look at. Never carries secrets or model instances.

    `answers` are the operator's answers to clarifying questions (question id → answer);
    `remembered_answers` are answers reused from memory, which the understanding announces;
    `format_defaults` are remembered formats per output category ({"document": "pdf"}), used only
    when the request names no format.
    """

    prompt: str
    mode: str = "create"
    tone: str = "mixed"
    expertise: str = "new"
    workspace_name: str | None = None
    upload_names: tuple[str, ...] = ()
    answers: dict[str, str] = field(default_factory=dict)
    remembered_answers: dict[str, str] = field(default_factory=dict)
    format_defaults: dict[str, str] = field(default_factory=dict)

    @property
    def has_workspace(self) -> bool:
        return bool(self.workspace_name)


class Planner(Protocol):
    label: str

    def plan(self, request: PlanningRequest) -> PlannerResult:
        """Return a validated PlannerResult, or raise; never a half-checked reply."""
        ...
