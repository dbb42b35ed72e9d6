from django.urls import path

from tasks.consumers import WorkstreamConsumer

websocket_urlpatterns = [
    path("ws/workstream/", WorkstreamConsumer.as_asgi()),
]
