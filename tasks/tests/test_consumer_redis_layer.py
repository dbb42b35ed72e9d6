"""The workstream socket on the Redis channel layer (a private redis-server): a push that reaches a
socket's channel after the socket closed is dropped, not kept by the web process for good; a
receive always ends when cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from chaos.sandbox import PrivateRedis
from command_site.channel_layer import RedisChannelLayer
from command_site.testing import free_port
from tasks.consumers import WorkstreamConsumer
from tasks.models import PlanRevision, Task, TaskRun, WorkstreamEvent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server not installed"),
]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis"), free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_layer(settings, redis_url):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "command_site.channel_layer.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "capacity": 1000, "expiry": 30},
        }
    }
    settings.COMMAND_TAIL_INTERVAL = settings.COMMAND_TAIL_ACTIVE_INTERVAL = 30  # pushes only
    yield
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def make_run(owner) -> TaskRun:
    task = Task.objects.create(owner=owner, raw_prompt="make a pdf", title="make a pdf")
    revision = PlanRevision.objects.create(task=task, number=1, planner="test")
    return TaskRun.objects.create(task=task, owner=owner, plan_revision=revision)


async def watching(owner, run: TaskRun) -> WebsocketCommunicator:
    """A socket subscribed as the thread page subscribes (the run's rows and the switcher)."""
    communicator = WebsocketCommunicator(WorkstreamConsumer.as_asgi(), "/ws/workstream/")
    communicator.scope["user"] = owner
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "subscribe", "runs": [{"run": run.pk, "after": 0}], "switcher": True})
    await communicator.send_json_to({"type": "ping"})
    while "pong" not in await communicator.receive_from(timeout=5):
        pass
    return communicator


async def test_a_push_reaching_a_closed_socket_is_not_kept_by_the_process(owner, redis_layer, monkeypatch):
    layer = get_channel_layer()
    names: list[str] = []
    new_channel = layer.new_channel

    async def recorded(*args, **kwargs):
        names.append(await new_channel(*args, **kwargs))
        return names[-1]

    monkeypatch.setattr(layer, "new_channel", recorded)
    run = await sync_to_async(make_run)(owner)
    first = await watching(owner, run)
    await first.disconnect()
    # A push that was on its way while the socket closed (sent before it left its groups).
    await layer.send(names[0], {"type": "workstream.event", "run_id": run.pk, "event_id": 0, "seq": 1, "group": "user"})

    # The next socket's reads take it from Redis; then it gets a row of its own.
    second = await watching(owner, run)
    await sync_to_async(WorkstreamEvent.objects.create)(run=run, seq=1, kind="note", title="Row 1")
    await layer.group_send(
        f"run-{run.pk}", {"type": "workstream.event", "run_id": run.pk, "event_id": 0, "seq": 1, "group": "run"}
    )
    html = ""
    while 'data-seq="1"' not in html:
        html = await second.receive_from(timeout=5)
    assert re.search(r'data-seq="1"', html)

    assert names[0] not in layer.receive_buffer, "nothing is kept for the closed socket's channel"
    assert names[1] not in layer.receive_buffer.ended
    await second.disconnect()
    assert names[1] in layer.receive_buffer.ended
    await layer.flush()


async def test_the_layer_keeps_messages_of_channels_not_ended_only(redis_url):
    layer = RedisChannelLayer(hosts=[redis_url])
    closed, waiting, reading = [await layer.new_channel() for _ in range(3)]
    layer.channel_ended(closed)
    for n, channel in enumerate((closed, waiting, reading)):
        await layer.send(channel, {"type": "test.message", "n": n})
    # Reading one channel takes the others' messages from Redis on the way.
    assert (await asyncio.wait_for(layer.receive(reading), 5))["n"] == 2
    assert closed not in layer.receive_buffer
    # An open channel not being read right now still gets its message.
    assert (await asyncio.wait_for(layer.receive(waiting), 5))["n"] == 1
    layer.channel_ended(reading)
    layer.channel_ended(waiting)
    assert not layer.receive_buffer
    await layer.flush()


async def test_a_channel_not_made_by_new_channel_still_gets_its_messages(redis_url):
    layer = RedisChannelLayer(hosts=[redis_url])
    channel = f"specific.{layer.client_prefix}!named-by-hand"
    await layer.send(channel, {"type": "test.message"})
    assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "test.message"
    await layer.flush()


async def test_a_receive_ends_when_a_redis_command_swallowed_its_cancellation(redis_url, monkeypatch):
    """On Python 3.11 redis-py's send (asyncio.wait_for) can swallow a cancellation that arrives as
    the command is sent; the receive must still end, not pop again for ever (a consumer that never
    finished, a test's teardown that hung 300 s)."""
    layer = RedisChannelLayer(hosts=[redis_url])
    layer.brpop_timeout = 1
    channel = await layer.new_channel()
    connection = layer.connection(0)
    send_cleanup = connection.eval
    sending = asyncio.Event()

    async def swallowing_a_cancellation(*args):
        if not sending.is_set():  # once: later cancels (the test's own teardown) get through
            sending.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.2)  # the command is on its way when the cancel comes
        return await send_cleanup(*args)

    monkeypatch.setattr(connection, "eval", swallowing_a_cancellation)
    receiving = asyncio.ensure_future(layer.receive(channel))
    await sending.wait()
    receiving.cancel()
    done, _ = await asyncio.wait([receiving], timeout=5)
    assert receiving in done and receiving.cancelled(), "the cancelled receive is still popping"
    await layer.flush()
