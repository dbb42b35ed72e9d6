from django.contrib import admin

from tasks.models import PlanRevision, Task, TaskUpload


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
