"""ASGI entry point: HTTP through Django, websockets through Channels (origin checked exactly, authenticated)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_site.settings")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from command_site.idle_sessions import IdleSessionWebsocketMiddleware  # noqa: E402
from command_site.request_limits import RequestBodyLimit  # noqa: E402
from command_site.websocket_origin import SameOriginValidator  # noqa: E402
from tasks.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(django_asgi_app),
        "websocket": SameOriginValidator(
            AuthMiddlewareStack(IdleSessionWebsocketMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
