"""Loaded by the fencing tests' worker process (COMMAND_HANDLER_MODULES). The product's own
handlers stay installed and nothing here checks a lease: it only makes the next atomic write of
the process pause, once, inside the product's write path (workspaces.paths.write_atomic, before
its fence check and rename), so a SIGSTOP lands inside the product's own write_file handler.

FENCE_PAUSE_DIR: a folder; while it holds `pause-once`, the next write removes it, writes
`paused` (this pid) there and sleeps FENCE_PAUSE_SECONDS before going on.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tasks.engine.approval import set_approval_gate
from workspaces import paths

_write_atomic = paths.write_atomic


def _pausing_write_atomic(root, raw, data, *, mode=None):
    folder = Path(os.environ["FENCE_PAUSE_DIR"])
    flag = folder / "pause-once"
    if flag.exists():
        flag.unlink()
        (folder / "paused").write_text(str(os.getpid()))
        time.sleep(float(os.environ.get("FENCE_PAUSE_SECONDS", "15")))
    return _write_atomic(root, raw, data, mode=mode)


paths.write_atomic = _pausing_write_atomic
set_approval_gate(None)
