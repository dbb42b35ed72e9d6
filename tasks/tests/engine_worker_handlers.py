"""Loaded by worker subprocesses in the fault tests (COMMAND_HANDLER_MODULES): installs the
engine test handlers for the whole process."""

from tasks.tests.engine_handlers import install

install()
