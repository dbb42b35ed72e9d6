"""The Redis channel layer, without keeping messages for sockets that have closed, and with receives
that always end when cancelled.

channels-redis keeps, per process, a queue of received messages for each of its local channels
(one per open socket). A message for a channel whose socket has already closed — a push sent
while it was closing, before it left its groups — is taken from Redis by the next socket's
receive and queued for a reader that never comes: one queue and its message kept for the life of
the process (channels-redis issue 384). On a page watched run after run that was about 4 KB of
daphne's memory per watched run (bench/README.md, "daphne memory").

Here a consumer says when its channel has ended (`channel_ended`, tasks.consumers does it); a
message that arrives for it within twice the layer's expiry, while nothing reads it, is dropped
instead of queued. Every other channel is channels-redis as it is.

Cancelling a receive: on Python 3.11, asyncio.wait_for swallows a cancellation that arrives just
as what it waits for completes (CPython issue 86296, fixed in 3.12), and redis-py sends every
command through it when a socket timeout is set. A receive cancelled at that moment goes on, and
channels-redis' receive pops again every `brpop_timeout` for ever when nothing comes: a consumer
that closed never finished, and an event loop closing (a test's teardown) waited for it for good.
Here a receive whose task was asked to stop stops after the pop under way.
"""

from __future__ import annotations

import asyncio
import collections
import time

from channels_redis.core import BoundedQueue
from channels_redis.core import RedisChannelLayer as _RedisChannelLayer


class _ReceiveBuffers(dict):
    """channels-redis' `receive_buffer` (a defaultdict of BoundedQueue by local channel name) that
    keeps no queue for a channel ended recently and not being read."""

    def __init__(self, capacity: int, remember_ended: float) -> None:
        super().__init__()
        self.capacity = capacity
        # Ended channels (name → when), oldest first; forgotten after `remember_ended` seconds, by
        # when anything still on its way to them has expired from Redis.
        self.ended: dict[str, float] = {}
        self.remember_ended = remember_ended
        # Receives under way per channel: their queue is always kept, so a receive never waits on
        # a queue nobody else can fill.
        self.reading: collections.Counter[str] = collections.Counter()

    def __missing__(self, channel: str) -> BoundedQueue:
        queue = BoundedQueue(self.capacity)
        if channel not in self.ended or self.reading[channel]:
            self[channel] = queue
        # Otherwise a queue nobody keeps: what is put in it is gone with it.
        return queue

    def __delitem__(self, channel: str) -> None:
        # channels-redis deletes a cancelled receive's queue; it may be gone already.
        self.pop(channel, None)

    def end(self, channel: str) -> None:
        now = time.monotonic()
        while self.ended:
            oldest, when = next(iter(self.ended.items()))
            if now - when < self.remember_ended:
                break
            del self.ended[oldest]
        self.ended[channel] = now
        if not self.reading[channel]:
            self.pop(channel, None)


class RedisChannelLayer(_RedisChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A message older than `expiry` is discarded from Redis on the next send to its key; twice
        # that covers one taken just before.
        self.receive_buffer = _ReceiveBuffers(self.capacity, remember_ended=2 * self.expiry)

    def channel_ended(self, channel: str) -> None:
        """The consumer reading `channel` has ended: drop what was queued for it, and whatever
        arrives for it while nothing reads it."""
        self.receive_buffer.end(channel)

    async def receive(self, channel: str) -> dict:
        self.receive_buffer.reading[channel] += 1
        try:
            return await super().receive(channel)
        finally:
            self.receive_buffer.reading[channel] -= 1
            if not self.receive_buffer.reading[channel]:
                del self.receive_buffer.reading[channel]

    async def _brpop_with_clean(self, index, channel, timeout):
        member = await super()._brpop_with_clean(index, channel, timeout)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # Asked to stop, and the request was swallowed on the way (see the module's
            # docstring). A message just popped is safe in channels-redis' backup queue: the
            # next receive puts it back.
            raise asyncio.CancelledError
        return member
