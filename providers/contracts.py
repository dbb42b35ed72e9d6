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


class Criterion(Contract):
    """One acceptance criterion of a deliverable, derived from its brief; verification checks it
    mechanically where it can and otherwise reports it as not checked."""

    id: str = Field(min_length=1, max_length=60)
    kind: str = Field(
        description="genre | subject | name | count | period | totals | colour | palette | "
        "theme | duration | pages | slides | section | audience"
    )
    text: str = Field(min_length=1, description="The criterion in the user's words, e.g. '4 departments'.")
    target: str = Field(default="", description="What is counted or named, e.g. 'departments'.")
    value: str = Field(default="", description="The expected value, e.g. '4', 'quarterly', 'warm', '10'.")


PALETTE_WORDS = ("warm", "cool", "pastel", "earthy", "vibrant", "muted", "monochrome")


class DeliverableBrief(Contract):
    """What the request asks of one deliverable: typed acceptance criteria, filled at planning
    time by the built-in planner (what it can read) or by a model provider."""

    genre: str = Field(
        default="",
        max_length=60,
        description="e.g. budget, invoice, pricing, proposal, "
        "onboarding guide, report, flyer, landing page, logo, pitch deck.",
    )
    subject: str = Field(default="", max_length=200, description="What it is about, e.g. 'new nurses'.")
    business: str = Field(default="", max_length=80, description="The kind of business, e.g. 'bakery', 'SaaS'.")
    location: str = Field(default="", max_length=80, description="A place the request names, e.g. 'Bristol'.")
    audience: str = Field(default="", max_length=120)
    names: list[str] = Field(default_factory=list, description="Named entities that must appear, e.g. a brand.")
    counts: dict[str, int] = Field(default_factory=dict, description="e.g. {'departments': 4, 'tiers': 3}.")
    period: str = Field(default="", max_length=20, description="quarterly | monthly | weekly | annual")
    totals: bool = Field(default=False, description="The request asks for totals.")
    colours: list[str] = Field(default_factory=list, description="Colour words or hex values asked for.")
    palette: str = Field(default="", max_length=20, description="A palette word: " + ", ".join(PALETTE_WORDS))
    theme: str = Field(default="", max_length=20, description="dark | light")
    duration_seconds: float | None = Field(default=None, ge=0, le=3600)
    pages: int | None = Field(default=None, ge=1, le=500)
    slides: int | None = Field(default=None, ge=1, le=200)
    sections: list[str] = Field(default_factory=list, description="Required parts, e.g. 'booking form', 'menu'.")

    @property
    def is_empty(self) -> bool:
        return self == DeliverableBrief()

    def criteria(self) -> list[Criterion]:
        """Every acceptance criterion this brief implies, in a stable order."""
        out: list[Criterion] = []

        def add(kind: str, text: str, target: str = "", value: str = "") -> None:
            slug = "-".join(w for w in (kind, target or value) if w).lower().replace(" ", "-")[:60]
            out.append(Criterion(id=slug, kind=kind, text=text, target=target, value=value))

        if self.genre:
            vowel = self.genre[:1].lower() in "aeiou" and not self.genre.lower().startswith(("one", "uni", "eu", "use"))
            article = "an" if vowel else "a"
            add("genre", f"It is {article} {self.genre}", value=self.genre)
        if self.subject:
            add("subject", f"It is about {self.subject}", value=self.subject)
        for name in self.names:
            add("name", f"It names “{name}”", target=name, value=name)
        if self.location:
            add("location", f"It mentions {self.location}", value=self.location)
        for noun, n in self.counts.items():
            add("count", f"{n} {noun}", target=noun, value=str(n))
        if self.period:
            add("period", f"Broken down {self.period}", value=self.period)
        if self.totals:
            add("totals", "A totals row whose formulas compute", value="totals")
        for colour in self.colours:
            add("colour", f"Uses {colour}", value=colour)
        if self.palette:
            add("palette", f"A {self.palette} palette", value=self.palette)
        if self.theme:
            add("theme", f"A {self.theme} theme", value=self.theme)
        if self.duration_seconds:
            add("duration", f"Lasts {self.duration_seconds:g} s (±10 %)", value=f"{self.duration_seconds:g}")
        if self.pages:
            add("pages", f"{self.pages} page{'s' if self.pages != 1 else ''}", value=str(self.pages))
        if self.slides:
            add("slides", f"{self.slides} slides", value=str(self.slides))
        for section in self.sections:
            plural = section.endswith("s") or section in ("pricing", "signup")
            article = "" if plural else "an " if section[:1] in "aeiou" else "a "
            add("section", f"Includes {article}{section}", target=section, value=section)
        if self.audience:
            add("audience", f"Written for {self.audience}", value=self.audience)
        return out


class Deliverable(Contract):
    id: str = Field(min_length=1, max_length=40)
    category: OutputCategory
    title: str = Field(min_length=1, max_length=200)
    format: str = Field(default="", max_length=20, description="File format, e.g. pdf, docx, md, xlsx, mp4.")
    description: str = ""
    details: dict[str, str] = Field(default_factory=dict)
    brief: DeliverableBrief = Field(
        default_factory=DeliverableBrief, description="Acceptance criteria read from the request."
    )


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

    @model_validator(mode="after")
    def _deliverable_briefs_reach_their_steps(self):
        """Each generate_output step carries its deliverable's brief (as ``deliverable_brief``), so
        verification checks what was asked whichever planner wrote the plan; a brief the step
        already carries is kept as written."""
        briefs = {d.id: d.brief for d in self.understanding.deliverables if not d.brief.is_empty}
        for step in self.plan.steps:
            wanted = briefs.get(step.deliverable_id or "")
            if step.action_type == ActionType.GENERATE_OUTPUT and wanted and "deliverable_brief" not in step.inputs:
                step.inputs["deliverable_brief"] = wanted.model_dump(exclude_defaults=True)
        return self
