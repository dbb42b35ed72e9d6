from django.contrib import admin, messages

from outputs.models import OutputAsset
from outputs.services import asset_verify_stored


@admin.register(OutputAsset)
class OutputAssetAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "version", "is_latest", "owner", "size", "content_source", "created_at")
    list_filter = ("category", "is_latest", "content_source", "created_at")
    search_fields = ("title", "source_prompt", "sha256", "owner__email")
    readonly_fields = [f.name for f in OutputAsset._meta.fields]
    raw_id_fields = ("task", "run", "step", "workspace", "parent")
    actions = ["recheck_stored_bytes"]

    @admin.action(description="Re-check stored bytes against the recorded sha256")
    def recheck_stored_bytes(self, request, queryset):
        for asset in queryset:
            report = asset_verify_stored(asset=asset)
            level = messages.SUCCESS if report.passed else messages.ERROR
            self.message_user(request, f"{asset}: {report.summary()}", level)

    def has_add_permission(self, request):
        return False  # assets are only made by verified delivery
