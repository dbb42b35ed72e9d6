"""The workstream websocket: one consumer per browser connection.

Thin by design: it authorises, keeps a cursor per subscribed run and asks tasks.realtime for what
comes after it. Pushes from the channel layer say "look now"; one that carries its committed row
is rendered at once when it is the very next row after the cursor (the run's card, when the row
may have changed it, is read after it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from tasks import realtime
from tasks.engine.events import kind_changes_run

logger = logging.getLogger(__name__)

# Application close code for "sign in first": the htmx ws extension does not retry on it.
CLOSE_UNAUTHENTICATED = 4401
MAX_SUBSCRIPTIONS = 50
# The task switcher is looked at no more often than this per socket (seconds), and the tail looks
# at it about this often for changes no push announces (a run started by another process).
SWITCHER_PAUSE = 0.5
SWITCHER_TAIL_EVERY = 1.0
# Run ids and cursors are database integers: anything outside 0..2**63-1 is not one.
MAX_ID = 2**63 - 1
MAX_MESSAGE_CHARS = 64 * 1024


def _as_id(value) -> int | None:
    """A run id or cursor from a message: a whole number in the database's range, else None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 <= number <= MAX_ID else None


class WorkstreamConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Pushes still on their way to this socket's channel are dropped when they arrive,
            # not kept for the life of the process (command_site.channel_layer).
            ended = getattr(self.channel_layer, "channel_ended", None)
            if ended is not None and getattr(self, "channel_name", None):
                ended(self.channel_name)

    async def connect(self):
        self.cursors: dict[int, int] = {}
        self.tones: dict[int, str] = {}  # per subscribed run: its task's tone (rows' wording)
        # Per run: the newest seq whose changes the page's card shows, and the card still owed
        # after pushed rows (the newest seq it must show, the kinds announced since) with its task.
        self.card_seq: dict[int, int] = {}
        self.card_owed: dict[int, tuple[int, list[str]]] = {}
        self.card_tasks: dict[int, asyncio.Task] = {}
        self.locks: dict[int, asyncio.Lock] = {}
        self.tail_task: asyncio.Task | None = None
        # The switcher is pushed only to pages that show it (they say so when subscribing).
        self.wants_switcher = False
        self.switcher_seen: tuple | None = None
        self.switcher_lock = asyncio.Lock()
        self.switcher_task: asyncio.Task | None = None
        # What the next look at the switcher must have seen: announced events (run → seq), and a
        # moment it must have started after (None: nothing pending).
        self.switcher_announced: dict[int, int] = {}
        self.switcher_not_before: float | None = None
        self.switcher_checked = 0.0
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
        self.tail_task = asyncio.ensure_future(self._tail())

    async def disconnect(self, code):
        for task in (self.tail_task, self.switcher_task, *self.card_tasks.values()):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if hasattr(self, "user"):
            if self.wants_switcher:
                await self.channel_layer.group_discard(realtime.user_group(self.user.pk), self.channel_name)
            for run_id in list(self.cursors):
                await self.channel_layer.group_discard(realtime.run_group(run_id), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Decode a client's message; one that is not a JSON object gets an error frame (the socket
        stays open) instead of an exception that would close it with 1011."""
        if not hasattr(self, "user"):
            return
        if text_data is None or len(text_data) > MAX_MESSAGE_CHARS:
            await self._refuse("Messages are JSON objects of at most 64 KB.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._refuse("That message is not JSON.")
            return
        if not isinstance(content, dict):
            await self._refuse("A message is a JSON object with a type.")
            return
        await self.receive_json(content)

    async def _refuse(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    async def receive_json(self, content, **kwargs):
        if not hasattr(self, "user"):
            return
        kind = content.get("type")
        runs = content.get("runs", [])
        if kind in ("subscribe", "unsubscribe") and not isinstance(runs, list):
            await self._refuse("“runs” is a list.")
            return
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "subscribe":
            for item in runs[:MAX_SUBSCRIPTIONS]:
                await self._subscribe(item)
            if content.get("switcher") is True:
                if not self.wants_switcher:
                    # The owner's group only carries switcher news: pages without one stay out of it.
                    await self.channel_layer.group_add(realtime.user_group(self.user.pk), self.channel_name)
                    self.wants_switcher = True
                # The page may have missed changes while the socket was down: send it fresh.
                await self._push_switcher(force=True, announced={}, not_before=asyncio.get_running_loop().time())
        elif kind == "unsubscribe":
            for run_id in runs:
                if isinstance(run_id, int) and self.cursors.pop(run_id, None) is not None:
                    self.tones.pop(run_id, None)
                    self.card_seq.pop(run_id, None)
                    await self.channel_layer.group_discard(realtime.run_group(run_id), self.channel_name)
        else:
            await self._refuse("Unknown message type.")

    async def _subscribe(self, item) -> None:
        run_id = _as_id(item.get("run")) if isinstance(item, dict) else None
        after = _as_id(item.get("after", 0)) if isinstance(item, dict) else None
        if run_id is None or after is None:
            await self._refuse("A subscription needs a run id and a cursor (whole numbers, 0 or more).")
            return
        if len(self.cursors) >= MAX_SUBSCRIPTIONS and run_id not in self.cursors:
            return
        tone = await database_sync_to_async(realtime.run_tone_for)(run_id=run_id, user=self.user)
        if tone is None:
            # Same answer for "no such run" and "someone else's run".
            await self.send_json({"type": "error", "message": f"Run {run_id} is not available."})
            return
        self.tones[run_id] = tone
        self.cursors[run_id] = after
        self.locks.setdefault(run_id, asyncio.Lock())
        await self.channel_layer.group_add(realtime.run_group(run_id), self.channel_name)
        # Pushes reach us from here on; the replay must see everything committed before.
        await self._flush(run_id, fresh_after=asyncio.get_running_loop().time())

    async def dispatch(self, message):
        """Pushes go straight to their handler. Channels first sends every message's consumer to
        the one sync thread to close old database connections: for a push that is one more hop per
        socket (200 sockets on a run: 200 hops per event), queued in front of the read that delivers
        the rows. A push handler touches the database only through database_sync_to_async, which
        closes old connections itself."""
        if message.get("type") == "workstream.event":
            await self.workstream_event(message)
        else:
            await super().dispatch(message)

    async def workstream_event(self, message):
        """A push from the engine: deliver from our cursor up to the announced seq, from the row
        the push carries when it is the next one, else from the database. The owner's group
        carries the same message (without a row) for the task switcher."""
        run_id, seq = message.get("run_id"), message.get("seq")
        if message.get("revised"):
            if run_id in self.cursors and isinstance(seq, int):
                await self._deliver_revised(run_id, seq, message.get("row"))
            return
        if run_id in self.cursors:
            row = message.get("row")
            if not (isinstance(row, str) and isinstance(seq, int) and await self._deliver_pushed(run_id, seq, row)):
                await self._flush(run_id, target=seq if isinstance(seq, int) else None)
        if message.get("group") != "run" and isinstance(run_id, int) and isinstance(seq, int):
            self._switcher_changed(run_id=run_id, seq=seq)

    def _switcher_changed(self, *, run_id: int | None = None, seq: int = 0, not_before: float = 0.0) -> None:
        """Something the switcher shows may have changed (an announced event, or a periodic check):
        look soon, in the background, so the run's rows never wait behind a switcher render."""
        if not self.wants_switcher:
            return
        if run_id is not None:
            self.switcher_announced[run_id] = max(seq, self.switcher_announced.get(run_id, 0))
        self.switcher_not_before = max(not_before, self.switcher_not_before or 0.0)
        if self.switcher_task is None or self.switcher_task.done():
            self.switcher_task = asyncio.ensure_future(self._switcher_refresh())

    async def _switcher_refresh(self) -> None:
        loop = asyncio.get_running_loop()
        while self.switcher_not_before is not None:
            # The switcher shows each run's latest row, so it changes with every event; a page needs
            # it current, not at the event rate: at most one look per SWITCHER_PAUSE, and always a
            # last look after the last change.
            wait = self.switcher_checked + SWITCHER_PAUSE - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            announced, not_before = self.switcher_announced, self.switcher_not_before
            self.switcher_announced, self.switcher_not_before = {}, None
            self.switcher_checked = loop.time()
            try:
                await self._push_switcher(announced=announced, not_before=not_before)
            except Exception:
                logger.exception("task switcher refresh failed; the next change or check tries again")

    async def _push_switcher(self, *, announced: dict[int, int], not_before: float, force: bool = False) -> None:
        if not self.wants_switcher:
            return
        async with self.switcher_lock:
            look = await realtime.shared_switcher_look(user=self.user, announced=announced, not_before=not_before)
            if not force and look.signature == self.switcher_seen:
                return
            html = await realtime.shared_switcher_html(user=self.user, signature=look.signature)
            self.switcher_seen = look.signature
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

    async def _deliver_pushed(self, run_id: int, seq: int, row: str) -> bool:
        """Send the pushed row if it is the next one after the cursor (or already sent); False
        when the database has to settle it (a gap before it, or a row not renderable as sent)."""
        async with self.locks[run_id]:
            after = self.cursors.get(run_id)
            if after is None or after >= seq:
                return True  # unsubscribed meanwhile, or already delivered (a replay got there first)
            if after != seq - 1:
                return False
            delivery = realtime.pushed_delivery(run_id=run_id, seq=seq, row=row, tone=self.tones[run_id])
            if delivery is None:
                return False
            await self.send(text_data=delivery.html)
            self._delivered(run_id, delivery)
            if any(kind_changes_run(kind) for kind in delivery.kinds):
                self._card_owed(run_id, seq, delivery.kinds)
            return True

    async def _deliver_revised(self, run_id: int, seq: int, row) -> None:
        """A row already shown was rewritten (the model's streamed words growing): send its new
        text. A row not delivered yet needs nothing: the replay reads it as it is now."""
        async with self.locks[run_id]:
            after = self.cursors.get(run_id)
            if after is None or after < seq:
                return
            html = realtime.revised_words(run_id=run_id, seq=seq, row=row) if isinstance(row, str) else None
            if html is None:
                html = await database_sync_to_async(realtime.revised_words_read)(run_id=run_id, seq=seq)
            if html:
                await self.send(text_data=html)

    def _delivered(self, run_id: int, delivery: realtime.Delivery) -> None:
        self.cursors[run_id] = delivery.last_seq
        if delivery.card_seq is not None:
            shown = self.card_seq.get(run_id, 0)
            self.card_seq[run_id] = delivery.card_seq
            if delivery.card_seq < shown:
                # Its card was read before the one the page had (a card read after a pushed row
                # may finish first): the page now shows the older one, so read the card again.
                self._card_owed(run_id, shown, ())
        # The rows cleared any narration line; the next quiet spell starts from here.
        self.narration.pop(run_id, None)
        self.narration_checked[run_id] = asyncio.get_running_loop().time()

    def _card_owed(self, run_id: int, seq: int, kinds: tuple[str, ...]) -> None:
        """A row sent from its push may have changed the run's card (state, steps, approvals):
        read the card next, in the background, so the following rows never wait for it."""
        owed_seq, owed_kinds = self.card_owed.get(run_id, (0, []))
        self.card_owed[run_id] = (max(seq, owed_seq), [*owed_kinds, *kinds])
        task = self.card_tasks.get(run_id)
        if task is None or task.done():
            self.card_tasks[run_id] = asyncio.ensure_future(self._send_cards(run_id))

    async def _send_cards(self, run_id: int) -> None:
        while run_id in self.card_owed:
            seq, kinds = self.card_owed.pop(run_id)
            if run_id not in self.cursors or self.card_seq.get(run_id, 0) >= seq:
                continue  # unsubscribed, or a replay's card already showed it
            try:
                card = await realtime.shared_card(run_id=run_id, seq=seq, kinds=kinds)
            except Exception:
                logger.exception("run card refresh failed; the next change or replay brings it")
                continue
            # A card read before a newer one was sent would show the run as it was: not sent.
            if card is not None and run_id in self.cursors and card.seen_seq > self.card_seq.get(run_id, 0):
                self.card_seq[run_id] = card.seen_seq
                await self.send(text_data=card.html)

    async def _flush(self, run_id: int, *, target: int | None = None, fresh_after: float | None = None) -> None:
        """Send every event after the cursor, in order, exactly once: up to `target` (a pushed or
        tailed seq), or everything committed before `fresh_after` (a new subscription)."""
        async with self.locks[run_id]:
            while run_id in self.cursors:
                after = self.cursors[run_id]
                if fresh_after is None and (target is None or after >= target):
                    return  # already delivered (the same event announced on two groups, or twice)
                delivery = await realtime.shared_delivery_after(
                    run_id=run_id, after=after, target=target, fresh_after=fresh_after
                )
                if delivery is None or run_id not in self.cursors:
                    return
                await self.send(text_data=delivery.html)
                self._delivered(run_id, delivery)
                if delivery.count < realtime.REPLAY_BATCH and (target is None or delivery.last_seq >= target):
                    return

    async def _tail(self) -> None:
        """Re-read the event table now and then: events written by another process still arrive.

        Often (COMMAND_TAIL_ACTIVE_INTERVAL) while a subscribed run is being worked on, backing off
        to COMMAND_TAIL_INTERVAL when none is."""
        loop = asyncio.get_running_loop()
        idle = settings.COMMAND_TAIL_INTERVAL
        active = min(settings.COMMAND_TAIL_ACTIVE_INTERVAL, idle)
        interval = active  # a page usually subscribes right after connecting
        switcher_checked = loop.time()
        while True:
            await asyncio.sleep(interval)
            try:
                # The switcher covers changes no push announces (a run started by another process):
                # look about once a second, taking a look another socket made in the last half of it.
                if self.wants_switcher and loop.time() - switcher_checked >= SWITCHER_TAIL_EVERY:
                    switcher_checked = loop.time()
                    self._switcher_changed(not_before=switcher_checked - SWITCHER_TAIL_EVERY / 2)
                if not self.cursors:
                    interval = min(idle, interval * 2)
                    continue
                checked = await database_sync_to_async(realtime.tail_check)(run_ids=list(self.cursors))
                working = False
                for run_id in list(self.cursors):
                    last, run_working = checked.get(run_id, (0, False))
                    working = working or run_working
                    if last > self.cursors.get(run_id, last):
                        await self._flush(run_id, target=last)
                    else:
                        await self._narrate(run_id)
                interval = active if working else min(idle, interval * 2)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("workstream tail failed; will try again")
