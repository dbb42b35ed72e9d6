from django.urls import path

from outputs import views

app_name = "outputs"

urlpatterns = [
    path("assets/", views.library, name="library"),
]
