"""Loaded by worker subprocesses in the fault tests (COMMAND_HANDLER_MODULES): installs the
engine test handlers for the whole process, and the default gate (every step proceeds) — the
fault tests exercise leases and recovery, not the risk policy."""

from tasks.engine.approval import set_approval_gate
from tasks.tests.engine_handlers import install

install()
set_approval_gate(None)
