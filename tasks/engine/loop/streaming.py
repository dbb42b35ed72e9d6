"""The model's words as the provider streams them: one workstream row per reply, which grows.

The first piece writes the row (a row-only `model.text` event); later pieces rewrite that same
row (event_revise), at most once per COMMAND_LOOP_STREAM_SECONDS, and each rewrite is pushed to the
sockets showing the run (tasks.consumers), so the person reads along in one row rather than in a
row per piece. The stored reply, and its own row, still carry the whole text once it is complete.
"""

from __future__ import annotations

import time

from django.conf import settings

# The most of one reply's words its streamed row shows (the reply's own row and the stored turn
# keep the whole text).
SHOWN_CHARS = 4000


class StreamedWords:
    def __init__(self, ctx, number: int):
        self.ctx, self.number = ctx, number
        self.text, self.shown = "", ""
        self.event = None
        self.last = time.monotonic()

    def __call__(self, piece: str) -> None:
        self.text += piece
        if time.monotonic() - self.last >= settings.COMMAND_LOOP_STREAM_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Show the words so far: write the row the first time, rewrite it after (not when nothing changed)."""
        self.last = time.monotonic()
        if not self.text.strip():
            return
        shown = self.text if len(self.text) <= SHOWN_CHARS else self.text[:SHOWN_CHARS] + " …"
        if shown == self.shown:
            return
        self.shown = shown
        if self.event is None:
            self.event = self.ctx.emit(
                kind="model.text",
                phase="execute",
                status="info",
                title=f"The model is writing (turn {self.number})",
                explanation=shown,
                payload={"turn": self.number, "streamed": True},
            )
        else:
            self.ctx.revise(self.event, explanation=shown)
