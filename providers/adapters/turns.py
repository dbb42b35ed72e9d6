"""One tool-calling turn with a model, in neutral terms both wire formats translate to and from.

Neutral messages (what the engine stores and sends, whatever the provider):
    {"role": "user", "content": str}
    {"role": "assistant", "content": str, "tool_calls": [{"id": str, "name": str, "arguments": dict}]}
    {"role": "tool", "tool_call_id": str, "name": str, "content": str, "is_error": bool}

A reply is a TurnReply: the model's text, the tool calls it asked for (arguments parsed; a call
whose arguments were not a JSON object keeps `arguments_error` so the engine can say so to the
model instead of guessing), the usage the provider reported and its stop reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from providers.adapters.transport import ProviderError

TextSink = Callable[[str], None]

# OpenAI-compatible servers have no error flag on a tool result: the content says it instead.
ERROR_PREFIX = "[error] "


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict  # a JSON schema for the arguments object


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict
    arguments_error: str = ""  # set when the model's arguments were not a JSON object


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class TurnReply:
    text: str
    tool_calls: list[ToolCall]
    usage: Usage
    stop_reason: str
    raw: dict

    def message(self) -> dict:
        """This reply as the neutral assistant message that goes into the next turn's conversation.

        A call whose arguments could not be read goes back with empty arguments: its tool result
        must then say what was wrong (tool_result(..., is_error=True)). A reply with neither text
        nor calls is no message at all (messages_check refuses it): the engine decides what then."""
        message: dict = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls]
        return message


def tool_result(call: ToolCall, content: str, *, is_error: bool = False) -> dict:
    """The neutral message that answers `call`."""
    return {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": content, "is_error": is_error}


class ToolsUnsupported(ProviderError):
    """The server (or the model behind it) says it cannot call tools."""


_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Errors servers give when asked for tools they cannot do: Ollama ("… does not support tools"),
# vLLM ("auto" tool choice requires --enable-auto-tool-choice …), others ("function calling is
# not supported", "tools are not supported by this model").
_UNSUPPORTED = re.compile(
    r"does not support tools|(tool|function)[\w\s-]*(not|un)\s*supported|"
    r"(not|n't)\s+support\w*\s+(tool|function)|tool[\w\s-]*requires\s+--|enable-auto-tool-choice",
    re.IGNORECASE,
)


def tools_unsupported_from(error: ProviderError) -> ProviderError:
    """`error` as ToolsUnsupported when it is a client error saying tools cannot be used, else unchanged."""
    if error.status in {400, 404, 422, 501} and _UNSUPPORTED.search(error.message):
        return ToolsUnsupported(error.message, status=error.status, attempts=error.attempts)
    return error


def tools_check(tools: list[ToolSpec]) -> None:
    """Refuse tool lists no provider would accept (ValueError naming the problem)."""
    names = set()
    for tool in tools:
        if not isinstance(tool, ToolSpec):
            raise ValueError(f"a tool must be a ToolSpec, not {type(tool).__name__}")
        if not _TOOL_NAME.match(tool.name):
            raise ValueError(f"tool name {tool.name!r} must be 1–64 letters, digits, '_' or '-'")
        if tool.name in names:
            raise ValueError(f"tool {tool.name!r} is offered twice")
        if not isinstance(tool.parameters, dict) or tool.parameters.get("type") != "object":
            raise ValueError(f"tool {tool.name!r}: parameters must be a JSON schema of type 'object'")
        names.add(tool.name)


def messages_check(messages: list[dict]) -> None:
    """Refuse a neutral message list that cannot be sent (ValueError naming the first bad message).

    The list starts with the person's message; every tool call an assistant message makes is
    answered by a tool result right after it (before anyone speaks again), as both providers
    require, and every tool result answers such a call."""
    if not messages:
        raise ValueError("a turn needs at least one message")
    pending: dict[str, None] = {}
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        where = f"message {i} ({role or 'no role'})"
        if role not in {"user", "assistant", "tool"}:
            raise ValueError(f"{where}: role must be user, assistant or tool")
        if i == 0 and role != "user":
            raise ValueError("the first message must be the person's (role user)")
        if not isinstance(message.get("content", ""), str):
            raise ValueError(f"{where}: content must be text")
        if role != "tool" and pending:
            raise ValueError(f"{where}: tool call(s) {', '.join(pending)} have no result before it")
        if role == "user" and not message.get("content"):
            raise ValueError(f"{where}: empty")
        if role == "assistant":
            calls = message.get("tool_calls") or []
            if not isinstance(calls, list):
                raise ValueError(f"{where}: tool_calls must be a list")
            for call in calls:
                if not (isinstance(call, dict) and call.get("id") and call.get("name")):
                    raise ValueError(f"{where}: every tool call needs an id and a name")
                if not isinstance(call.get("arguments", {}), dict):
                    raise ValueError(f"{where}: tool call {call['id']!r} arguments must be an object")
                if call["id"] in pending:
                    raise ValueError(f"{where}: tool call id {call['id']!r} is used twice")
                pending[call["id"]] = None
            if not calls and not message.get("content"):
                raise ValueError(f"{where}: neither text nor tool calls")
        if role == "tool":
            if message.get("tool_call_id") not in pending:
                raise ValueError(
                    f"{where}: answers tool call {message.get('tool_call_id')!r}, which is not awaiting a result"
                )
            del pending[message["tool_call_id"]]
            if not message.get("name"):
                raise ValueError(f"{where}: needs the tool's name")
    if pending:
        raise ValueError(f"tool call(s) {', '.join(pending)} have no result")


def _json_kind(value) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def arguments_parse(value) -> tuple[dict, str]:
    """A tool call's arguments (an object, or JSON text of one) as (object, "") or ({}, what was wrong)."""
    if isinstance(value, str):
        if not value.strip():
            return {}, ""  # a call without arguments
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            return {}, f"the arguments were not valid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(value, dict):
        return {}, f"the arguments were a JSON {_json_kind(value)}, not an object"
    return value, ""


def error_detail(error) -> str:
    """The readable part of an error object a provider put in its reply (or stream), shortened."""
    detail = error.get("message") or error.get("type") or error if isinstance(error, dict) else error
    return " ".join(str(detail).split())[:200]


def token_count(value, what: str) -> int:
    """A usage figure from a reply: a non-negative integer, absent counts as 0."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProviderError(f"the reply's usage {what} was {value!r}, not a token count")
    return value
