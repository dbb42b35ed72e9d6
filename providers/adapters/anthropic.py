"""The Anthropic messages wire format; structured output through a forced tool call."""

from __future__ import annotations

import json

from providers.adapters.transport import ProviderError, RetryPolicy, request_events, request_json
from providers.adapters.turns import (
    TextSink,
    ToolCall,
    ToolSpec,
    TurnReply,
    Usage,
    arguments_parse,
    error_detail,
    messages_check,
    token_count,
    tools_check,
    tools_unsupported_from,
)

ANTHROPIC_VERSION = "2023-06-01"
TOOL_NAME = "submit_plan"


class AnthropicClient:
    def __init__(self, *, base_url: str, model: str, api_key: str, timeout: float, policy: RetryPolicy):
        self.base_url, self.model, self.timeout, self.policy = base_url.rstrip("/"), model, timeout, policy
        self._headers = {"Content-Type": "application/json", "anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            self._headers["x-api-key"] = api_key

    def complete_json(self, *, system: str, messages: list[dict], schema: dict) -> str:
        body = {
            "model": self.model,
            "max_tokens": 4096,
            "system": system,
            "messages": messages,
            "tools": [
                {"name": TOOL_NAME, "description": "Submit the understanding, brief and plan.", "input_schema": schema}
            ],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
        }
        reply = request_json(
            "POST",
            f"{self.base_url}/v1/messages",
            headers=self._headers,
            body=body,
            timeout=self.timeout,
            policy=self.policy,
        )
        blocks = reply.get("content") if isinstance(reply, dict) else None
        if not isinstance(blocks, list):
            raise ProviderError("the reply had no content blocks")
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                return json.dumps(block.get("input"))
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "text" and block.get("text", "").strip():
                return block["text"]
        raise ProviderError("the reply had neither a tool call nor text")

    def chat_turn(
        self,
        *,
        system: str,
        messages: list[dict],
        tools: list[ToolSpec],
        max_tokens: int = 4096,
        on_text: TextSink | None = None,
    ) -> TurnReply:
        """One model turn offering `tools`; the reply validated (ProviderError if malformed).

        With `on_text` the reply is streamed and each piece of text goes to it as it arrives.
        ToolsUnsupported when the server says it cannot call tools."""
        messages_check(messages)
        tools_check(tools)
        body = {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": anthropic_messages(messages),
        }
        if tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
            ]
        url = f"{self.base_url}/v1/messages"
        plain = None
        try:
            if on_text is None:
                reply = request_json(
                    "POST", url, headers=self._headers, body=body, timeout=self.timeout, policy=self.policy
                )
            else:
                stream = _Stream(on_text)
                plain = request_events(
                    "POST",
                    url,
                    headers=self._headers,
                    body={**body, "stream": True},
                    on_event=stream.feed,
                    timeout=self.timeout,
                    policy=self.policy,
                )
                reply = plain if plain is not None else stream.reply()
        except ProviderError as exc:
            raise tools_unsupported_from(exc) if tools else exc
        turn = turn_from_reply(reply)
        if plain is not None and turn.text:
            on_text(turn.text)  # the server answered without streaming: the text arrives whole
        return turn

    def check(self) -> str:
        reply = request_json(
            "GET", f"{self.base_url}/v1/models", headers=self._headers, timeout=self.timeout, policy=self.policy
        )
        ids = [m.get("id") for m in reply.get("data", []) if isinstance(m, dict)]
        if ids and self.model not in ids:
            return f"reachable, but the model “{self.model}” is not in its list of {len(ids)} models"
        return "reachable; the model is listed" if ids else "reachable"


def anthropic_messages(messages: list[dict]) -> list[dict]:
    """Neutral messages in the messages format: `tool_use` blocks in the assistant's message, and
    the tool results that answer them as `tool_result` blocks of one user message (first in it)."""
    out: list[dict] = []
    for m in messages:
        if m["role"] == "assistant":
            blocks = [{"type": "text", "text": m["content"]}] if m.get("content") else []
            blocks += [
                {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c.get("arguments") or {}}
                for c in m.get("tool_calls") or []
            ]
            if out and out[-1]["role"] == "assistant":
                out[-1]["content"].extend(blocks)  # the API wants the roles to alternate
            else:
                out.append({"role": "assistant", "content": blocks})
            continue
        if m["role"] == "tool":
            block = {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m.get("content", "")}
            if m.get("is_error"):
                block["is_error"] = True
        else:
            block = {"type": "text", "text": m["content"]}
        if out and out[-1]["role"] == "user":
            out[-1]["content"].append(block)  # consecutive results (and a following note) share one message
        else:
            out.append({"role": "user", "content": [block]})
    return out


def turn_from_reply(reply) -> TurnReply:
    """A messages reply checked block by block; anything unexpected is a ProviderError."""
    if not isinstance(reply, dict):
        raise ProviderError("the reply was not a JSON object")
    if reply.get("type") == "error" or reply.get("error"):
        raise ProviderError(f"the provider answered with an error: {error_detail(reply.get('error'))}")
    blocks = reply.get("content")
    if not isinstance(blocks, list):
        raise ProviderError("the reply had no content blocks")
    texts, calls = [], []
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise ProviderError(f"content block {i} (text) had no text")
            texts.append(block["text"])
        elif kind == "tool_use":
            call_id, name = block.get("id"), block.get("name")
            if not isinstance(call_id, str) or not call_id:
                raise ProviderError(f"content block {i} (tool_use) had no id")
            if not isinstance(name, str) or not name:
                raise ProviderError(f"content block {i} (tool_use) had no name")
            arguments, problem = arguments_parse(block.get("input"))
            calls.append(ToolCall(id=call_id, name=name, arguments=arguments, arguments_error=problem))
        elif kind in {"thinking", "redacted_thinking"}:
            continue  # the model's own reasoning: not part of what it says or asks for
        else:
            raise ProviderError(f"content block {i} had an unknown type {kind!r}")
    if len({c.id for c in calls}) != len(calls):
        raise ProviderError("the reply used the same tool_use id twice")
    stop = reply.get("stop_reason") or ""
    if not isinstance(stop, str):
        raise ProviderError("the reply's stop_reason was not text")
    usage = reply.get("usage") or {}
    if not isinstance(usage, dict):
        raise ProviderError("the reply's usage was not an object")
    return TurnReply(
        text="".join(texts),
        tool_calls=calls,
        usage=Usage(
            input_tokens=token_count(usage.get("input_tokens"), "input_tokens"),
            output_tokens=token_count(usage.get("output_tokens"), "output_tokens"),
        ),
        stop_reason=stop,
        raw=reply,
    )


class _Stream:
    """Server-sent events of a streamed message, put back together as the reply a plain request gets."""

    def __init__(self, on_text: TextSink):
        self.on_text = on_text
        self.message: dict | None = None
        self.blocks: dict[int, dict] = {}
        self.partial_json: dict[int, list[str]] = {}
        self.stopped = False

    def feed(self, event: str, data: str) -> None:
        try:
            payload = json.loads(data)
        except json.JSONDecodeError:
            raise ProviderError(f"a streamed {event} event was not JSON")
        if not isinstance(payload, dict):
            raise ProviderError(f"a streamed {event} event was not a JSON object")
        kind = payload.get("type") or event
        if kind == "error":
            raise ProviderError(f"the stream ended with an error: {error_detail(payload.get('error'))}")
        if kind == "message_start":
            message = payload.get("message")
            if not isinstance(message, dict):
                raise ProviderError("the stream's message_start had no message")
            self.message = {**message, "content": [], "usage": dict(message.get("usage") or {})}
            return
        if kind in {"ping", "message_stop"}:
            self.stopped = self.stopped or kind == "message_stop"
            return
        if self.message is None:
            raise ProviderError(f"the stream sent {kind} before message_start")
        index = payload.get("index")
        if kind == "content_block_start":
            block = payload.get("content_block")
            if not isinstance(index, int) or not isinstance(block, dict):
                raise ProviderError("a streamed content_block_start had no index or block")
            self.blocks[index] = dict(block)
        elif kind == "content_block_delta":
            block, delta = self.blocks.get(index), payload.get("delta")
            if block is None or not isinstance(delta, dict):
                raise ProviderError("a streamed content_block_delta did not follow its block's start")
            if delta.get("type") == "text_delta":
                piece = delta.get("text")
                if not isinstance(piece, str):
                    raise ProviderError("a streamed text_delta had no text")
                block["text"] = block.get("text", "") + piece
                if piece:
                    self.on_text(piece)
            elif delta.get("type") == "input_json_delta":
                self.partial_json.setdefault(index, []).append(str(delta.get("partial_json") or ""))
        elif kind == "content_block_stop":
            if index not in self.blocks:
                raise ProviderError("a streamed content_block_stop did not follow its block's start")
        elif kind == "message_delta":
            delta = payload.get("delta") or {}
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.message["stop_reason"] = delta["stop_reason"]
            if isinstance(payload.get("usage"), dict):
                self.message["usage"].update(payload["usage"])

    def reply(self) -> dict:
        if self.message is None or not self.stopped:
            raise ProviderError("the stream ended before the reply was complete")
        for index, parts in self.partial_json.items():
            text = "".join(parts)
            if text.strip():
                try:
                    self.blocks[index]["input"] = json.loads(text)
                except json.JSONDecodeError:
                    self.blocks[index]["input"] = text  # kept as received: turn_from_reply says what was wrong
        return {**self.message, "content": [self.blocks[i] for i in sorted(self.blocks)]}
