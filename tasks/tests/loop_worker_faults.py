"""Loaded by the worker process of the model-run fault test (COMMAND_HANDLER_MODULES): every step
proceeds (the default gate), and the first time a turn's reply has been stored the worker stalls
right there, before inserting that turn's steps, until the test kills it."""

import os
import time

from tasks.engine.approval import set_approval_gate
from tasks.engine.loop import turns

set_approval_gate(None)
_insert_steps = turns._insert_steps


def _stall_once(*args, **kwargs):
    marker = os.environ.get("COMMAND_TEST_STALL_MARKER", "")
    if marker and not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write("stalled after the reply was stored\n")
        time.sleep(600)
    return _insert_steps(*args, **kwargs)


turns._insert_steps = _stall_once
