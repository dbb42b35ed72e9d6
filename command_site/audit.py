"""The truthfulness audit: everything Command has told anyone, checked against what it can prove.

`audit_run()` reads the whole database and the snapshot store (it writes nothing) and returns an
`AuditReport` listing every violation of the rule "Command never claims what it cannot prove":

- ``completed_unverified``: a `completed` run whose verification gate does not hold now, or a
  deliverable of it without a passed verification (a verify step for it that succeeded, or a
  delivered asset whose verification report passed);
- ``event_file_unrecorded``: a workstream event naming a file the run has no FileChange or read
  record for (an event that claims no success may name the file its own step planned: the plan
  is in the database; a success naming it needs the record);
- ``event_command_unrecorded``: an event naming a command with no CommandExecution in its run;
- ``rollback_blobs_missing``: a rollback point still offered as revertible although blobs it
  stands on are missing from the snapshot store;
- ``asset_bytes_mismatch`` / ``asset_unverified``: an asset whose stored bytes do not match its
  recorded sha256 (or size), or whose verification report is missing or did not pass;
- ``change_without_lease``: a FileChange a run's step or command recorded after its attempt had
  lost the run (the lease of attempt k ends at the first state change of attempt k out of a
  leased state: recovered, handed back, waiting, finished), or after the run ended; refused late
  writes (``write.refused`` events) are counted, not violations;
- ``fallback_names_thing``: a fallback or ambient line that names a file, a command or a path:
  persisted narration events, and the line `tasks.realtime.narration_for` would show right now
  for every working run;
- ``tool_step_untraced``: a step of a model-driven run (a tool call, a check it led to, a model
  turn that ran) or an output whose content a model wrote, that does not trace to a stored model
  turn with its token usage.

Used by `manage.py audit`, the admin's "Truthfulness audit" page, the fault-injection suite and
the browser suite (each requires zero violations). `fallback_line_problems(text)` is the check
for one narration line, for code that composes such lines without persisting them.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q

RULES: dict[str, str] = {
    "completed_unverified": "Completed run without a passed verification",
    "event_file_unrecorded": "Event names a file with no change or read record",
    "event_command_unrecorded": "Event names a command that was never recorded as run",
    "rollback_blobs_missing": "Rollback point offered as revertible with blobs missing",
    "asset_bytes_mismatch": "Asset bytes do not match the recorded sha256",
    "asset_unverified": "Asset without a passed verification report",
    "fallback_names_thing": "Fallback or ambient line names a file or command",
    "change_without_lease": "File change made by a run attempt that no longer held the run",
    "tool_step_untraced": "Model-run step that traces to no stored model turn",
}

# Event kinds that are narration rather than engine facts.
FALLBACK_KINDS = ("fallback", "ambient")
# Only a success claims that something happened to a file; any other event ("writing …",
# "could not write index.html: disk full") may name the file its own step planned.
SUCCESS_STATUSES = frozenset({"success", "succeeded", "completed", "done"})

# A file-like token (name.ext, a/b paths, ./x, ~/x) or anything in backticks (commands).
_FILE_TOKEN = re.compile(
    r"(?<![\w@])(?:\.{0,2}/|~/)?(?:[\w.-]+/)+[\w.-]+|(?<![\w@/])[\w-]+\.(?:[a-z][a-z0-9]{0,5})\b",
    re.IGNORECASE,
)
_BACKTICK = re.compile(r"`[^`]+`")
# Words with a dot that are not file names in narration ("e.g.", "i.e.", times like "12.5 s").
_NOT_FILES = frozenset({"e.g", "i.e", "etc", "vs"})


@dataclass(frozen=True)
class Violation:
    rule: str
    subject: str  # what it is about, in the product's words: "RUN-014 event #7", "asset …"
    message: str
    admin_url: str = ""

    @property
    def rule_label(self) -> str:
        return RULES.get(self.rule, self.rule)


@dataclass
class AuditReport:
    violations: list[Violation] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # how many of each thing were looked at
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def by_rule(self) -> dict[str, list[Violation]]:
        grouped: dict[str, list[Violation]] = defaultdict(list)
        for v in self.violations:
            grouped[v.rule].append(v)
        return dict(grouped)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "seconds": round(self.seconds, 3),
            "violations": [
                {"rule": v.rule, "subject": v.subject, "message": v.message, "admin_url": v.admin_url}
                for v in self.violations
            ],
        }


def fallback_line_problems(text: str) -> list[str]:
    """What a fallback/ambient line names that it must not: file names, paths, commands."""
    problems = [f"names the command {m.group(0)}" for m in _BACKTICK.finditer(text or "")]
    for m in _FILE_TOKEN.finditer(_BACKTICK.sub(" ", text or "")):
        token = m.group(0).rstrip(".")
        if token.lower() in _NOT_FILES or re.fullmatch(r"[\d.]+", token):
            continue
        problems.append(f"names the file or path “{token}”")
    return problems


def _admin(model_label: str, pk) -> str:
    app, model = model_label.split(".")
    return f"/admin/{app}/{model.lower()}/{pk}/change/"


# --- completed runs -------------------------------------------------------------------------------


def _audit_completed_runs(report: AuditReport) -> None:
    from outputs.models import OutputAsset
    from tasks.engine.state import verification_passed
    from tasks.models import StepExecution, TaskRun

    runs = TaskRun.objects.filter(state=TaskRun.State.COMPLETED).only("id", "state")
    count = 0
    for run in runs.iterator():
        count += 1
        ok, why = verification_passed(run)
        if not ok:
            report.violations.append(
                Violation(
                    "completed_unverified",
                    run.reference,
                    f"Marked completed, but: {why}",
                    _admin("tasks.TaskRun", run.pk),
                )
            )
            continue
        steps = list(StepExecution.objects.filter(run=run).values("action_type", "status", "spec"))
        deliverables = {s["spec"].get("deliverable_id") for s in steps if (s["spec"] or {}).get("deliverable_id")}
        if not deliverables:
            continue
        verified_by_step = {
            (s["spec"] or {}).get("deliverable_id")
            for s in steps
            if s["action_type"] == "verify" and s["status"] == StepExecution.Status.SUCCEEDED
        }
        verified_assets = {
            key
            for key, verification in OutputAsset.objects.filter(run=run).values_list("deliverable_key", "verification")
            if (verification or {}).get("passed")
        }
        for deliverable in sorted(deliverables - verified_by_step - verified_assets):
            report.violations.append(
                Violation(
                    "completed_unverified",
                    run.reference,
                    f"Marked completed, but deliverable “{deliverable}” has no passed verification "
                    "(no successful verify step for it and no verified asset).",
                    _admin("tasks.TaskRun", run.pk),
                )
            )
    report.checked["completed runs"] = count


# --- events ---------------------------------------------------------------------------------------


def _step_path(spec: dict, result: dict) -> set[str]:
    paths = set()
    inputs = (spec or {}).get("inputs") or {}
    for value in (inputs.get("path"), (result or {}).get("path")):
        if isinstance(value, str) and value.strip():
            value = value.strip()
            paths.add(value[2:] if value.startswith("./") else value)
    return paths


def _audit_events(report: AuditReport) -> None:
    from tasks.models import CommandExecution, StepExecution, WorkstreamEvent
    from workspaces.models import FileChange

    named = WorkstreamEvent.objects.filter(~Q(file_path="") | ~Q(command=""))
    run_ids = set(named.values_list("run_id", flat=True).distinct())
    changed: set[tuple[int, str]] = set()
    for run_id, path, old_path in FileChange.objects.filter(run_id__in=run_ids).values_list(
        "run_id", "path", "old_path"
    ):
        changed.add((run_id, path))
        if old_path:
            changed.add((run_id, old_path))
    read: set[tuple[int, str]] = set()
    planned: set[tuple[int, str, str]] = set()  # (run, step_id, path)
    for run_id, step_id, action, status, spec, result in StepExecution.objects.filter(run_id__in=run_ids).values_list(
        "run_id", "step_id", "action_type", "status", "spec", "result"
    ):
        for p in _step_path(spec, result):
            planned.add((run_id, step_id, p))
            if action == "read_file" and status == StepExecution.Status.SUCCEEDED:
                read.add((run_id, p))
    commands = set(CommandExecution.objects.filter(run_id__in=run_ids).values_list("run_id", "command"))
    references = {pk: f"RUN-{pk:03d}" for pk in run_ids}

    count = 0
    for event in named.only("id", "run_id", "seq", "kind", "status", "step_id", "file_path", "command").iterator():
        count += 1
        subject = f"{references[event.run_id]} event #{event.seq}"
        url = _admin("tasks.WorkstreamEvent", event.pk)
        if event.file_path:
            path = event.file_path[2:] if event.file_path.startswith("./") else event.file_path
            key = (event.run_id, path)
            planned_mention = event.status not in SUCCESS_STATUSES and (event.run_id, event.step_id, path) in planned
            if key not in changed and key not in read and not planned_mention:
                report.violations.append(
                    Violation(
                        "event_file_unrecorded",
                        subject,
                        f"“{event.kind}” names the file {event.file_path}, but the run has no change or read "
                        "record for it.",
                        url,
                    )
                )
        if event.command and (event.run_id, event.command) not in commands:
            report.violations.append(
                Violation(
                    "event_command_unrecorded",
                    subject,
                    f"“{event.kind}” names the command `{event.command[:120]}`, but the run has no record of "
                    "running it.",
                    url,
                )
            )
    report.checked["events naming a file or command"] = count
    _audit_fallback_events(report)


def _audit_fallback_events(report: AuditReport) -> None:
    from tasks.models import WorkstreamEvent

    narration = Q()
    for kind in FALLBACK_KINDS:
        narration |= Q(kind=kind) | Q(kind__startswith=f"{kind}.")
    narration |= Q(payload__fallback=True) | Q(payload__ambient=True)
    count = 0
    for event in WorkstreamEvent.objects.filter(narration).iterator():
        count += 1
        problems = []
        if event.file_path:
            problems.append(f"names the file {event.file_path}")
        if event.command:
            problems.append(f"names the command `{event.command[:120]}`")
        problems += fallback_line_problems(f"{event.title}\n{event.explanation}")
        if problems:
            report.violations.append(
                Violation(
                    "fallback_names_thing",
                    f"RUN-{event.run_id:03d} event #{event.seq}",
                    f"A {event.kind} line {'; '.join(problems)}: narration may only restate persisted state.",
                    _admin("tasks.WorkstreamEvent", event.pk),
                )
            )
    count += _audit_live_narration(report)
    report.checked["fallback/ambient lines"] = count


def _audit_live_narration(report: AuditReport) -> int:
    """The narration line each working run would get now (the stream counted as quiet)."""
    from tasks import realtime
    from tasks.models import TaskRun

    count = 0
    for run_id in TaskRun.objects.filter(state__in=TaskRun.LEASED_STATES).values_list("pk", flat=True):
        text = realtime.narration_for(run_id=run_id, quiet_seconds=0)
        if not text:
            continue
        count += 1
        problems = fallback_line_problems(text)
        if problems:
            report.violations.append(
                Violation(
                    "fallback_names_thing",
                    f"RUN-{run_id:03d} narration",
                    f"The fallback line “{text}” {'; '.join(problems)}.",
                    _admin("tasks.TaskRun", run_id),
                )
            )
    return count


# --- rollback points ------------------------------------------------------------------------------


def _audit_rollback_points(report: AuditReport) -> None:
    from workspaces.models import RollbackPoint
    from workspaces.services.rollback import Verdict, rollback_point_eligibility
    from workspaces.snapshots import SnapshotStore

    store = SnapshotStore()
    count = 0
    for point in RollbackPoint.objects.select_related("workspace").iterator():
        count += 1
        missing: list[str] = []
        if not store.has(point.manifest_sha):
            missing.append("the manifest")
        else:
            try:
                manifest = store.get_manifest(point.manifest_sha)
            except (ValueError, KeyError, UnicodeDecodeError, OSError) as exc:
                missing.append(f"a readable manifest ({type(exc).__name__})")
            else:
                missing += [path for path, entry in sorted(manifest.files.items()) if not store.has(entry[0])]
        if not missing:
            continue
        try:
            verdict = rollback_point_eligibility(point=point).verdict
        except Exception as exc:  # noqa: BLE001 - the audit reports; it never stops at one bad row
            verdict = None
            problem = f"its revert eligibility cannot be computed ({type(exc).__name__}: {exc})"
        else:
            problem = "it is still offered as revertible" if verdict == Verdict.REVERTIBLE else ""
        if problem:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            report.violations.append(
                Violation(
                    "rollback_blobs_missing",
                    f"rollback point #{point.pk} ({point.workspace.name})",
                    f"Stored content missing from the snapshot store ({shown}), but {problem}.",
                    _admin("workspaces.RollbackPoint", point.pk),
                )
            )
    report.checked["rollback points"] = count


# --- changes made without the lease ----------------------------------------------------------------


def _audit_changes_without_lease(report: AuditReport) -> None:
    from tasks.models import TaskRun, WorkstreamEvent
    from workspaces.models import Actor, FileChange

    by_run = FileChange.objects.filter(run__isnull=False, actor__in=(Actor.STEP, Actor.COMMAND))
    changes = list(by_run.values_list("id", "run_id", "run_attempt", "created_at", "summary"))
    run_ids = {c[1] for c in changes}
    finished = dict(TaskRun.objects.filter(pk__in=run_ids, finished_at__isnull=False).values_list("pk", "finished_at"))
    lease_end: dict[tuple[int, int], object] = {}  # (run, attempt) -> when that attempt lost the run
    events = WorkstreamEvent.objects.filter(run_id__in=run_ids, kind="run.state").order_by("run_id", "seq")
    for run_id, attempt, payload, created_at in events.values_list("run_id", "attempt", "payload", "created_at"):
        if (payload or {}).get("to") not in TaskRun.LEASED_STATES:
            lease_end.setdefault((run_id, attempt), created_at)
    for pk, run_id, attempt, created_at, summary in changes:
        ended = lease_end.get((run_id, attempt)) if attempt is not None else finished.get(run_id)
        if ended is None or created_at <= ended:
            continue
        who = f"attempt {attempt}" if attempt is not None else "a step"
        report.violations.append(
            Violation(
                "change_without_lease",
                f"RUN-{run_id:03d} change #{pk}",
                f"“{summary}” was recorded by {who} {(created_at - ended).total_seconds():.1f} s after "
                f"{'that attempt lost the run' if attempt is not None else 'the run ended'}.",
                _admin("workspaces.FileChange", pk),
            )
        )
    report.checked["run file changes"] = len(changes)
    report.checked["refused late writes"] = WorkstreamEvent.objects.filter(kind="write.refused").count()


# --- assets ---------------------------------------------------------------------------------------


def _audit_assets(report: AuditReport) -> None:
    from outputs.models import OutputAsset
    from outputs.services import asset_verify_stored
    from outputs.verification.report import VerificationReport

    count = 0
    for asset in OutputAsset.objects.iterator():
        count += 1
        subject = f"asset “{asset.title}” v{asset.version}"
        url = _admin("outputs.OutputAsset", asset.pk)
        stored = asset_verify_stored(asset=asset)
        if not stored.passed:
            report.violations.append(Violation("asset_bytes_mismatch", subject, stored.summary(), url))
        recorded = asset.verification or {}
        if not recorded:
            report.violations.append(Violation("asset_unverified", subject, "No verification report is stored.", url))
        elif not (recorded.get("passed") and VerificationReport.from_dict(recorded).passed):
            report.violations.append(
                Violation(
                    "asset_unverified",
                    subject,
                    "Its stored verification report did not pass: " + VerificationReport.from_dict(recorded).summary(),
                    url,
                )
            )
    report.checked["assets"] = count


# --- model-driven runs ----------------------------------------------------------------------------

_LOOP_ONLY = ("list_files", "search", "ask_operator", "finish")


def _audit_model_runs(report: AuditReport) -> None:
    """Every step a model asked for traces to its stored turn (reply and usage); every check a
    `finish` led to traces to that call; every model turn that ran has its stored reply; every
    output a model wrote the content of has its stored replies, each with usage."""
    from django.db.models.fields.json import KT

    from tasks.models import ModelToolCall, ModelTurn, StepExecution

    turns = {
        t["pk"]: t
        for t in ModelTurn.objects.values("pk", "step_id", "number", "purpose", "input_tokens", "output_tokens")
    }
    by_step = {t["step_id"]: t for t in turns.values() if t["step_id"] and t["purpose"] == ModelTurn.Purpose.LOOP}
    # The replies a model wrote an output's content in: each step's first reply without usage, else its last.
    content: dict[int, dict] = {}
    for t in sorted(turns.values(), key=lambda t: t["number"]):
        if t["step_id"] and t["purpose"] == ModelTurn.Purpose.CONTENT:
            known = content.get(t["step_id"])
            if known is None or known["input_tokens"] or known["output_tokens"]:
                content[t["step_id"]] = t
    calls = {}
    for step_id, check_id, turn_id in ModelToolCall.objects.values_list("step_id", "check_step_id", "turn_id"):
        for linked in (step_id, check_id):
            if linked:
                calls[linked] = turn_id
    candidates = StepExecution.objects.filter(
        Q(action_type__in=(*_LOOP_ONLY, "model_turn"))
        | Q(spec__inputs__has_key="tool_call_id")
        | Q(spec__inputs__has_key="check_origin")
        | Q(spec__inputs__has_key="content_connection_id")
    ).values(
        "pk", "run_id", "step_id", "action_type", "status", "result", content=KT("spec__inputs__content_connection_id")
    )
    count = 0
    for step in candidates.iterator():
        count += 1
        subject = f"RUN-{step['run_id']:03d} step {step['step_id']}"
        url = _admin("tasks.StepExecution", step["pk"])
        if step["action_type"] == "model_turn":
            if step["status"] != StepExecution.Status.SUCCEEDED or (step["result"] or {}).get("fell_back"):
                continue
            turn = by_step.get(step["pk"])
            problem = "" if turn else "it ran, but no model turn (reply) is stored for it"
        elif step["content"]:
            if step["status"] != StepExecution.Status.SUCCEEDED:
                continue
            turn = content.get(step["pk"])
            problem = "" if turn else "the model wrote its content, but no model turn (reply) is stored for it"
        else:
            turn = turns.get(calls.get(step["pk"]))
            problem = "" if turn else "no stored model turn asked for it"
        if turn and not (turn["input_tokens"] or turn["output_tokens"]):
            problem = f"its model turn {turn['number']} has no token usage recorded"
        if problem:
            report.violations.append(Violation("tool_step_untraced", subject, f"A model-run step, but {problem}.", url))
    report.checked["model-run steps"] = count


def audit_run() -> AuditReport:
    """Check the whole database and the snapshot store; return every violation found.

    Promises: reads only (no row, file or blob is changed); one bad row never hides the others.
    Refuses nothing; an empty database is a clean report.
    """
    started = time.monotonic()
    report = AuditReport()
    _audit_completed_runs(report)
    _audit_events(report)
    _audit_rollback_points(report)
    _audit_changes_without_lease(report)
    _audit_assets(report)
    _audit_model_runs(report)
    report.seconds = time.monotonic() - started
    return report
