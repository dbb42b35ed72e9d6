from django.urls import path

from providers import views

app_name = "providers"

urlpatterns = [
    path("providers/", views.index, name="index"),
    path("providers/<uuid:connection_id>/check/", views.check, name="check"),
    path("providers/<uuid:connection_id>/default/", views.make_default, name="default"),
    path("providers/<uuid:connection_id>/revoke/", views.revoke, name="revoke"),
    path("providers/<uuid:connection_id>/delete/", views.delete, name="delete"),
    path("providers/<uuid:connection_id>/prices/", views.prices, name="prices"),
]
