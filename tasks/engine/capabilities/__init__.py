"""The real step handlers: the engine's registry wired to the workspaces, outputs and approvals apps.

`install()` runs once from TasksConfig.ready(). The dependency points one way: tasks calls the
services of the other apps; they never import tasks.
"""

from __future__ import annotations

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from tasks.engine.capabilities import approval_steps, loop_steps, output_steps, workspace_steps  # noqa: F401

    approval_steps.connect()
    _installed = True
    # Modules named in COMMAND_HANDLER_MODULES load last, so they may replace any handler (or the gate).
    from tasks.engine.handlers import load_extra_modules

    load_extra_modules()
