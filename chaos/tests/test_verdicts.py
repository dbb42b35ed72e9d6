"""The fault suite's own checks can fail: each is shown failing once on purpose, against the real
database and real files, and the suite's verdict follows (FAILED, SKIPPED, never a false PASSED)."""

from __future__ import annotations

import json

import pytest

from chaos.run import Tally, check_recoverable, check_runs, make_run, make_workspace, print_summary, read_ledger
from tasks.models import TaskRun

pytestmark = pytest.mark.django_db


def _verdict_line(tally: Tally, capsys) -> str:
    print_summary(tally, 1.0, worker_starts=2)
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_a_clean_run_passes_a_skipped_case_says_skipped_and_any_failure_fails(capsys):
    assert Tally().verdict() == ("PASSED", 0)
    assert _verdict_line(Tally(), capsys).startswith("PASSED")
    skipped = Tally(skipped=["disk full: tmpfs mount not permitted here"])
    assert skipped.verdict() == ("SKIPPED", 0)
    line = _verdict_line(skipped, capsys)
    assert line.startswith("SKIPPED") and "PASSED" not in line
    broken = Tally(skipped=["disk full"], outages=["redis down: /health answered 200, not 503 naming channel_layer"])
    assert broken.verdict() == ("FAILED", 1)
    assert _verdict_line(broken, capsys).startswith("FAILED")


def test_recoverable_runs_over_the_cap_fail_the_suite_each_listed_with_its_reason(owner, tmp_path, capsys):
    ws = make_workspace(owner, "cap")
    runs = [make_run(owner, ws, f"cap-{i}", delay=0) for i in range(3)]
    for run in runs[:2]:
        TaskRun.objects.filter(pk=run.pk).update(state="recoverable", state_reason=f"{run.reference} needs you.")
    within = Tally(recoverable_cap=2)
    check_recoverable([r.pk for r in runs], within)
    assert within.verdict()[0] == "PASSED" and len(within.recoverable) == 2
    over = Tally(recoverable_cap=1)
    check_recoverable([r.pk for r in runs], over)
    assert over.verdict() == ("FAILED", 1)
    out = (print_summary(over, 1.0, worker_starts=2), capsys.readouterr().out)[1]
    for run in runs[:2]:
        assert f"FAIL: 2 runs ended recoverable (cap 1): {run.reference}: {run.reference} needs you." in out


def test_check_runs_catches_a_lost_run_a_false_success_and_a_mutation_applied_twice(owner, tmp_path):
    ws = make_workspace(owner, "checks")
    lost, false_success, twice = (make_run(owner, ws, key, delay=0) for key in ("lost-0", "false-0", "twice-0"))
    keys = {lost.pk: "lost-0", false_success.pk: "false-0", twice.pk: "twice-0"}
    # Completed, but its journal line and page were never written.
    TaskRun.objects.filter(pk=false_success.pk).update(state="completed")
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(json.dumps({"run": twice.pk, "step": "journal", "attempt": a}) + "\n" for a in (1, 2)))
    tally = Tally()
    check_runs(list(keys), keys, read_ledger(ledger), tally)
    assert any(lost.reference in line for line in tally.lost), "a run left queued is lost"
    assert any(false_success.reference in line for line in tally.false_successes)
    assert any(f"RUN-{twice.pk:03d} step journal applied 2 times" in line for line in tally.duplicated)
    assert tally.verdict() == ("FAILED", 1)


def test_a_frozen_attempts_late_upload_or_second_asset_fails_the_suite_and_a_refused_one_passes(owner, tmp_path):
    import time

    from chaos.run import check_frozen_attempt
    from outputs.models import OutputAsset
    from tasks.engine.events import event_emit

    ws = make_workspace(owner, "frozen")
    run = make_run(owner, ws, "frozen-asset", kind="asset", delay=0)
    TaskRun.objects.filter(pk=run.pk).update(attempt=2, state="completed")
    superseded_at = time.time()

    def judged(ledger: list[dict]) -> Tally:
        tally = Tally()
        kwargs = {"frozen_attempt": 1, "superseded_at": superseded_at, "tally": tally, "where": "another host"}
        check_frozen_attempt(run, ledger=ledger, must_be_refused=True, pid=4321, **kwargs)
        return tally

    # Woken, it wrote nothing and left no refusal on record: a zombie may have written unseen.
    assert judged([]).verdict() == ("FAILED", 1)
    event_emit(run=run, kind="write.refused", status="warning", title="Refused", payload={"refused_attempt": 1})
    assert judged([]).verdict() == ("PASSED", 0), "refused on record and nothing written"
    # An upload of the asset's bytes by the frozen attempt (the ledger's "store" line) fails it.
    late = judged([{"run": run.pk, "attempt": 1, "action": "store", "name": "assets/x/files/a.png"}])
    assert late.verdict() == ("FAILED", 1) and "1 mutation(s) or upload(s)" in late.zombie_writes[0]
    # So does a second asset of the run (filed twice).
    for i in range(2):
        OutputAsset.objects.create(
            owner=owner,
            category="image",
            title="Picture",
            deliverable_key="picture",
            mime_type="image/png",
            size=1,
            sha256="0" * 64,
            version=i + 1,
            file=f"assets/{i}.png",
            task=run.task,
            run=run,
            is_latest=i == 1,
        )
    twice = judged([])
    assert twice.verdict() == ("FAILED", 1) and "1 asset(s)" in twice.zombie_writes[0]


def test_a_frozen_workers_command_that_outlived_its_lease_fails_the_suite(owner, tmp_path):
    from datetime import UTC, datetime, timedelta

    from chaos.run import check_frozen_command

    ws = make_workspace(owner, "frozen-command")
    run = make_run(owner, ws, "frozen-command", kind="command")
    reason = "Its command `sh tick.sh frozen-command` no longer runs: a command's lease watchdog stops it."
    TaskRun.objects.filter(pk=run.pk).update(state="recoverable", state_reason=reason)
    expires = datetime.now(UTC)
    before, after_expiry = (expires - timedelta(seconds=2)).timestamp(), (expires + timedelta(seconds=1)).timestamp()

    def judged(**seen) -> Tally:
        tally = Tally()
        kwargs = {"written": [before], "alive": [], "after": [], "alive_after": []} | seen
        check_frozen_command(run, expires=expires, tally=tally, where="another host", **kwargs)
        return tally

    assert judged().verdict() == ("PASSED", 0), "dead by the expiry, nothing written after"
    late = judged(written=[before, after_expiry])
    assert late.verdict() == ("FAILED", 1) and "1 line(s) after its lease expired" in late.zombie_writes[0]
    running = judged(alive=[4321])
    assert running.verdict() == ("FAILED", 1) and "still running after its lease expired" in running.zombie_writes[0]
    assert judged(after=[after_expiry]).verdict() == ("FAILED", 1), "a write after the folder was put back"
    TaskRun.objects.filter(pk=run.pk).update(state="completed", state_reason="")
    assert judged().verdict() == ("FAILED", 1), "a frozen command's run never ends as if nothing happened"
