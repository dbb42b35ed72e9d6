from django.urls import path

from workspaces import views

app_name = "workspaces"

urlpatterns = [
    path("workspaces/", views.index, name="index"),
    path("workspaces/<uuid:workspace_id>/", views.detail, name="detail"),
    path("workspaces/<uuid:workspace_id>/relink/", views.relink, name="relink"),
    path("workspaces/<uuid:workspace_id>/forget/", views.forget, name="forget"),
    path("workspaces/<uuid:workspace_id>/tree/", views.tree, name="tree"),
    path("workspaces/<uuid:workspace_id>/file/", views.file, name="file"),
    path("workspaces/<uuid:workspace_id>/file/save/", views.file_save, name="file_save"),
    path("workspaces/<uuid:workspace_id>/changes/", views.changes, name="changes"),
    path("workspaces/<uuid:workspace_id>/changes/<id:change_id>/", views.change, name="change"),
    path("workspaces/<uuid:workspace_id>/checkpoint/", views.checkpoint, name="checkpoint"),
    path("workspaces/<uuid:workspace_id>/points/<id:point_id>/revert/", views.point_revert, name="point_revert"),
    path("workspaces/<uuid:workspace_id>/runs/<id:run_id>/revert/", views.run_revert, name="run_revert"),
    path("workspaces/<uuid:workspace_id>/preview/", views.preview, name="preview"),
    path("workspaces/<uuid:workspace_id>/preview/<str:token>/<path:rel>", views.preview_file, name="preview_file"),
]
