from django.contrib import admin, messages

from tasks.models import (
    CommandExecution,
    ModelToolCall,
    ModelTurn,
    PlanRevision,
    StepExecution,
    Task,
    TaskRun,
    TaskUpload,
    WorkstreamEvent,
)


class TaskUploadInline(admin.TabularInline):
    model = TaskUpload
    extra = 0
    readonly_fields = ("original_name", "content_type", "size", "sha256", "file", "created_at")
    can_delete = False


class PlanRevisionInline(admin.TabularInline):
    model = PlanRevision
    extra = 0
    fields = ("number", "planner", "change_note", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("reference", "title", "owner", "status", "mode", "workspace", "created_at")
    list_filter = ("status", "mode", "expertise", "tone")
    search_fields = ("title", "raw_prompt", "owner__email", "id")
    readonly_fields = ("id", "raw_prompt", "created_at", "updated_at")
    raw_id_fields = ("owner", "workspace")
    inlines = [TaskUploadInline, PlanRevisionInline]
    date_hierarchy = "created_at"


@admin.register(PlanRevision)
class PlanRevisionAdmin(admin.ModelAdmin):
    list_display = ("task", "number", "planner", "created_at")
    search_fields = ("task__title", "task__id")
    readonly_fields = (
        "task",
        "number",
        "schema_version",
        "planner",
        "understanding",
        "brief",
        "plan",
        "change_note",
        "created_at",
    )


# --- Runs: the ops back office (filter by state; retry / stop / recover; read-only event log) --


class StepExecutionInline(admin.TabularInline):
    model = StepExecution
    extra = 0
    fields = ("position", "step_id", "action_type", "title", "status", "attempts", "error_class", "remediation_for")
    readonly_fields = fields
    can_delete = False
    ordering = ("position",)

    def has_add_permission(self, request, obj=None):
        return False


class WorkstreamEventInline(admin.TabularInline):
    model = WorkstreamEvent
    extra = 0
    fields = ("seq", "attempt", "created_at", "kind", "status", "title", "explanation", "step_id", "command")
    readonly_fields = fields
    can_delete = False
    ordering = ("seq",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = (
        "reference",
        "task",
        "owner",
        "state",
        "priority",
        "queue_position",
        "waiting_because",
        "attempt",
        "worker_id",
        "created_at",
    )
    list_filter = ("state", "mutates")
    search_fields = ("id", "task__title", "owner__email", "worker_id")
    raw_id_fields = ("task", "owner", "plan_revision", "workspace", "previous_run")
    readonly_fields = (
        "state",
        "state_reason",
        "blocking_reason",
        "worker_id",
        "attempt",
        "heartbeat_at",
        "lease_expires_at",
        "current_step_id",
        "control_request",
        "event_seq",
        "recoveries",
        "mutates",
        "created_at",
        "started_at",
        "finished_at",
    )
    inlines = [StepExecutionInline, WorkstreamEventInline]
    actions = ["retry_runs", "stop_runs", "recover_runs"]
    date_hierarchy = "created_at"

    @admin.display(description="Queue")
    def queue_position(self, run):
        from tasks.engine.dispatch import queue_position

        return queue_position(run) or "—"

    @admin.display(description="Waiting because")
    def waiting_because(self, run):
        return run.blocking_reason or "—"

    def _report(self, request, outcomes):
        for text, level in outcomes:
            self.message_user(request, text, level=level)

    @admin.action(description="Retry selected runs (as new linked runs)")
    def retry_runs(self, request, queryset):
        from tasks.engine.controls import run_retry

        self._report(
            request,
            [
                (o.message, messages.SUCCESS if o.changed else messages.WARNING)
                for o in (run_retry(run=run) for run in queryset)
            ],
        )

    @admin.action(description="Stop (cancel) selected runs")
    def stop_runs(self, request, queryset):
        from tasks.engine.controls import run_stop

        self._report(
            request,
            [
                (o.message, messages.SUCCESS if o.changed else messages.WARNING)
                for o in (run_stop(run=run) for run in queryset)
            ],
        )

    @admin.action(description="Recover selected runs whose worker stopped answering")
    def recover_runs(self, request, queryset):
        from tasks.engine.recovery import run_recover

        results = [run_recover(run_id=run.pk) for run in queryset]
        self._report(
            request,
            [
                (
                    f"{r.run.reference}: {r.outcome}. {r.reason}",
                    messages.WARNING if r.outcome == "skipped" else messages.SUCCESS,
                )
                for r in results
            ],
        )


@admin.register(CommandExecution)
class CommandExecutionAdmin(admin.ModelAdmin):
    list_display = ("command", "run", "exit_code", "timed_out", "stopped", "output_truncated", "started_at")
    list_filter = ("timed_out", "stopped", "output_truncated")
    search_fields = ("command", "run__id")
    readonly_fields = [f.name for f in CommandExecution._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Model-driven runs: the stored transcript, read-only ------------------------------------------


class ModelToolCallInline(admin.TabularInline):
    model = ModelToolCall
    extra = 0
    fields = ("index", "call_id", "name", "arguments", "step", "check_step", "is_error", "observation", "observed_at")
    readonly_fields = fields
    can_delete = False


@admin.register(ModelTurn)
class ModelTurnAdmin(admin.ModelAdmin):
    list_display = ("run", "number", "provider", "model", "input_tokens", "output_tokens", "replied_at")
    search_fields = ("run__id", "provider", "reply_text")
    list_filter = ("provider",)
    readonly_fields = (
        "run",
        "number",
        "step",
        "provider",
        "model",
        "system",
        "sent",
        "reply_text",
        "tool_calls",
        "stop_reason",
        "input_tokens",
        "output_tokens",
        "requested_at",
        "replied_at",
    )
    inlines = [ModelToolCallInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
