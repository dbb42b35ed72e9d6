"""Self-healing: for failure kinds Command knows, propose a fix as an ordinary step.

The fix goes through the same executor path as any step (approval gate, events, its own
StepExecution row); the failed step is then retried once. Only fixes that the workspace itself
justifies are proposed: "reinstall dependencies" needs a dependency manifest in the folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from providers.contracts import ActionType, PlanStep, RiskLevel, StepExplanation
from tasks.models import CommandExecution


@dataclass(frozen=True)
class Remediation:
    kind: str
    diagnosis: str  # what Command concluded from the failure
    step: PlanStep


MISSING_DEPENDENCY = re.compile(
    r"(Cannot find module|MODULE_NOT_FOUND|ModuleNotFoundError|No module named|command not found: (?:vite|next|tsc)"
    r"|npm ERR! missing|ERR_MODULE_NOT_FOUND)",
    re.IGNORECASE,
)


def remediation_propose(
    *, step_spec: dict, error_type: str, data: dict, workspace_path: Path | None
) -> Remediation | None:
    """A remediation for a failed `run_command` step, or None when Command knows no honest fix."""
    if step_spec.get("action_type") != str(ActionType.RUN_COMMAND) or error_type != "CommandFailed":
        return None
    execution_id = data.get("command_execution_id")
    if not execution_id or workspace_path is None:
        return None
    output = CommandExecution.objects.filter(pk=execution_id).values_list("output", flat=True).first() or ""
    match = MISSING_DEPENDENCY.search(output)
    if not match:
        return None
    root = Path(workspace_path)
    if (root / "package.json").is_file():
        command = "npm ci" if (root / "package-lock.json").is_file() else "npm install"
    elif (root / "requirements.txt").is_file():
        command = "python3 -m pip install -r requirements.txt"
    else:
        return None
    failed = step_spec.get("title", "the step")
    return Remediation(
        kind="missing_dependencies",
        diagnosis=f"The output says “{match.group(0)}”: a dependency is missing.",
        step=PlanStep(
            id=f"{step_spec['id']}-fix"[:40],
            title="Reinstall dependencies",
            action_type=ActionType.RUN_COMMAND,
            inputs={"command": command},
            risk_level=RiskLevel.MEDIUM,
            risk_reason="Installs packages from the project's dependency manifest.",
            explanation=StepExplanation(
                what=f"Run `{command}` in the workspace folder.",
                why=f"“{failed}” failed because a dependency is missing.",
                expect_next=f"Then retry “{failed}” once.",
            ),
        ),
    )
