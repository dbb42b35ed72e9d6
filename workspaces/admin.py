from django.contrib import admin, messages

from workspaces import services
from workspaces.models import FileChange, RollbackPoint, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "path", "origin", "folder_state", "created_at", "last_seen_at")
    list_filter = ("origin",)
    search_fields = ("name", "path", "owner__email")
    raw_id_fields = ("owner",)
    readonly_fields = ("device", "inode")

    @admin.display(description="Folder")
    def folder_state(self, obj: Workspace) -> str:
        return services.workspace_status(workspace=obj).state.value


@admin.register(FileChange)
class FileChangeAdmin(admin.ModelAdmin):
    """A read-only log: changes are facts, never edited after the event."""

    list_display = ("summary", "workspace", "change_type", "actor", "run", "created_at")
    list_filter = ("change_type", "actor", "is_binary", "whitespace_only")
    search_fields = ("path", "old_path", "summary", "actor_label")
    raw_id_fields = ("workspace", "run", "step", "by_user", "rollback_point")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(RollbackPoint)
class RollbackPointAdmin(admin.ModelAdmin):
    list_display = ("__str__", "workspace", "kind", "scope_label", "file_count", "run", "created_at", "reverted_at")
    list_filter = ("kind", "actor")
    search_fields = ("scope_label", "note", "workspace__name")
    raw_id_fields = ("workspace", "run", "step", "created_by", "protects_revert_of")
    actions = ["revert_points"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revert to the selected points (stops at conflicts; never overwrites later edits)")
    def revert_points(self, request, queryset):
        for point in queryset:
            try:
                outcome = services.rollback_point_revert(point=point, user=request.user)
            except services.RevertRefused as exc:
                self.message_user(request, f"{point}: {exc}", messages.ERROR)
                continue
            level = messages.SUCCESS if outcome.done else messages.WARNING
            self.message_user(request, f"{point}: {outcome.message}", level)
