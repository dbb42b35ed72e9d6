from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from command_site import views
from command_site.admin import audit_admin_view

# The admin login goes through allauth's login, so its rate limits cover the back office too.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "Command back office"
admin.site.site_title = "Command back office"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("roadmap/", views.roadmap, name="roadmap"),
    path("health", views.health, name="health"),
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says.
    path("favicon.ico", RedirectView.as_view(url=static("img/mark.svg"), permanent=True)),
    path("admin/audit/", audit_admin_view, name="admin_audit"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("tasks.urls")),
    path("", include("workspaces.urls")),
    path("", include("outputs.urls")),
    path("", include("providers.urls")),
    path("", include("approvals.urls")),
]
