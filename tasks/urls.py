from django.urls import path

from tasks import views

app_name = "tasks"

urlpatterns = [
    path("task/<uuid:task_id>/", views.task_detail, name="detail"),
]
