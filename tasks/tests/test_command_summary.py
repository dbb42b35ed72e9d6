"""A finished command says what its output reports ("12 passed, 2 failed"), for real tools run in
the real sandbox, and for the output formats of tools this machine does not have; never a guess."""

from __future__ import annotations

import pytest

from providers.contracts import ActionType
from tasks import jobs
from tasks.engine.command_summary import command_summary
from tasks.engine.dispatch import run_create
from tasks.models import StepExecution
from tasks.tests.engine_support import make_task, make_workspace, step, verify_step

PYTEST_FILE = "def test_a():\n    pass\n\ndef test_b():\n    pass\n\ndef test_c():\n    assert 1 == 2\n"
UNITTEST_FILE = (
    "import unittest\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n"
    "    def test_b(self):\n        self.assertEqual(1, 2)\n"
)
NODE_FILE = 'const test = require("node:test");\ntest("a", () => {});\ntest("b", () => { throw new Error("no"); });\n'


@pytest.mark.parametrize(
    ("files", "command", "exit_ok", "summary"),
    [
        ({"test_x.py": PYTEST_FILE}, "python3 -m pytest -q -p no:cacheprovider", False, "1 failed, 2 passed"),
        (
            {"test_x.py": PYTEST_FILE.replace("1 == 2", "True")},
            "python3 -m pytest -p no:cacheprovider",
            True,
            "3 passed",
        ),
        ({"test_u.py": UNITTEST_FILE}, "python3 -m unittest test_u", False, "1 passed, 1 failed"),
        ({"t.test.js": NODE_FILE}, "node --test", False, "1 passed, 1 failed"),
        (
            {"package.json": '{"name": "x", "scripts": {}}'},
            "npm test",
            False,
            "there is no “test” script in package.json",
        ),
        ({"Makefile": "build:\n\tfalse\n"}, "make build", False, "make stopped: “build” failed (error 1)"),
        ({"Makefile": "build:\n\ttrue\n"}, "make deploy", False, "make has no target “deploy”"),
    ],
)
def test_real_tools_in_the_sandbox_get_their_summary(owner, tmp_path, files, command, exit_ok, summary):
    folder = tmp_path / "ws"
    ws = make_workspace(owner, folder)
    for name, text in files.items():
        (folder / name).write_text(text)
    run = run_create(
        task=make_task(owner, ws, [step("cmd", ActionType.RUN_COMMAND, "Run", command=command), verify_step()])
    )
    jobs.dispatch_next()
    finished = run.events.get(kind="command.finished", step_id="cmd")
    assert finished.payload["summary"] == summary, finished.title
    assert finished.title.endswith(f": {summary}")
    row = StepExecution.objects.get(run=run, step_id="cmd")
    shown = row.result.get("summary", "") if exit_ok else (row.error_message or "")
    assert summary in shown


JEST = "Test Suites: 1 failed, 3 passed, 4 total\nTests:       2 failed, 10 passed, 12 total\n"
VITEST = "\x1b[32m Test Files  1 passed (1)\x1b[0m\n      Tests  2 failed | 10 passed (12)\n"
CARGO = "test result: FAILED. 10 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out\n"
GO = "--- FAIL: TestLogin (0.00s)\nFAIL\nFAIL\texample.com/auth\t0.01s\nok  \texample.com/db\t0.02s\n"


@pytest.mark.parametrize(
    ("output", "summary"),
    [
        (JEST, "2 failed, 10 passed, 12 total"),
        (VITEST, "2 failed, 10 passed, 12 total"),
        ("  10 passing (12ms)\n  2 failing\n", "10 passed, 2 failed"),
        (CARGO, "10 passed, 2 failed, 1 ignored"),
        (GO, "1 package ok, 1 failed (TestLogin)"),
        ("Ran 4 tests in 0.001s\n\nOK (skipped=1)\n", "4 tests passed (skipped=1)"),
        ("hello world\nall done\n", ""),
        ("", ""),
    ],
)
def test_known_output_formats_and_nothing_guessed(output, summary):
    assert command_summary("x", output, 0) == summary
