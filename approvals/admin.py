"""The back office for approvals: read the exact action, see who decided and which memory decided."""

from django.contrib import admin

from approvals.models import (
    ApprovalPreference,
    ApprovalRequest,
    FormatDefault,
    RememberedClarification,
    StylePreference,
)
from approvals.services import approvals_expire_overdue


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "run", "category", "risk_level", "status", "created_at", "decided_at")
    list_filter = ("status", "category", "risk_level")
    search_fields = ("title", "owner__email", "action_hash")
    date_hierarchy = "created_at"
    list_select_related = ("owner", "run")
    # A decision is the operator's alone: the admin reads requests, it does not decide them.
    readonly_fields = [f.name for f in ApprovalRequest._meta.fields]

    actions = ["expire_overdue"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Expire every pending request past its expiry time")
    def expire_overdue(self, request, queryset):
        count = approvals_expire_overdue()
        self.message_user(request, f"{count} overdue request(s) expired; their runs are told by signal.")


@admin.register(ApprovalPreference)
class ApprovalPreferenceAdmin(admin.ModelAdmin):
    list_display = ("owner", "category", "scope", "workspace", "decision", "last_used_at", "use_count")
    list_filter = ("category", "scope", "decision")
    search_fields = ("owner__email",)
    raw_id_fields = ("owner", "workspace", "learned_from_task")


@admin.register(FormatDefault)
class FormatDefaultAdmin(admin.ModelAdmin):
    list_display = ("owner", "category", "format", "last_used_at")
    list_filter = ("category",)
    raw_id_fields = ("owner", "learned_from_task")


@admin.register(StylePreference)
class StylePreferenceAdmin(admin.ModelAdmin):
    list_display = ("owner", "kind", "value", "last_used_at")
    list_filter = ("kind",)
    raw_id_fields = ("owner", "learned_from_task")


@admin.register(RememberedClarification)
class RememberedClarificationAdmin(admin.ModelAdmin):
    list_display = ("owner", "question_key", "answer", "last_used_at")
    search_fields = ("question_key", "question", "answer")
    raw_id_fields = ("owner", "learned_from_task")
