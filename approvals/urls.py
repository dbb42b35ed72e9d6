from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("approvals/", views.approval_index, name="index"),
    path("approvals/<uuid:approval_id>/", views.approval_detail, name="detail"),
    path("approvals/<uuid:approval_id>/decide/", views.approval_decide, name="decide"),
    path("memory/", views.memory, name="memory"),
    path("memory/approvals/", views.memory_add_approval, name="memory_add_approval"),
    path("memory/formats/", views.memory_add_format, name="memory_add_format"),
    path("memory/style/", views.memory_set_style, name="memory_set_style"),
    path("memory/<slug:kind>/<id:item_id>/forget/", views.memory_forget, name="memory_forget"),
]
