"""The workstream socket accepts signed-in users and closes anonymous ones with 4401."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from command_site.asgi import application
from tasks.consumers import CLOSE_UNAUTHENTICATED, WorkstreamConsumer

pytestmark = pytest.mark.django_db(transaction=True)


async def test_anonymous_socket_is_closed_with_an_application_code():
    communicator = WebsocketCommunicator(WorkstreamConsumer.as_asgi(), "/ws/workstream/")
    communicator.scope["user"] = AnonymousUser()
    connected, _ = await communicator.connect()
    assert connected
    output = await communicator.receive_output()
    assert output == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


async def test_socket_without_an_allowed_origin_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/workstream/", headers=[(b"origin", b"http://evil.example")])
    connected, _ = await communicator.connect()
    assert not connected


async def test_signed_in_user_is_answered(owner):
    communicator = WebsocketCommunicator(WorkstreamConsumer.as_asgi(), "/ws/workstream/")
    communicator.scope["user"] = owner
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()
