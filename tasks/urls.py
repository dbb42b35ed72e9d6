from django.urls import path

from tasks import views

app_name = "tasks"

urlpatterns = [
    path("task/<uuid:task_id>/", views.task_detail, name="detail"),
    path("task/<uuid:task_id>/answers/", views.task_answer, name="answer"),
    path("task/<uuid:task_id>/plan-again/", views.task_plan_again, name="plan_again"),
]
