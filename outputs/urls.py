from django.urls import path

from outputs import views

app_name = "outputs"

urlpatterns = [
    path("assets/", views.library, name="library"),
    path("assets/<uuid:asset_id>/", views.detail, name="detail"),
    path("assets/<uuid:asset_id>/versions/", views.versions, name="versions"),
    path("assets/<uuid:asset_id>/check/", views.check_stored, name="check"),
    path("assets/<uuid:asset_id>/download/", views.download, name="download"),
    path("assets/<uuid:asset_id>/raw/<path:rel>", views.raw, name="raw"),
    path("assets/<uuid:asset_id>/preview.png", views.preview_image, name="preview"),
    path("assets/<uuid:asset_id>/site/", views.site, name="site_index"),
    path("assets/<uuid:asset_id>/site/<path:rel>", views.site, name="site"),
]
