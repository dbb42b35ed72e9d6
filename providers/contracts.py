"""The intelligence contracts: what every planner (built-in or a model provider) must return.

Versioned, validated structures, persisted with the task (PlanRevision) and rendered by the UI.
A planner's reply that does not validate here is never used as if it did.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1


class OutputCategory(StrEnum):
    WEBSITE = "website"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    PDF = "pdf"
    DOCUMENT = "document"
    PRESENTATION = "presentation"
    SPREADSHEET = "spreadsheet"
    PROJECT_EDIT = "project_edit"


class ActionType(StrEnum):
    READ_FILE = "read_file"
    WRITE_FILE = "write_file"
    EDIT_FILE = "edit_file"
    DELETE_FILE = "delete_file"
    RUN_COMMAND = "run_command"
    GENERATE_OUTPUT = "generate_output"
    VERIFY = "verify"
    DELIVER = "deliver"
    # Model-driven runs (tasks.engine.loop): a model turn, and the tools only a model calls.
    MODEL_TURN = "model_turn"
    LIST_FILES = "list_files"
    SEARCH = "search"
    ASK_OPERATOR = "ask_operator"
    FINISH = "finish"


# A model turn counts as mutating: the steps it proposes may change the workspace, so its run
# takes the workspace lock like any other changing run.
MUTATING_ACTIONS = frozenset(
    {
        ActionType.WRITE_FILE,
        ActionType.EDIT_FILE,
        ActionType.DELETE_FILE,
        ActionType.RUN_COMMAND,
        ActionType.MODEL_TURN,
    }
)
# Action types that exist only inside a model-driven run: a one-shot plan may not use them.
LOOP_ONLY_ACTIONS = frozenset(
    {ActionType.MODEL_TURN, ActionType.LIST_FILES, ActionType.SEARCH, ActionType.ASK_OPERATOR, ActionType.FINISH}
)


class CheckpointKind(StrEnum):
    NONE = "none"
    PRE_EDIT = "pre_edit"
    PRE_COMMAND = "pre_command"
    DELIVERY_SAFE = "delivery_safe"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SpellingCorrection(Contract):
    original: str = Field(min_length=1)
    corrected: str = Field(min_length=1)
    confidence: float = Field(ge=0, le=1)


class FormatHint(Contract):
    text: str = Field(description="The words in the prompt that gave the hint, e.g. 'as a PDF'.")
    kind: str = Field(description="format | theme | length | style")
    value: str = Field(description="Normalised value, e.g. 'pdf', 'xlsx', 'dark'.")


class Deliverable(Contract):
    id: str = Field(min_length=1, max_length=40)
    category: OutputCategory
    title: str = Field(min_length=1, max_length=200)
    format: str = Field(default="", max_length=20, description="File format, e.g. pdf, docx, md, xlsx, mp4.")
    description: str = ""
    details: dict[str, str] = Field(default_factory=dict)


class Entities(Contract):
    brand: str | None = None
    product: str | None = None
    audience: str | None = None
    industry: str | None = None
    colours: list[str] = Field(default_factory=list)
    tone: str | None = None
    names: list[str] = Field(default_factory=list)


class Ambiguity(Contract):
    id: str = Field(min_length=1, max_length=40)
    question: str = Field(min_length=1)
    suggested_answers: list[str] = Field(default_factory=list)
    reason: str = ""
    blocking: bool = Field(default=True, description="True when work cannot start without an answer.")


class RiskNote(Contract):
    kind: str = Field(description="destructive | command | external_call | outside_workspace | other")
    text: str


class UnderstandingSnapshot(Contract):
    schema_version: int = SCHEMA_VERSION
    raw_prompt: str
    normalised_prompt: str
    corrections: list[SpellingCorrection] = Field(default_factory=list)
    format_hints: list[FormatHint] = Field(default_factory=list)
    deliverables: list[Deliverable] = Field(default_factory=list)
    entities: Entities = Field(default_factory=Entities)
    assumptions: list[str] = Field(default_factory=list)
    ambiguities: list[Ambiguity] = Field(default_factory=list)
    risk_notes: list[RiskNote] = Field(default_factory=list)
    needs_provider: bool = Field(
        default=False, description="True when the request is beyond the producing planner's repertoire."
    )
    needs_provider_reason: str = ""
    planner: str = Field(description="Which planner produced this, e.g. 'built-in (rule-based)'.")

    @model_validator(mode="after")
    def _unique_ids(self):
        ids = [d.id for d in self.deliverables]
        if len(ids) != len(set(ids)):
            raise ValueError("deliverable ids must be unique")
        return self


class ExecutionBrief(Contract):
    goal: str = Field(min_length=1)
    in_scope: list[str] = Field(default_factory=list)
    out_of_scope: list[str] = Field(default_factory=list)
    expected_outcomes: list[str] = Field(default_factory=list)
    needs_approval: list[str] = Field(default_factory=list)


class StepExplanation(Contract):
    what: str = Field(min_length=1, description="What the step does.")
    why: str = Field(min_length=1, description="Why it is needed.")
    expect_next: str = Field(min_length=1, description="What it expects to confirm next.")


class PlanStep(Contract):
    id: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=200)
    action_type: ActionType
    inputs: dict = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    checkpoint: CheckpointKind = CheckpointKind.NONE
    expected_outcome: str = ""
    risk_level: RiskLevel = RiskLevel.LOW
    risk_reason: str = ""
    deliverable_id: str | None = None
    explanation: StepExplanation

    @property
    def mutates(self) -> bool:
        return self.action_type in MUTATING_ACTIONS


class Plan(Contract):
    schema_version: int = SCHEMA_VERSION
    steps: list[PlanStep] = Field(default_factory=list)

    @model_validator(mode="after")
    def _dependencies_point_backwards(self):
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            unknown = [d for d in step.depends_on if d not in seen]
            if unknown:
                raise ValueError(f"step {step.id!r} depends on {unknown} which do not come before it")
            seen.add(step.id)
        return self

    def step(self, step_id: str) -> PlanStep:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


class PlannerResult(Contract):
    """Everything one planning pass produces; stored as one PlanRevision."""

    understanding: UnderstandingSnapshot
    brief: ExecutionBrief
    plan: Plan
