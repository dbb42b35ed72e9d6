from django.contrib import admin

from workspaces.models import Workspace


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "path", "created_at", "last_seen_at")
    search_fields = ("name", "path", "owner__email")
    raw_id_fields = ("owner",)
