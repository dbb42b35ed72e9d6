"""The Redis channel layer, without keeping messages for sockets that have closed.

channels-redis keeps, per process, a queue of received messages for each of its local channels
(one per open socket). A message for a channel whose socket has already closed — a push sent
while it was closing, before it left its groups — is taken from Redis by the next socket's
receive and queued for a reader that never comes: one queue and its message kept for the life of
the process (channels-redis issue 384). On a page watched run after run that was about 4 KB of
daphne's memory per watched run (bench/README.md, "daphne memory").

Here a channel is open from `new_channel` until its consumer says it has ended
(`channel_ended`, tasks.consumers does it); a message for a channel that is not open is dropped
on arrival instead of queued. Everything else is channels-redis as it is.
"""

from __future__ import annotations

from channels_redis.core import BoundedQueue
from channels_redis.core import RedisChannelLayer as _RedisChannelLayer


class _ReceiveBuffers(dict):
    """channels-redis' `receive_buffer` (a defaultdict of BoundedQueue by local channel name)
    that only keeps queues for open channels."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.open: set[str] = set()

    def __missing__(self, channel: str) -> BoundedQueue:
        queue = BoundedQueue(self.capacity)
        if channel in self.open:
            self[channel] = queue
        # Not open: a queue nobody keeps, so what is put in it is gone with it.
        return queue

    def __delitem__(self, channel: str) -> None:
        # channels-redis deletes a cancelled receive's queue; it may be gone already.
        self.pop(channel, None)


class RedisChannelLayer(_RedisChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.receive_buffer = _ReceiveBuffers(self.capacity)

    async def new_channel(self, prefix: str = "specific") -> str:
        name = await super().new_channel(prefix)
        self.receive_buffer.open.add(name)
        return name

    def channel_ended(self, channel: str) -> None:
        """The consumer reading `channel` has ended: drop what was queued for it, and whatever
        arrives for it later."""
        self.receive_buffer.open.discard(channel)
        self.receive_buffer.pop(channel, None)
