"""The back office's truthfulness audit page: a button that runs `audit_run()` and lists violations."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from command_site.audit import RULES, audit_run

# The admin index shows a link to the audit page (admin/command_index.html adds it).
admin.site.index_template = "admin/command_index.html"


@require_http_methods(["GET", "POST"])
def audit_view(request):
    """GET shows what the audit checks; POST runs it (it only reads) and lists every violation."""
    report = audit_run() if request.method == "POST" else None
    context = {
        **admin.site.each_context(request),
        "title": "Truthfulness audit",
        "rules": RULES,
        "report": report,
    }
    return TemplateResponse(request, "admin/command_audit.html", context)


audit_admin_view = admin.site.admin_view(audit_view)
