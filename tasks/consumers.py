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
        # The switcher is pushed only to pages that show it (they say so when subscribing).
        self.wants_switcher = False
        self.switcher_seen: tuple | None = None
        self.switcher_lock = asyncio.Lock()
        # Fallback narration per run: the last line sent and when it was checked.
        self.narration: dict[int, str] = {}
        self.narration_checked: dict[int, float] = {}
        self.narration_sent: dict[int, float] = {}
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
            if content.get("switcher") is True:
                self.wants_switcher = True
                # The page may have missed changes while the socket was down: send it fresh.
                await self._push_switcher(force=True)
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
        """A push from the engine (ids only): read the database from our cursor. Pushes on the
        user's group also refresh the task switcher."""
        run_id = message.get("run_id")
        if run_id in self.cursors:
            await self._flush(run_id)
        await self._push_switcher()

    async def _push_switcher(self, force: bool = False) -> None:
        if not self.wants_switcher:
            return
        async with self.switcher_lock:
            signature = await database_sync_to_async(realtime.switcher_signature)(user=self.user)
            if not force and signature == self.switcher_seen:
                return
            html = await database_sync_to_async(realtime.render_switcher_oob)(user=self.user)
            self.switcher_seen = signature
            await self.send(text_data=html)

    async def _narrate(self, run_id: int) -> None:
        """Fallback narration after a quiet spell; re-checked at most every few seconds."""
        now = asyncio.get_running_loop().time()
        if now - self.narration_checked.get(run_id, 0) < settings.COMMAND_NARRATION_CHECK:
            return
        self.narration_checked[run_id] = now
        # Rare by design: after a line, the next one waits for another whole quiet spell.
        if run_id in self.narration and now - self.narration_sent.get(run_id, 0) < settings.COMMAND_NARRATION_QUIET:
            return
        text = await database_sync_to_async(realtime.narration_for)(
            run_id=run_id, quiet_seconds=settings.COMMAND_NARRATION_QUIET
        )
        if text and text != self.narration.get(run_id):
            self.narration[run_id] = text
            self.narration_sent[run_id] = now
            html = await database_sync_to_async(realtime.render_narration_oob)(run_id=run_id, text=text)
            await self.send(text_data=html)

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
                # The rows cleared any narration line; the next quiet spell starts from here.
                self.narration.pop(run_id, None)
                self.narration_checked[run_id] = asyncio.get_running_loop().time()
                if len(events) < realtime.REPLAY_BATCH:
                    return

    async def _tail(self) -> None:
        """Re-read the event table now and then: events written by another process still arrive."""
        interval = settings.COMMAND_TAIL_INTERVAL
        # The switcher covers runs this page has not subscribed to: check it about once a second.
        switcher_every = max(1, round(1.0 / interval))
        tick = 0
        while True:
            await asyncio.sleep(interval)
            tick += 1
            try:
                if self.wants_switcher and tick % switcher_every == 0:
                    await self._push_switcher()
                if not self.cursors:
                    continue
                latest = await database_sync_to_async(realtime.latest_seq)(run_ids=list(self.cursors))
                for run_id in list(self.cursors):
                    last = latest.get(run_id, 0)
                    if last > self.cursors.get(run_id, last):
                        await self._flush(run_id)
                    else:
                        await self._narrate(run_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("workstream tail failed; will try again")
