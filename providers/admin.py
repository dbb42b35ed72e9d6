from django.contrib import admin, messages

from providers.crypto import secret_encrypt
from providers.forms import ProviderConnectionAdminForm
from providers.models import ProviderConnection
from providers.services import ProviderRefused, provider_connection_check, provider_connection_revoke


@admin.register(ProviderConnection)
class ProviderConnectionAdmin(admin.ModelAdmin):
    form = ProviderConnectionAdminForm
    list_display = ["label", "owner", "kind", "model", "status", "is_default", "masked_key", "last_checked_at"]
    list_filter = ["status", "kind", "is_default"]
    search_fields = ["label", "model", "base_url", "owner__email"]
    readonly_fields = ["masked_key", "status", "last_checked_at", "last_error", "created_at", "updated_at"]
    actions = ["check_connections", "revoke_connections"]

    @admin.display(description="API key")
    def masked_key(self, obj):
        return obj.masked_key

    def save_model(self, request, obj, form, change):
        key = form.cleaned_data.get("api_key")
        if key:
            obj.api_key_encrypted = secret_encrypt(key)
            obj.api_key_last4 = key[-4:]
            if obj.status == ProviderConnection.Status.REVOKED:
                obj.status = ProviderConnection.Status.UNCHECKED
        super().save_model(request, obj, form, change)

    @admin.action(description="Check the selected connections (a real request each)")
    def check_connections(self, request, queryset):
        for connection in queryset:
            try:
                checked = provider_connection_check(connection=connection)
                self.message_user(request, f"{checked.label}: {checked.get_status_display()} {checked.last_error}")
            except ProviderRefused as exc:
                self.message_user(request, f"{connection.label}: {exc}", level=messages.WARNING)

    @admin.action(description="Revoke the selected connections (destroys their stored keys)")
    def revoke_connections(self, request, queryset):
        for connection in queryset:
            provider_connection_revoke(connection=connection)
        self.message_user(request, f"Revoked {queryset.count()} connection(s).")
