"""The tools a model may call in a model-driven run, and how one call becomes a plan step.

Each tool maps to an action type the engine already knows (read_file, write_file, edit_file,
delete_file, run_command) or to a loop action (list_files, search, ask_operator, finish); the step
goes through the same approval gate, rollback point, diff and events as a planned step.
"""

from __future__ import annotations

from providers.adapters.turns import ToolSpec
from providers.contracts import ActionType, PlanStep, RiskLevel, StepExplanation


def _obj(properties: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_PATH = {"type": "string", "description": "A path relative to the workspace folder, with forward slashes."}

TOOLS: list[ToolSpec] = [
    ToolSpec(
        "list_files",
        "List the files under a folder of the workspace (bounded; ignored folders such as .git and "
        "node_modules are left out).",
        _obj({"path": {**_PATH, "description": "Folder to list; empty for the whole workspace."}}, []),
    ),
    ToolSpec(
        "search",
        "Search the workspace's text files for a string (or a regular expression); returns matching "
        "lines with their file and line number (bounded).",
        _obj(
            {
                "pattern": {"type": "string"},
                "regex": {"type": "boolean", "description": "Treat the pattern as a regular expression."},
                "path": {**_PATH, "description": "Only search under this folder."},
            },
            ["pattern"],
        ),
    ),
    ToolSpec(
        "read_file",
        "Read a text file; lines come numbered. Give start_line and end_line for part of a long file.",
        _obj({"path": _PATH, "start_line": {"type": "integer"}, "end_line": {"type": "integer"}}, ["path"]),
    ),
    ToolSpec(
        "edit_file",
        "Replace one exact piece of text in a file. `find` must occur exactly once, character for "
        "character (without line numbers); otherwise nothing changes and you are shown the closest lines.",
        _obj({"path": _PATH, "find": {"type": "string"}, "replace": {"type": "string"}}, ["path", "find", "replace"]),
    ),
    ToolSpec(
        "write_file",
        "Create a file, or replace a whole file, with the given text.",
        _obj({"path": _PATH, "content": {"type": "string"}}, ["path", "content"]),
    ),
    ToolSpec("delete_file", "Delete one file.", _obj({"path": _PATH}, ["path"])),
    ToolSpec(
        "run_command",
        "Run a shell command in the workspace folder (the person may have to approve it). You get the "
        "exit code and the end of its output.",
        _obj({"command": {"type": "string"}}, ["command"]),
    ),
    ToolSpec(
        "ask_operator",
        "Ask the person a question when you cannot go on without their answer. The run waits for it.",
        _obj({"question": {"type": "string"}}, ["question"]),
    ),
    ToolSpec(
        "finish",
        "Say you believe the work is done, with a short summary. Command then runs the check; the "
        "check decides whether the work is done, and if it fails you see why. Give `check` (a command) "
        "only when no check was named.",
        _obj({"summary": {"type": "string"}, "check": {"type": "string"}}, ["summary"]),
    ),
]
TOOL_NAMES = frozenset(t.name for t in TOOLS)

_ACTIONS = {
    "list_files": ActionType.LIST_FILES,
    "search": ActionType.SEARCH,
    "read_file": ActionType.READ_FILE,
    "edit_file": ActionType.EDIT_FILE,
    "write_file": ActionType.WRITE_FILE,
    "delete_file": ActionType.DELETE_FILE,
    "run_command": ActionType.RUN_COMMAND,
    "ask_operator": ActionType.ASK_OPERATOR,
    "finish": ActionType.FINISH,
}
_REQUIRED = {t.name: t.parameters.get("required", []) for t in TOOLS}
_STRINGS = {t.name: [k for k, v in t.parameters["properties"].items() if v.get("type") == "string"] for t in TOOLS}


# Step titles name no file, path or command: the quiet-stream line repeats a step's title, and that
# line may only restate persisted state (command_site.audit). What the step touches is in its
# explanation, its approval and its outcome.
_TITLES = {
    "list_files": "List the files",
    "search": "Search the files",
    "read_file": "Read a file",
    "edit_file": "Edit a file",
    "write_file": "Write a file",
    "delete_file": "Delete a file",
    "run_command": "Run a command",
    "ask_operator": "Ask you a question",
    "finish": "The model says it is done",
}


def _what(name: str, args: dict) -> str:
    path = str(args.get("path") or "")
    return {
        "list_files": f"List the files in {path or 'the workspace'}.",
        "search": f"Search the files{f' under {path}' if path else ''} for “{str(args.get('pattern', ''))[:200]}”.",
        "read_file": f"Read {path}.",
        "edit_file": f"Replace one exact piece of text in {path}.",
        "write_file": f"Write {path} ({len(str(args.get('content', '')))} characters).",
        "delete_file": f"Delete {path}.",
        "run_command": f"Run `{str(args.get('command', ''))[:300]}` in the workspace folder.",
        "ask_operator": f"Ask you: “{str(args.get('question', ''))[:300]}”",
        "finish": "Hand over to the check: the model says the work is done.",
    }[name]


def call_problem(name: str, args: dict, arguments_error: str = "") -> str:
    """Why this call cannot become a step ("" when it can): an unknown tool, unreadable or missing arguments."""
    if name not in TOOL_NAMES:
        return f"There is no tool named “{name}”. The tools are: {', '.join(sorted(TOOL_NAMES))}."
    if arguments_error:
        return f"The call to {name} could not be read: {arguments_error}."
    missing = [k for k in _REQUIRED[name] if not isinstance(args.get(k), str)]
    if missing:
        return f"The call to {name} is missing {', '.join(missing)} (text)."
    wrong = [k for k in _STRINGS[name] if k in args and not isinstance(args[k], str)]
    if wrong:
        return f"In the call to {name}, {', '.join(wrong)} must be text."
    if name in ("edit_file",) and not args["find"]:
        return "edit_file needs a non-empty `find`."
    return ""


def step_for_call(*, name: str, args: dict, step_id: str, call_id: str, model_words: str) -> PlanStep:
    """The plan step that carries out one (valid) tool call. `model_words` is the model's text of
    that turn, shown as why (it is the model's reason, not Command's)."""
    inputs = {
        k: v
        for k, v in args.items()
        if k
        in (
            "path",
            "find",
            "replace",
            "content",
            "command",
            "pattern",
            "regex",
            "start_line",
            "end_line",
            "question",
            "summary",
            "check",
        )
    }
    inputs["tool_call_id"] = call_id
    why = f"The model asked for it: “{model_words.strip()[:300]}”" if model_words.strip() else "The model asked for it."
    mutating = name in ("edit_file", "write_file", "delete_file", "run_command")
    return PlanStep(
        id=step_id,
        title=_TITLES[name],
        action_type=_ACTIONS[name],
        inputs=inputs,
        risk_level=RiskLevel.MEDIUM if mutating else RiskLevel.LOW,
        risk_reason="Proposed by the model during the run." if mutating else "",
        explanation=StepExplanation(
            what=_what(name, args),
            why=why,
            expect_next="What it shows goes back to the model in its next turn.",
        ),
    )
