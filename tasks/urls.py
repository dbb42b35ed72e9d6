from django.urls import path

from tasks import views

app_name = "tasks"

urlpatterns = [
    path("command/", views.command_home, name="command"),
    path("command/switcher/", views.command_switcher, name="switcher"),
    path("command/<uuid:task_id>/", views.command_task, name="command_task"),
    path("task/<uuid:task_id>/", views.task_detail, name="detail"),
    path("task/<uuid:task_id>/answers/", views.task_answer, name="answer"),
    path("task/<uuid:task_id>/plan-again/", views.task_plan_again, name="plan_again"),
    path("task/<uuid:task_id>/follow-up/", views.task_follow_up, name="follow_up"),
    path("task/<uuid:task_id>/regenerate/<uuid:asset_id>/", views.asset_regenerate, name="regenerate"),
    path("task/<uuid:task_id>/run/", views.run_start, name="run_start"),
    path("task/<uuid:task_id>/runs/", views.task_runs, name="task_runs"),
    path("run/<id:run_id>/status/", views.run_status, name="run_status"),
    path("run/<id:run_id>/events/", views.run_events, name="run_events"),
    path("run/<id:run_id>/priority/", views.run_priority, name="run_priority"),
    path("run/<id:run_id>/commands/<id:execution_id>/output.log", views.command_output, name="command_output"),
    path("run/<id:run_id>/answer/", views.run_answer, name="run_answer"),
    path("run/<id:run_id>/<str:action>/", views.run_control, name="run_control"),
]
