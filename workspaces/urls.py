from django.urls import path

from workspaces import views

app_name = "workspaces"

urlpatterns = [
    path("workspaces/", views.index, name="index"),
    path("agent/<uuid:workspace_id>/", views.detail, name="detail"),
    path("agent/<uuid:workspace_id>/relink/", views.relink, name="relink"),
    path("agent/<uuid:workspace_id>/forget/", views.forget, name="forget"),
    path("agent/<uuid:workspace_id>/tree/", views.tree, name="tree"),
    path("agent/<uuid:workspace_id>/file/", views.file, name="file"),
    path("agent/<uuid:workspace_id>/file/save/", views.file_save, name="file_save"),
    path("agent/<uuid:workspace_id>/changes/", views.changes, name="changes"),
    path("agent/<uuid:workspace_id>/changes/<id:change_id>/", views.change, name="change"),
    path("agent/<uuid:workspace_id>/checkpoint/", views.checkpoint, name="checkpoint"),
    path("agent/<uuid:workspace_id>/points/<id:point_id>/revert/", views.point_revert, name="point_revert"),
    path("agent/<uuid:workspace_id>/runs/<id:run_id>/revert/", views.run_revert, name="run_revert"),
    path("agent/<uuid:workspace_id>/preview/", views.preview, name="preview"),
    path("agent/<uuid:workspace_id>/preview/<str:token>/<path:rel>", views.preview_file, name="preview_file"),
]
