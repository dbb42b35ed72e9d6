from django.urls import path

from providers import views

app_name = "providers"

urlpatterns = [
    path("providers/", views.index, name="index"),
]
