"""One HTTP exchange with a model provider: timeouts, bounded retries, no redirects.

Retries 429 and 5xx (and connection errors and timeouts) with exponential backoff plus jitter,
honouring Retry-After; never retries 400/401/403/404 (the same request would fail the same way).
The API key travels only in headers and never appears in an error message: every message is
masked (providers.redaction) with the request's own credentials and credential-like shapes, and
capped.
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from providers.endpoint_safety import UnsafeEndpoint, endpoint_pin
from providers.redaction import redact

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


class ProviderError(Exception):
    """The provider could not give a usable HTTP answer; `message` is safe to show the operator."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1):
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.attempts = attempts

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    initial_interval: float = 0.5
    backoff: float = 2.0
    max_interval: float = 8.0
    max_retry_after: float = 30.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        base = min(self.initial_interval * self.backoff ** (attempt - 1), self.max_interval)
        return base * (1 + random.uniform(-self.jitter, self.jitter))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


# Request headers that carry a credential: their values are masked wherever an error repeats them.
_CREDENTIAL_HEADERS = {"authorization", "x-api-key", "api-key", "proxy-authorization"}


def _credentials(headers: dict[str, str]) -> list[str]:
    values = []
    for name, value in headers.items():
        if name.lower() in _CREDENTIAL_HEADERS and value:
            values.append(value)
            values.append(value.split(" ", 1)[-1])  # the token without its "Bearer " scheme
    return values


def _describe(response: httpx.Response, secrets: list[str]) -> str:
    try:
        body = response.json()
        detail = body.get("error", body)
        if isinstance(detail, dict):
            detail = detail.get("message") or detail.get("type") or ""
        detail = str(detail)
    except (ValueError, AttributeError):
        detail = response.text
    detail = redact(detail, secrets=secrets, limit=200)
    return f"HTTP {response.status_code}" + (f": {detail}" if detail else "")


def request_json(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: dict | None = None,
    timeout: float = 60.0,
    policy: RetryPolicy | None = None,
) -> dict:
    """Send one request (retrying by policy) and return the decoded JSON body, or raise ProviderError."""
    return _exchange(method, url, headers=headers, body=body, timeout=timeout, policy=policy, on_event=None)


def request_events(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: dict,
    on_event: Callable[[str, str], None],
    timeout: float = 60.0,
    policy: RetryPolicy | None = None,
) -> dict | None:
    """Send one streaming request and feed each server-sent event to `on_event(event, data)`.

    Returns None once the stream ends, or the decoded JSON body when the server answered with
    plain JSON instead of a stream. Retries (by policy) happen only before the reply's first
    byte is read; a stream cut short afterwards is a ProviderError, never a silent partial reply.
    `timeout` is the longest wait for the next bytes, not for the whole stream."""
    return _exchange(method, url, headers=headers, body=body, timeout=timeout, policy=policy, on_event=on_event)


def _read_events(lines, on_event: Callable[[str, str], None]) -> None:
    event, data = "", []
    for line in lines:
        if not line:
            if data:
                on_event(event or "message", "\n".join(data))
            event, data = "", []
        elif line.startswith(":"):
            continue  # a comment (keep-alive)
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        on_event(event or "message", "\n".join(data))


# One client per process, server name and timeout, reused across turns: building an httpx.Client
# builds an SSL context (tens of milliseconds). Its connections go only to the pinned address in
# each request's URL, and keying by the server name means a connection negotiated for one name is
# never reused for another name on the same address. Redirects are never followed.
_CLIENTS: dict[tuple, httpx.Client] = {}
_CLIENTS_LOCK = threading.Lock()
_CLIENTS_MAX = 16


def _client(server_name: str, timeout: float) -> httpx.Client:
    key = (os.getpid(), server_name, timeout)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            for old in [k for k in _CLIENTS if k[0] != key[0]]:  # inherited across a fork: not ours to use
                del _CLIENTS[old]
            if len(_CLIENTS) >= _CLIENTS_MAX:
                _CLIENTS.pop(next(iter(_CLIENTS))).close()
            client = _CLIENTS[key] = httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), follow_redirects=False
            )
        return client


def _exchange(method, url, *, headers, body, timeout, policy, on_event) -> dict | None:
    policy = policy or RetryPolicy()
    try:
        # Checked again right before sending, and the connection goes to the checked address.
        pinned = endpoint_pin(url)
    except UnsafeEndpoint as exc:
        raise ProviderError(f"refused to send: {exc}")
    headers = {**headers, "Host": pinned.host_header}
    extensions = {"sni_hostname": pinned.server_name} if url.startswith("https:") else {}
    attempt = 0
    while True:
        attempt += 1
        retry_after = None
        try:
            with _client(pinned.server_name, timeout).stream(
                method, pinned.url, headers=headers, json=body, extensions=extensions, follow_redirects=False
            ) as response:
                streamed = on_event is not None and response.headers.get("content-type", "").startswith(
                    "text/event-stream"
                )
                if response.is_success and streamed:
                    try:
                        _read_events(response.iter_lines(), on_event)
                    except httpx.TimeoutException:
                        raise ProviderError(f"the stream stopped: nothing for {timeout:g} s", attempts=attempt)
                    except httpx.HTTPError as exc:
                        raise ProviderError(f"the stream was cut ({type(exc).__name__})", attempts=attempt)
                    return None
                response.read()
        except httpx.TimeoutException:
            error = ProviderError(f"no answer within {timeout:g} s", attempts=attempt)
        except httpx.HTTPError as exc:
            error = ProviderError(f"could not connect ({type(exc).__name__})", attempts=attempt)
        else:
            if response.is_success:
                if on_event is not None and response.content.lstrip()[:6] in (b"data: ", b"event:", b"data:{"):
                    # A stream mislabelled by a proxy (wrong Content-Type): read it as the stream it is.
                    _read_events(response.text.splitlines(), on_event)
                    return None
                try:
                    return response.json()
                except ValueError:
                    raise ProviderError("the reply was not JSON", status=response.status_code, attempts=attempt)
            if response.is_redirect:
                raise ProviderError(
                    f"HTTP {response.status_code} redirect refused: Command does not follow provider redirects",
                    status=response.status_code,
                    attempts=attempt,
                )
            error = ProviderError(
                _describe(response, _credentials(headers)), status=response.status_code, attempts=attempt
            )
            if response.status_code not in RETRYABLE_STATUS:
                raise error
            retry_after = _retry_after(response)
            if retry_after is not None and retry_after > policy.max_retry_after:
                error.message += f" (asked to wait {retry_after:g} s, longer than Command waits)"
                raise error
        if attempt >= policy.max_attempts:
            if attempt > 1:
                error.message += f" after {attempt} attempts"
            raise error
        time.sleep(policy.delay(attempt, retry_after))
