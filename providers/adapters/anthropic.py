"""The Anthropic messages wire format; structured output through a forced tool call."""

from __future__ import annotations

import json

from providers.adapters.transport import ProviderError, RetryPolicy, request_json

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

    def check(self) -> str:
        reply = request_json(
            "GET", f"{self.base_url}/v1/models", headers=self._headers, timeout=self.timeout, policy=self.policy
        )
        ids = [m.get("id") for m in reply.get("data", []) if isinstance(m, dict)]
        if ids and self.model not in ids:
            return f"reachable, but the model “{self.model}” is not in its list of {len(ids)} models"
        return "reachable; the model is listed" if ids else "reachable"
