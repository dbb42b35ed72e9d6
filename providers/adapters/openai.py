"""The OpenAI chat-completions wire format (OpenAI, Ollama, vLLM, LM Studio, OpenRouter …)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from providers.adapters.transport import ProviderError, RetryPolicy, request_events, request_json
from providers.adapters.turns import (
    ERROR_PREFIX,
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


class OpenAICompatibleClient:
    def __init__(self, *, base_url: str, model: str, api_key: str, timeout: float, policy: RetryPolicy):
        self.base_url, self.model, self.timeout, self.policy = base_url.rstrip("/"), model, timeout, policy
        self._headers = {"Content-Type": "application/json"}
        # OpenAI's own API refuses `max_tokens` for its newer models; other servers may not know
        # the newer name (Ollama, LM Studio and older vLLM read only `max_tokens`).
        self._limit_field = (
            "max_completion_tokens" if urlsplit(self.base_url).hostname == "api.openai.com" else "max_tokens"
        )
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def complete_json(self, *, system: str, messages: list[dict], schema: dict) -> str:
        """Ask for JSON matching `schema` (structured output); return the reply's text."""
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, *messages],
            "temperature": 0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "planner_result", "schema": schema, "strict": False},
            },
        }
        reply = request_json(
            "POST",
            f"{self.base_url}/chat/completions",
            headers=self._headers,
            body=body,
            timeout=self.timeout,
            policy=self.policy,
        )
        try:
            message = reply["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise ProviderError("the reply had no choices[0].message")
        if message.get("refusal"):
            raise ProviderError(f"the model refused: {str(message['refusal'])[:200]}")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ProviderError("the reply message had no text content")
        return content

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
            "messages": [{"role": "system", "content": system}, *openai_messages(messages)],
            self._limit_field: max_tokens,
        }
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in tools
            ]
        url = f"{self.base_url}/chat/completions"
        plain = None
        try:
            if on_text is None:
                reply = request_json(
                    "POST", url, headers=self._headers, body=body, timeout=self.timeout, policy=self.policy
                )
            else:
                stream = _Stream(on_text)
                body |= {"stream": True, "stream_options": {"include_usage": True}}
                plain = request_events(
                    "POST",
                    url,
                    headers=self._headers,
                    body=body,
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
        """A real request (GET /models): returns a short description of what answered."""
        reply = request_json(
            "GET", f"{self.base_url}/models", headers=self._headers, timeout=self.timeout, policy=self.policy
        )
        ids = [m.get("id") for m in reply.get("data", []) if isinstance(m, dict)]
        if ids and self.model not in ids:
            return f"reachable, but the model “{self.model}” is not in its list of {len(ids)} models"
        return "reachable; the model is listed" if ids else "reachable"


def openai_messages(messages: list[dict]) -> list[dict]:
    """Neutral messages in the chat-completions format (`tool_calls`, `role: tool`)."""
    out = []
    for m in messages:
        if m["role"] == "user":
            out.append({"role": "user", "content": m["content"]})
        elif m["role"] == "assistant":
            message = {"role": "assistant", "content": m.get("content") or None}
            if m.get("tool_calls"):
                message["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments") or {})},
                    }
                    for c in m["tool_calls"]
                ]
            out.append(message)
        else:
            content = m.get("content", "")
            if m.get("is_error") and not content.startswith(ERROR_PREFIX):
                content = ERROR_PREFIX + content
            out.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": content})
    return out


def turn_from_reply(reply) -> TurnReply:
    """A chat-completions reply checked field by field; anything unexpected is a ProviderError."""
    if not isinstance(reply, dict):
        raise ProviderError("the reply was not a JSON object")
    if reply.get("error"):
        raise ProviderError(f"the provider answered with an error: {error_detail(reply['error'])}")
    choices = reply.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ProviderError("the reply had no choices[0]")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ProviderError("the reply had no choices[0].message")
    if message.get("refusal"):
        raise ProviderError(f"the model refused: {str(message['refusal'])[:200]}")
    text = message.get("content")
    if text is None:
        text = ""
    elif isinstance(text, list):  # content parts, as some servers send them
        if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in text):
            raise ProviderError("the reply's message content had parts that were not text")
        text = "".join(p["text"] for p in text)
    if not isinstance(text, str):
        raise ProviderError("the reply's message content was not text")
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise ProviderError("the reply's tool_calls was not a list")
    calls = []
    for i, raw in enumerate(raw_calls):
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(function, dict):
            raise ProviderError(f"tool call {i} in the reply had no function")
        call_id, name = raw.get("id"), function.get("name")
        if not isinstance(call_id, str) or not call_id:
            raise ProviderError(f"tool call {i} in the reply had no id")
        if not isinstance(name, str) or not name:
            raise ProviderError(f"tool call {i} in the reply had no function name")
        arguments, problem = arguments_parse(function.get("arguments", ""))
        calls.append(ToolCall(id=call_id, name=name, arguments=arguments, arguments_error=problem))
    if len({c.id for c in calls}) != len(calls):
        raise ProviderError("the reply used the same tool call id twice")
    stop = choices[0].get("finish_reason") or ""
    if not isinstance(stop, str):
        raise ProviderError("the reply's finish_reason was not text")
    usage = reply.get("usage") or {}
    if not isinstance(usage, dict):
        raise ProviderError("the reply's usage was not an object")
    return TurnReply(
        text=text,
        tool_calls=calls,
        usage=Usage(
            input_tokens=token_count(usage.get("prompt_tokens"), "prompt_tokens"),
            output_tokens=token_count(usage.get("completion_tokens"), "completion_tokens"),
        ),
        stop_reason=stop,
        raw=reply,
    )


class _Stream:
    """Chunks of a streamed chat completion, put back together as the reply a plain request gets."""

    def __init__(self, on_text: TextSink):
        self.on_text = on_text
        self.text: list[str] = []
        self.calls: dict[int, dict] = {}
        self.finish_reason = None
        self.usage = None
        self.id = ""
        self.done = False

    def feed(self, event: str, data: str) -> None:
        if data.strip() == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            raise ProviderError("a streamed chunk was not JSON")
        if not isinstance(chunk, dict):
            raise ProviderError("a streamed chunk was not a JSON object")
        if chunk.get("error"):
            raise ProviderError(f"the stream ended with an error: {error_detail(chunk['error'])}")
        self.id = chunk.get("id") or self.id
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise ProviderError("a streamed chunk's choices was not a list")
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                raise ProviderError("a streamed chunk had no delta")
            piece = delta.get("content")
            if piece:
                if not isinstance(piece, str):
                    raise ProviderError("a streamed chunk's content was not text")
                self.text.append(piece)
                self.on_text(piece)
            for part in delta.get("tool_calls") or []:
                self._call_part(part)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def _call_part(self, part) -> None:
        if not isinstance(part, dict):
            raise ProviderError("a streamed tool call was not an object")
        index = part.get("index")
        if index is None:
            # Some servers (older Ollama) send each call whole, without an index: a new id is a new call.
            last = self.calls.get(len(self.calls) - 1)
            index = (
                len(self.calls)
                if last is None or (part.get("id") and part["id"] != last["id"])
                else len(self.calls) - 1
            )
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ProviderError("a streamed tool call had no usable index")
        call = self.calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        call["id"] = part.get("id") or call["id"]
        function = part.get("function") or {}
        if not isinstance(function, dict):
            raise ProviderError("a streamed tool call's function was not an object")
        call["name"] += function.get("name") or ""
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        call["arguments"] += arguments

    def reply(self) -> dict:
        if not self.done and self.finish_reason is None:
            raise ProviderError("the stream ended before the reply was complete")
        message = {"role": "assistant", "content": "".join(self.text)}
        if self.calls:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for _, c in sorted(self.calls.items())
            ]
        reply = {"id": self.id, "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}]}
        if self.usage is not None:
            reply["usage"] = self.usage
        return reply
