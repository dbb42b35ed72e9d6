from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("memory/", views.memory, name="memory"),
]
