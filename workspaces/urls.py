from django.urls import path

from workspaces import views

app_name = "workspaces"

urlpatterns = [
    path("workspaces/", views.index, name="index"),
]
