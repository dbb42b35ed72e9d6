"""The workstream websocket: one consumer per browser connection.

Thin by design: it authorises, keeps a cursor per subscribed run and asks tasks.realtime for what
comes after it. Pushes from the channel layer carry ids only and merely say "look now".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from tasks import realtime

logger = logging.getLogger(__name__)

# Application close code for "sign in first": the htmx ws extension does not retry on it.
CLOSE_UNAUTHENTICATED = 4401
MAX_SUBSCRIPTIONS = 50


class WorkstreamConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.cursors: dict[int, int] = {}
        self.locks: dict[int, asyncio.Lock] = {}
        self.tail_task: asyncio.Task | None = None
        user = self.scope.get("user")
        # Accept, then close with an application code: rejecting before accept makes browsers retry.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        await self.channel_layer.group_add(realtime.user_group(user.pk), self.channel_name)
        self.tail_task = asyncio.ensure_future(self._tail())

    async def disconnect(self, code):
        if self.tail_task:
            self.tail_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.tail_task
        if hasattr(self, "user"):
            await self.channel_layer.group_discard(realtime.user_group(self.user.pk), self.channel_name)
            for run_id in list(self.cursors):
                await self.channel_layer.group_discard(realtime.run_group(run_id), self.channel_name)

    async def receive_json(self, content, **kwargs):
        if not hasattr(self, "user"):
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "subscribe":
            for item in content.get("runs", [])[:MAX_SUBSCRIPTIONS]:
                await self._subscribe(item)
        elif kind == "unsubscribe":
            for run_id in content.get("runs", []):
                if isinstance(run_id, int) and self.cursors.pop(run_id, None) is not None:
                    await self.channel_layer.group_discard(realtime.run_group(run_id), self.channel_name)

    async def _subscribe(self, item) -> None:
        try:
            run_id, after = int(item["run"]), int(item.get("after", 0))
        except (KeyError, TypeError, ValueError):
            await self.send_json({"type": "error", "message": "A subscription needs a run id and a cursor."})
            return
        if len(self.cursors) >= MAX_SUBSCRIPTIONS and run_id not in self.cursors:
            return
        visible = await database_sync_to_async(realtime.run_is_visible_to)(run_id=run_id, user=self.user)
        if not visible:
            # Same answer for "no such run" and "someone else's run".
            await self.send_json({"type": "error", "message": f"Run {run_id} is not available."})
            return
        self.cursors[run_id] = max(after, 0)
        self.locks.setdefault(run_id, asyncio.Lock())
        await self.channel_layer.group_add(realtime.run_group(run_id), self.channel_name)
        await self._flush(run_id)

    async def workstream_event(self, message):
        """A push from the engine (ids only): read the database from our cursor."""
        run_id = message.get("run_id")
        if run_id in self.cursors:
            await self._flush(run_id)

    async def _flush(self, run_id: int) -> None:
        """Send every event after the cursor, in order, exactly once."""
        async with self.locks[run_id]:
            while run_id in self.cursors:
                events = await database_sync_to_async(realtime.events_after)(run_id=run_id, after=self.cursors[run_id])
                if not events:
                    return
                delivery = await database_sync_to_async(realtime.render_rows_oob)(run_id=run_id, events=events)
                await self.send(text_data=delivery.html)
                self.cursors[run_id] = delivery.last_seq
                if len(events) < realtime.REPLAY_BATCH:
                    return

    async def _tail(self) -> None:
        """Re-read the event table now and then: events written by another process still arrive."""
        interval = settings.COMMAND_TAIL_INTERVAL
        while True:
            await asyncio.sleep(interval)
            if not self.cursors:
                continue
            try:
                latest = await database_sync_to_async(realtime.latest_seq)(run_ids=list(self.cursors))
                for run_id, last in latest.items():
                    if last > self.cursors.get(run_id, last):
                        await self._flush(run_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("workstream tail failed; will try again")
