"""The provider side of one model turn, until providers.adapters.turns (the agent-wire work) lands.

Uses the real `chat_turn` of the provider client when it has one; otherwise speaks the two wire
formats itself over the same SSRF-safe transport (providers.adapters.transport.request_json).
TEMPORARY: everything below the imports goes once `providers.adapters.turns` is merged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from providers.adapters.transport import ProviderError, request_json

try:  # pragma: no cover - chosen by what is installed
    from providers.adapters.turns import ToolCall, ToolSpec, ToolsUnsupported, TurnReply, Usage
except ImportError:

    @dataclass(frozen=True)
    class ToolSpec:
        name: str
        description: str
        parameters: dict

    @dataclass(frozen=True)
    class ToolCall:
        id: str
        name: str
        arguments: dict
        arguments_error: str = ""

    @dataclass(frozen=True)
    class Usage:
        input_tokens: int = 0
        output_tokens: int = 0

    @dataclass(frozen=True)
    class TurnReply:
        text: str
        tool_calls: list = field(default_factory=list)
        usage: Usage = field(default_factory=Usage)
        stop_reason: str = ""
        raw: dict = field(default_factory=dict)

    class ToolsUnsupported(ProviderError):
        """The model (or the server in front of it) does not take tool definitions."""


def chat_turn(client, *, system: str, messages: list[dict], tools: list, max_tokens: int = 4096) -> TurnReply:
    """One turn with tools: the client's own chat_turn when it has one, else the local formats."""
    if hasattr(client, "chat_turn"):
        return client.chat_turn(system=system, messages=messages, tools=tools, max_tokens=max_tokens)
    if type(client).__name__ == "AnthropicClient":
        return _anthropic_turn(client, system=system, messages=messages, tools=tools, max_tokens=max_tokens)
    return _openai_turn(client, system=system, messages=messages, tools=tools, max_tokens=max_tokens)


def _send(client, path: str, body: dict) -> dict:
    try:
        return request_json(
            "POST",
            f"{client.base_url}{path}",
            headers=client._headers,
            body=body,
            timeout=client.timeout,
            policy=client.policy,
        )
    except ProviderError as exc:
        text = exc.message.lower()
        if exc.status == 400 and "tool" in text and ("support" in text or "not allowed" in text):
            raise ToolsUnsupported(exc.message, status=exc.status, attempts=exc.attempts) from exc
        raise


def _arguments(raw) -> tuple[dict, str]:
    if isinstance(raw, dict):
        return raw, ""
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError) as exc:
        return {}, f"the arguments were not valid JSON ({exc})"
    return (value, "") if isinstance(value, dict) else ({}, "the arguments were not a JSON object")


def _openai_turn(client, *, system, messages, tools, max_tokens) -> TurnReply:
    wire = [{"role": "system", "content": system}]
    for m in messages:
        if m["role"] == "assistant":
            out = {"role": "assistant", "content": m.get("content") or None}
            if m.get("tool_calls"):
                out["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments") or {})},
                    }
                    for c in m["tool_calls"]
                ]
            wire.append(out)
        elif m["role"] == "tool":
            wire.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]})
        else:
            wire.append({"role": "user", "content": m["content"]})
    body = {
        "model": client.model,
        "messages": wire,
        "max_tokens": max_tokens,
        "tools": [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in tools
        ],
    }
    reply = _send(client, "/chat/completions", body)
    try:
        choice = reply["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError("the reply had no choices[0].message")
    calls = []
    for c in message.get("tool_calls") or []:
        fn = c.get("function") or {}
        args, error = _arguments(fn.get("arguments"))
        calls.append(
            ToolCall(id=str(c.get("id") or ""), name=str(fn.get("name") or ""), arguments=args, arguments_error=error)
        )
    usage = reply.get("usage") or {}
    return TurnReply(
        text=message.get("content") or "",
        tool_calls=calls,
        usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
        stop_reason=str(choice.get("finish_reason") or ""),
        raw=reply,
    )


def _anthropic_turn(client, *, system, messages, tools, max_tokens) -> TurnReply:
    wire: list[dict] = []

    def add(role: str, blocks: list) -> None:
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": list(blocks)})

    for m in messages:
        if m["role"] == "assistant":
            blocks = [{"type": "text", "text": m["content"]}] if m.get("content") else []
            blocks += [
                {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c.get("arguments") or {}}
                for c in m.get("tool_calls") or []
            ]
            add("assistant", blocks)
        elif m["role"] == "tool":
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": m["tool_call_id"],
                        "content": m["content"],
                        "is_error": bool(m.get("is_error")),
                    }
                ],
            )
        else:
            add("user", [{"type": "text", "text": m["content"]}])
    body = {
        "model": client.model,
        "max_tokens": max_tokens,
        "system": system,
        "messages": wire,
        "tools": [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools],
    }
    reply = _send(client, "/v1/messages", body)
    blocks = reply.get("content") if isinstance(reply, dict) else None
    if not isinstance(blocks, list):
        raise ProviderError("the reply had no content blocks")
    text = "".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")
    calls = [
        ToolCall(
            id=str(b.get("id") or ""),
            name=str(b.get("name") or ""),
            arguments=_arguments(b.get("input"))[0],
            arguments_error=_arguments(b.get("input"))[1],
        )
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "tool_use"
    ]
    usage = reply.get("usage") or {}
    return TurnReply(
        text=text,
        tool_calls=calls,
        usage=Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)),
        stop_reason=str(reply.get("stop_reason") or ""),
        raw=reply,
    )
