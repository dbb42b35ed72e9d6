"""The workstream websocket: one consumer per browser connection."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

# Application close code for "sign in first": the htmx ws extension does not retry on it.
CLOSE_UNAUTHENTICATED = 4401


class WorkstreamConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        # Accept, then close with an application code: rejecting before accept makes browsers retry.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_group = f"user-{user.pk}"
        await self.channel_layer.group_add(self.user_group, self.channel_name)

    async def disconnect(self, code):
        if hasattr(self, "user_group"):
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
