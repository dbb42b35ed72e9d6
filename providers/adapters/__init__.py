"""Model provider adapters: OpenAI-compatible and Anthropic clients behind the Planner interface,
and their tool-calling turns (`client.chat_turn`, in the neutral terms of adapters/turns.py)."""

from __future__ import annotations

from django.conf import settings

from providers.adapters.anthropic import AnthropicClient
from providers.adapters.openai import OpenAICompatibleClient
from providers.adapters.planner import ProviderOutcome, ProviderPlanner
from providers.adapters.transport import ProviderError, RetryPolicy
from providers.adapters.turns import ToolCall, ToolSpec, ToolsUnsupported, TurnReply, Usage
from providers.crypto import secret_decrypt

__all__ = [
    "ProviderError",
    "ProviderOutcome",
    "ProviderPlanner",
    "RetryPolicy",
    "ToolCall",
    "ToolSpec",
    "ToolsUnsupported",
    "TurnReply",
    "Usage",
    "client_for",
    "planner_for",
]


def client_for(connection, *, timeout: float | None = None, policy: RetryPolicy | None = None):
    """An HTTP client for `connection`, with its key decrypted only in memory (SecretError if it cannot be)."""
    api_key = secret_decrypt(connection.api_key_encrypted) if connection.api_key_encrypted else ""
    cls = AnthropicClient if connection.kind == "anthropic" else OpenAICompatibleClient
    return cls(
        base_url=connection.base_url,
        model=connection.model,
        api_key=api_key,
        timeout=timeout if timeout is not None else settings.COMMAND_PROVIDER_TIMEOUT,
        policy=policy or RetryPolicy(),
    )


def planner_for(connection, **kwargs) -> ProviderPlanner:
    return ProviderPlanner(client=client_for(connection, **kwargs), label=connection.planner_label)
