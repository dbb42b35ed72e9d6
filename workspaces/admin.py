from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.template.response import TemplateResponse

from workspaces import services
from workspaces.models import FileChange, RollbackPoint, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "path", "origin", "folder_state", "overlaps", "created_at", "last_seen_at")
    list_filter = ("origin",)
    search_fields = ("name", "path", "owner__email")
    raw_id_fields = ("owner",)
    readonly_fields = ("device", "inode")
    actions = ["transfer_workspaces"]

    def get_readonly_fields(self, request, obj=None):
        # The owner changes only through the transfer action, which keeps folders one account's.
        return (*self.readonly_fields, "owner") if obj else self.readonly_fields

    @admin.action(description="Transfer the selected workspaces to another account")
    def transfer_workspaces(self, request, queryset):
        selected = list(queryset.select_related("owner"))
        email = (request.POST.get("to_owner") or "").strip()
        error = ""
        if request.POST.get("apply"):
            to_owner = get_user_model().objects.filter(email__iexact=email).first() if email else None
            if to_owner is None:
                error = f"No account has the e-mail address “{email}”."
            else:
                try:
                    services.workspace_transfer(workspaces=selected, to_owner=to_owner)
                except services.WorkspaceError as exc:
                    error = str(exc)
                else:
                    self.message_user(
                        request, f"Transferred {len(selected)} workspace(s) to {to_owner}.", messages.SUCCESS
                    )
                    return None
        context = {**self.admin_site.each_context(request), "workspaces": selected, "to_owner": email, "error": error}
        return TemplateResponse(request, "admin/workspaces/transfer.html", context)

    @admin.display(description="Folder")
    def folder_state(self, obj: Workspace) -> str:
        return services.workspace_status(workspace=obj).state.value

    @admin.display(description="Also claimed by")
    def overlaps(self, obj: Workspace) -> str:
        """Other accounts' workspaces at, above or inside this folder: registered before folders
        belonged to one account. Transfer one side to settle it."""
        others = services.workspace_overlaps(workspace=obj)
        return ", ".join(f"{w.owner} ({w.name})" for w in others) or "—"


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
