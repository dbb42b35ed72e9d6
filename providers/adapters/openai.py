"""The OpenAI chat-completions wire format (OpenAI, Ollama, vLLM, LM Studio, OpenRouter …)."""

from __future__ import annotations

from providers.adapters.transport import ProviderError, RetryPolicy, request_json


class OpenAICompatibleClient:
    def __init__(self, *, base_url: str, model: str, api_key: str, timeout: float, policy: RetryPolicy):
        self.base_url, self.model, self.timeout, self.policy = base_url.rstrip("/"), model, timeout, policy
        self._headers = {"Content-Type": "application/json"}
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

    def check(self) -> str:
        """A real request (GET /models): returns a short description of what answered."""
        reply = request_json(
            "GET", f"{self.base_url}/models", headers=self._headers, timeout=self.timeout, policy=self.policy
        )
        ids = [m.get("id") for m in reply.get("data", []) if isinstance(m, dict)]
        if ids and self.model not in ids:
            return f"reachable, but the model “{self.model}” is not in its list of {len(ids)} models"
        return "reachable; the model is listed" if ids else "reachable"
