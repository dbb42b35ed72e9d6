"""The latency baseline: a bare Channels consumer at /ws/echo/ (served by its own daphne).

The echo consumer does the least a Channels app can do over a layer: a client message is sent to
the connection's own group through the channel layer and written back as it arrives, so the
figure is websocket + daphne + one layer hop, with no database and no template.
"""

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from command_site.asgi import application as command_app


class EchoConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.group = f"echo-{self.channel_name.replace('!', '-')}"[:90]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(self.group, {"type": "echo.message", "text": text_data})

    async def echo_message(self, message):
        await self.send(text_data=message["text"])


application = ProtocolTypeRouter(
    {
        "http": command_app,
        "websocket": URLRouter([path("ws/echo/", EchoConsumer.as_asgi())]),
    }
)
