"""The test session's own plumbing, loaded before Django reads its settings (`-p` in pyproject).

- Tests never touch the person's data directory: the session gets a private COMMAND_DATA_DIR (the
  test database and its -shm/-wal files, media, output scratch), removed when the session ends —
  or COMMAND_TEST_DATA_DIR, kept, for looking at afterwards. daphne and worker processes started
  by browser tests inherit it.
- Browser tests skipped because Chromium is missing are named in one line at the end, with the
  command that installs it, instead of only in the skip list.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

CHROMIUM_MISSING = "Chromium is not installed"
INSTALL_CHROMIUM = "sudo apt-get install -y chromium"


def _private_data_dir() -> tuple[str, bool]:
    kept = os.environ.get("COMMAND_TEST_DATA_DIR")
    if kept:
        os.makedirs(kept, exist_ok=True)
        return kept, False
    return tempfile.mkdtemp(prefix="command-test-data-"), True


# At import, before pytest-django loads the settings: whatever COMMAND_DATA_DIR the shell or .env says.
DATA_DIR, _CREATED = _private_data_dir()
os.environ["COMMAND_DATA_DIR"] = DATA_DIR


_SKIP_LINE = pytest.StashKey[str]()


def pytest_unconfigure(config: pytest.Config) -> None:
    line = config.stash.get(_SKIP_LINE, "")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if line and reporter is not None:
        reporter.write_line(line, yellow=True, bold=True)
    if _CREATED:
        shutil.rmtree(DATA_DIR, ignore_errors=True)


def browser_skip_line(skipped_reports) -> str:
    """One line naming the browser tests skipped for want of Chromium, and how to install it ("" if none)."""
    files: dict[str, int] = {}
    for report in skipped_reports:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if CHROMIUM_MISSING in reason:
            path = report.nodeid.split("::", 1)[0]
            files[path] = files.get(path, 0) + 1
    if not files:
        return ""
    count = sum(files.values())
    where = ", ".join(sorted(files))
    return (
        f"{count} browser test{'s' if count != 1 else ''} skipped because Chromium is not installed ({where}); "
        f"install it with `{INSTALL_CHROMIUM}` and run `make test` again."
    )


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    # Said last of all, under the final count (pytest_unconfigure): the line a person reads.
    config.stash[_SKIP_LINE] = browser_skip_line(terminalreporter.stats.get("skipped", []))
