"""The write fence: a side effect happens only while its writer may still make it.

A run's worker holds a lease; once the lease is superseded (the reaper recovered the run, an
operator stopped it) the worker must change nothing more — not a workspace file, not the
snapshot store, not an output. Database writes are fenced by the lease's attempt in their own
UPDATE; writes to files cannot be, so every write path calls `write_fence_check` right before it
publishes the write (the rename of an atomic write, a delete, a rename, a rollback point's
capture, an output's upload). The check is whatever the caller that opened the fence says it is:
the execution engine checks the lease in the database (tasks.engine.fencing); outside a fence
(the operator's editor, a revert, the reaper restoring a rollback point) writes are not fenced.

Shared plumbing: workspaces and outputs call this module, the engine opens the fence; neither
imports the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class WriteRefused(Exception):
    """The writer no longer holds the right to write; nothing was written. `str(exc)` says why."""


@dataclass(frozen=True)
class WriteFence:
    """Who is writing (the run and its attempt, recorded on what they write) and the check that
    raises WriteRefused (or a subclass the caller prefers) when they may no longer write."""

    check: Callable[[str], None]
    run_id: int | None = None
    attempt: int | None = None


_FENCE: ContextVar[WriteFence | None] = ContextVar("command_write_fence", default=None)


@contextmanager
def write_fence(fence: WriteFence) -> Iterator[WriteFence]:
    """Every fenced write in this context (thread) calls `fence.check(what)` first."""
    token = _FENCE.set(fence)
    try:
        yield fence
    finally:
        _FENCE.reset(token)


def write_fence_check(*, what: str) -> None:
    """Call right before a write is published; raises when the open fence refuses it.

    `what` names the write in plain words ("write pages/z.html"), for the refusal's record.
    No fence open: the write goes ahead.
    """
    fence = _FENCE.get()
    if fence is not None:
        fence.check(what)


def write_fence_current() -> WriteFence | None:
    """The fence open in this context, if any (its run and attempt are recorded on changes)."""
    return _FENCE.get()
