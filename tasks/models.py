"""Tasks: a request exactly as typed, its uploads, and the plan revisions made from it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class Task(models.Model):
    class Mode(models.TextChoices):
        CREATE = "create", "Create something new"
        EDIT = "edit", "Edit a project"
        EXPLAIN = "explain", "Explain"

    class Expertise(models.TextChoices):
        NEW = "new", "New to this"
        EXPERT = "expert", "Expert"

    class Tone(models.TextChoices):
        FRIENDLY = "friendly", "Friendly"
        PROFESSIONAL = "professional", "Professional"
        MIXED = "mixed", "Mixed"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        UNDERSTANDING = "understanding", "Understanding"
        NEEDS_CLARIFICATION = "needs_clarification", "Needs your answer"
        NEEDS_PROVIDER = "needs_provider", "Needs a model provider"
        PLANNED = "planned", "Planned"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING_APPROVAL = "waiting_approval", "Waiting for your approval"
        PAUSED = "paused", "Paused"
        VERIFYING = "verifying", "Verifying"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        RECOVERABLE = "recoverable", "Recoverable"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200, blank=True)
    raw_prompt = models.TextField(help_text="The request exactly as typed.")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.CREATE)
    expertise = models.CharField(max_length=16, choices=Expertise.choices, default=Expertise.NEW)
    tone = models.CharField(max_length=16, choices=Tone.choices, default=Tone.MIXED)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    context = models.JSONField(default=dict, blank=True, help_text="Structured context (imports, answers …).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.title or self.raw_prompt[:60]

    def get_absolute_url(self) -> str:
        return reverse("tasks:detail", args=[self.id])

    @property
    def reference(self) -> str:
        return f"TASK-{self.id.hex[:6].upper()}"


def upload_path(instance: TaskUpload, filename: str) -> str:
    # The stored name is ours; the operator's file name is kept in `original_name`.
    return f"uploads/{instance.task_id}/{uuid.uuid4().hex}"


class TaskUpload(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="uploads")
    file = models.FileField(upload_to=upload_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.original_name


class PlanRevision(models.Model):
    """One version of what Command understood and planned; earlier revisions stay readable."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="plan_revisions")
    number = models.PositiveIntegerField()
    schema_version = models.PositiveSmallIntegerField(default=1)
    planner = models.CharField(max_length=100, help_text="Which planner produced this revision.")
    understanding = models.JSONField(default=dict)
    brief = models.JSONField(default=dict)
    plan = models.JSONField(default=dict)
    change_note = models.TextField(blank=True, help_text="What changed since the previous revision, and why.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "number"]
        constraints = [models.UniqueConstraint(fields=["task", "number"], name="plan_revision_unique_number")]

    def __str__(self) -> str:
        return f"{self.task.reference} plan r{self.number}"


class ControlRequest(models.TextChoices):
    NONE = "", "None"
    PAUSE = "pause", "Pause at the next step boundary"
    STOP = "stop", "Stop now"


class TaskRun(models.Model):
    """One execution of a task's plan. Its state changes only through tasks.engine.state."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING_APPROVAL = "waiting_approval", "Waiting for your approval"
        PAUSED = "paused", "Paused"
        VERIFYING = "verifying", "Verifying"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        RECOVERABLE = "recoverable", "Recoverable"
        CANCELLED = "cancelled", "Cancelled"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="runs")
    # Indexed by run_owner_state (owner first); every index here is written by each state change.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs", db_index=False)
    plan_revision = models.ForeignKey(PlanRevision, on_delete=models.PROTECT, related_name="runs")
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    previous_run = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="next_runs",
        help_text="The run this one re-runs or continues.",
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)  # see Meta.indexes
    state_reason = models.TextField(blank=True, help_text="Why the run is in its state, in plain words.")
    # Queue
    priority = models.SmallIntegerField(default=0, help_text="Higher runs first.")
    ready_at = models.DateTimeField(null=True, blank=True, help_text="Not before this time (retry back-off).")
    blocking_reason = models.CharField(max_length=300, blank=True)
    # Lease: the attempt number is the fencing token for every state write.
    worker_id = models.CharField(max_length=120, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    current_step_id = models.CharField(max_length=40, blank=True)
    # Whether any step changes the workspace: only such runs take the workspace lock.
    mutates = models.BooleanField(default=True)
    # An operator's request the worker honours at its next chance ("pause" at a step boundary,
    # "stop" at once, killing a running command).
    control_request = models.CharField(max_length=10, blank=True, choices=ControlRequest.choices)
    # The last WorkstreamEvent.seq handed out: incremented in the event's own transaction, so
    # sequence numbers are gapless per run.
    event_seq = models.PositiveIntegerField(default=0)
    # How often the reaper resumed this run after its worker died (bounded: a step that kills
    # its worker every time must not loop forever).
    recoveries = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    # States in which a run holds its workspace (mid-plan): another mutating run must wait.
    WORKSPACE_HOLDING_STATES = ("running", "verifying", "waiting_approval")
    # States in which a worker holds a lease on the run.
    LEASED_STATES = ("running", "verifying")
    TERMINAL_STATES = ("completed", "failed", "recoverable", "cancelled")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "-priority", "created_at"], name="run_queue_order"),
            models.Index(fields=["owner", "state"], name="run_owner_state"),
            # A task's runs newest first (its thread's and record's runs page): an index range, not
            # a sort of every run of a task run a thousand times.
            models.Index(fields=["task", "created_at", "id"], name="run_task_created"),
            # The runs under way per owner (the cap), without the history of every finished run.
            models.Index(
                fields=["owner"], condition=models.Q(state__in=["running", "verifying"]), name="run_leased_owner"
            ),
        ]
        constraints = [
            # Per-workspace exclusivity is the database's job, not a convention.
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(state__in=["running", "verifying", "waiting_approval"], mutates=True),
                name="run_one_mutating_per_workspace",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"RUN-{self.pk:03d}" if self.pk else "RUN-new"


class StepExecution(models.Model):
    """One plan step within one run: status, attempts and its idempotency key."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        WAITING_APPROVAL = "waiting_approval", "Waiting for approval"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"
        # A step a model asked for that failed, and whose failure went back to the model as what
        # it observed (tasks.engine.loop): the run goes on; the failure stays on the record.
        FED_BACK = "fed_back", "Failed; the model was told"

    run = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=40)
    position = models.PositiveIntegerField()
    action_type = models.CharField(max_length=32)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=120, unique=True)
    # The PlanStep (providers.contracts) this execution carries out, as JSON: remediation steps
    # inserted by the engine have no row in the plan revision, so each execution keeps its own.
    spec = models.JSONField(default=dict, blank=True)
    remediation_for = models.CharField(max_length=40, blank=True, help_text="Step this one repairs.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error_class = models.CharField(max_length=120, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "step_id"], name="step_execution_unique_step")]

    def __str__(self) -> str:
        return f"{self.run.reference} {self.step_id}"


class WorkstreamEvent(models.Model):
    """One engine fact, written first (the database is the source of truth), published after commit."""

    # Indexed by workstream_event_unique_seq (run first).
    run = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="events", db_index=False)
    seq = models.PositiveIntegerField(help_text="Per-run, gapless, monotonic.")
    kind = models.CharField(max_length=40, db_index=True)
    phase = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=20, blank=True)
    title = models.CharField(max_length=300)
    explanation = models.TextField(blank=True)
    step_id = models.CharField(max_length=40, blank=True)
    file_path = models.CharField(max_length=1024, blank=True)
    command = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    attempt = models.PositiveIntegerField(default=0, help_text="The run attempt that wrote this event.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="workstream_event_unique_seq")]

    def __str__(self) -> str:
        return f"{self.run.reference} #{self.seq} {self.title}"


class CommandExecution(models.Model):
    """A command Command really ran: the only commands the workstream may name."""

    run = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="commands")
    step = models.ForeignKey(StepExecution, on_delete=models.SET_NULL, null=True, blank=True, related_name="commands")
    command = models.TextField()
    cwd = models.CharField(max_length=1024)
    exit_code = models.IntegerField(null=True, blank=True)
    timed_out = models.BooleanField(default=False)
    stopped = models.BooleanField(default=False)
    output = models.TextField(blank=True)
    output_truncated = models.BooleanField(default=False)
    pid = models.IntegerField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return self.command[:80]


class ModelTurn(models.Model):
    """One model reply in a run: what was sent, and the reply, stored before anything acts on it.

    A loop turn (tasks.engine.loop.turns) is unique per (run, number); a reply written while the
    model writes an output's content (tasks.engine.loop.content) is unique per (step, number). So a
    worker that dies after a reply is stored never asks the provider for it again. Both count
    toward the run's budget. The prices the reply was counted at are stored with it: a
    connection's later price change does not rewrite what a past run cost."""

    class Purpose(models.TextChoices):
        LOOP = "loop", "A turn of the model-driven run"
        CONTENT = "content", "Writing an output's content"

    run = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="model_turns")
    number = models.PositiveIntegerField()
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.LOOP)
    step = models.ForeignKey(
        StepExecution, on_delete=models.SET_NULL, null=True, blank=True, related_name="model_turns"
    )
    provider = models.CharField(max_length=120, help_text="The connection's label, as the planner names it.")
    model = models.CharField(max_length=120, blank=True)
    system = models.TextField(blank=True, help_text="The system prompt (stored on the first turn).")
    # The messages this turn added to the conversation (neutral format): the request on the first
    # turn, the tool results after it. The whole request is every earlier turn's `sent` and reply.
    sent = models.JSONField(default=list, blank=True)
    reply_text = models.TextField(blank=True, help_text="The model's own words, shown as the model's.")
    tool_calls = models.JSONField(default=list, blank=True)
    stop_reason = models.CharField(max_length=40, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    # The connection's prices (US$ per million tokens) when the reply was stored, and what its
    # tokens cost at them; all None when the connection had no prices (no cost is claimed).
    input_price_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    output_price_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    requested_at = models.DateTimeField()
    replied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "number"], condition=Q(purpose="loop"), name="model_turn_unique_number"
            ),
            models.UniqueConstraint(
                fields=["step", "number"], condition=Q(purpose="content"), name="model_turn_unique_content_reply"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run.reference} turn {self.number}"


class ModelToolCall(models.Model):
    """One tool call a model turn asked for, the step that carried it out, and what the model was
    told back (the observation, capped), stored when the step settled."""

    turn = models.ForeignKey(ModelTurn, on_delete=models.CASCADE, related_name="calls")
    index = models.PositiveSmallIntegerField()
    call_id = models.CharField(max_length=120)
    name = models.CharField(max_length=60)
    arguments = models.JSONField(default=dict, blank=True)
    step = models.OneToOneField(
        StepExecution, on_delete=models.SET_NULL, null=True, blank=True, related_name="tool_call"
    )
    # For `finish`: the verification step that ran the check; its outcome is the observation.
    check_step = models.OneToOneField(
        StepExecution, on_delete=models.SET_NULL, null=True, blank=True, related_name="checked_call"
    )
    observation = models.TextField(blank=True)
    is_error = models.BooleanField(default=False)
    observed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["turn", "index"]
        constraints = [models.UniqueConstraint(fields=["turn", "index"], name="model_tool_call_unique_index")]

    def __str__(self) -> str:
        return f"{self.turn} call {self.index}: {self.name}"
