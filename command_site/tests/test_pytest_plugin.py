"""The test session's plumbing (command_site.pytest_plugin): tests never write into the person's
data directory, and browser tests skipped for want of Chromium are named in one closing line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

PERSONS_DATA = (Path(settings.BASE_DIR) / "var").resolve()


def _inside(path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder)


def test_the_session_never_uses_the_persons_data_directory():
    assert not _inside(settings.COMMAND_DATA_DIR, PERSONS_DATA)
    assert not _inside(settings.MEDIA_ROOT, PERSONS_DATA)
    assert not _inside(settings.STORAGES["default"].get("OPTIONS", {}).get("location", "/nowhere"), PERSONS_DATA)
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        # The test database and its -shm/-wal files live in the private folder, removed at the end.
        assert not _inside(database["TEST"]["NAME"], PERSONS_DATA)
    assert os.environ["COMMAND_DATA_DIR"] == str(settings.COMMAND_DATA_DIR)  # what daphne and workers inherit


def test_skipped_browser_tests_are_named_in_one_line_with_the_install_command(tmp_path):
    (tmp_path / "test_pages.py").write_text(
        "import pytest\n"
        "@pytest.mark.skip(reason='Chromium is not installed')\n"
        "def test_a(): pass\n"
        "@pytest.mark.skip(reason='Chromium is not installed')\n"
        "def test_b(): pass\n"
        "def test_c(): pass\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(settings.BASE_DIR), "COMMAND_TEST_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "command_site.pytest_plugin", "-q", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stdout.splitlines() if "Chromium is not installed (" in line]
    assert lines == [
        "2 browser tests skipped because Chromium is not installed (test_pages.py); "
        "install it with `sudo apt-get install -y chromium` and run `make test` again."
    ], done.stdout
    assert done.stdout.strip().splitlines()[-1] == lines[0], "the last line, under the final count"
