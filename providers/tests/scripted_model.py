"""A scripted model: a real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions or
the Anthropic messages format, tool calls included, and answers from a script.

The script is a callable (or a list of replies and callables, used in order) that receives the
conversation the client sent, parsed back into neutral messages, and returns the next reply:

    def script(convo):
        if convo.turn == 1:
            return call("read_file", path="index.html")
        page = convo.last_result("read_file")      # what the client really sent back
        return call("edit_file", path="index.html", find="</main>", replace="<section>…</section></main>")

    with ScriptedModel("anthropic", script) as model:
        client = model.client()
        ...
    assert model.count == 2                        # provider calls, one per turn

Replies: say(text), call(name, **arguments), several joined with reply(…, usage=(in, out)) or `+`;
call_raw(name, text) sends arguments that are not JSON; Raw(...) sends any body or bytes as is;
transcript([...]) turns a recorded-style list of turns (JSON) into replies.
The server is strict like the real ones: a tool result that answers no call, or a call left
without a result, gets HTTP 400 and is kept in `wire_errors`. `tools_unsupported=True` answers
every request that offers tools with the format's "tools not supported" error.
Streaming (`"stream": true`) is answered with server-sent events in the format's own shape.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from providers.adapters.transport import RetryPolicy
from providers.adapters.turns import ERROR_PREFIX, ToolSpec

FORMATS = ("openai", "anthropic")


@dataclass
class Turn:
    """One scripted reply: text, tool calls (id, name, arguments dict or raw text), usage, stop reason."""

    text: str = ""
    calls: list[tuple[str, str, dict | str]] = field(default_factory=list)
    usage: tuple[int, int] | None = None
    stop_reason: str = ""
    delay: float = 0.0  # seconds the server waits before answering (a turn in flight, for kill tests)

    def __add__(self, other: Turn) -> Turn:
        return Turn(
            text=self.text + other.text,
            calls=[*self.calls, *other.calls],
            usage=other.usage or self.usage,
            stop_reason=other.stop_reason or self.stop_reason,
            delay=max(self.delay, other.delay),
        )


@dataclass
class Raw:
    """A reply sent exactly as given (malformed replies, odd statuses)."""

    status: int = 200
    body: object = None
    raw: bytes | None = None
    content_type: str = "application/json"
    delay: float = 0.0


def say(text: str) -> Turn:
    return Turn(text=text)


def call(name: str, /, **arguments) -> Turn:
    """A tool call with these arguments; its id is made up per turn (call_with_id to choose it)."""
    return Turn(calls=[("", name, arguments)])


def call_with_id(call_id: str, name: str, arguments: dict) -> Turn:
    return Turn(calls=[(call_id, name, arguments)])


def call_raw(name: str, arguments_text: str) -> Turn:
    """A tool call whose arguments are sent as this text (e.g. not JSON)."""
    return Turn(calls=[("", name, arguments_text)])


def reply(*parts: Turn, usage: tuple[int, int] | None = None, stop_reason: str = "", delay: float = 0.0) -> Turn:
    """Several parts (text, calls) as one reply, with the usage it reports and a delay before it."""
    turn = Turn()
    for part in parts:
        turn = turn + part
    return Turn(
        text=turn.text,
        calls=turn.calls,
        usage=usage or turn.usage,
        stop_reason=stop_reason or turn.stop_reason,
        delay=delay or turn.delay,
    )


def transcript(items: list[dict]) -> list[Turn]:
    """Replies from a recorded-style transcript (e.g. loaded from JSON), one item per turn:
    {"say": "text", "calls": [{"name": "read_file", "arguments": {...}}], "usage": [in, out]}."""
    turns = []
    for n, item in enumerate(items, 1):
        unknown = set(item) - {"say", "calls", "usage", "stop_reason"}
        if unknown:
            raise ValueError(f"transcript turn {n}: unknown keys {sorted(unknown)}")
        turn = say(item.get("say", ""))
        for c in item.get("calls", []):
            turn = turn + Turn(calls=[(c.get("id", ""), c["name"], c.get("arguments", {}))])
        usage = tuple(item["usage"]) if "usage" in item else None
        turns.append(reply(turn, usage=usage, stop_reason=item.get("stop_reason", "")))
    return turns


@dataclass
class Conversation:
    """One request as the script sees it: the neutral messages, the tools offered, its turn number."""

    turn: int
    system: str
    messages: list[dict]
    tools: list[ToolSpec]
    stream: bool
    body: dict

    def results(self, name: str | None = None) -> list[dict]:
        return [m for m in self.messages if m["role"] == "tool" and (name is None or m["name"] == name)]

    def last_result(self, name: str | None = None) -> str:
        """The content of the latest tool result (of tool `name`); AssertionError when there is none."""
        found = self.results(name)
        assert found, f"turn {self.turn}: no tool result{f' from {name}' if name else ''} was sent"
        return found[-1]["content"]

    @property
    def tool_names(self) -> list[str]:
        return [t.name for t in self.tools]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: dict | None


class WireError(Exception):
    """The request broke a rule the real provider enforces (answered with HTTP 400)."""


# --- parsing requests back into neutral messages -------------------------------------------------


def _openai_conversation(body: dict) -> tuple[str, list[dict], list[ToolSpec]]:
    system, messages, names, pending = "", [], {}, set()
    for i, m in enumerate(body.get("messages") or []):
        role = m.get("role")
        if role in {"system", "developer"}:
            system += m.get("content") or ""
            continue
        if pending and role != "tool":
            raise WireError(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: {sorted(pending)}"
            )
        if role == "user":
            messages.append({"role": "user", "content": m.get("content")})
        elif role == "assistant":
            calls = []
            for c in m.get("tool_calls") or []:
                if c.get("type") != "function":
                    raise WireError(f"messages[{i}].tool_calls: type must be 'function'")
                arguments = json.loads(c["function"]["arguments"])
                calls.append({"id": c["id"], "name": c["function"]["name"], "arguments": arguments})
                names[c["id"]] = c["function"]["name"]
                pending.add(c["id"])
            message = {"role": "assistant", "content": m.get("content") or ""}
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
        elif role == "tool":
            call_id = m.get("tool_call_id")
            if call_id not in pending:
                raise WireError(
                    f"Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    f"with 'tool_calls' (tool_call_id {call_id!r})."
                )
            pending.discard(call_id)
            content = m.get("content")
            if not isinstance(content, str):
                raise WireError(f"messages[{i}].content: expected a string")
            is_error = content.startswith(ERROR_PREFIX)
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call_id,
                    "name": names[call_id],
                    "content": content.removeprefix(ERROR_PREFIX),
                    "is_error": is_error,
                }
            )
        else:
            raise WireError(f"messages[{i}].role: unknown role {role!r}")
    if pending:
        raise WireError(f"tool_call_ids without response messages: {sorted(pending)}")
    tools = []
    for t in body.get("tools") or []:
        if t.get("type") != "function":
            raise WireError("tools[].type must be 'function'")
        f = t["function"]
        tools.append(ToolSpec(name=f["name"], description=f.get("description", ""), parameters=f.get("parameters")))
    return system, messages, tools


def _anthropic_conversation(body: dict) -> tuple[str, list[dict], list[ToolSpec]]:
    system = body.get("system") or ""
    if isinstance(system, list):
        system = "".join(b.get("text", "") for b in system)
    messages, names, pending = [], {}, set()
    previous_role = None
    for i, m in enumerate(body.get("messages") or []):
        role, content = m.get("role"), m.get("content")
        if role == previous_role:
            raise WireError(f"messages: roles must alternate between 'user' and 'assistant' (messages.{i})")
        previous_role = role
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list):
            raise WireError(f"messages.{i}.content: expected a string or a list of blocks")
        if role == "assistant":
            if pending:
                raise WireError(f"messages.{i}: tool_use ids were found without tool_result blocks: {sorted(pending)}")
            text, calls = "", []
            for b in blocks:
                if b["type"] == "text":
                    text += b["text"]
                elif b["type"] == "tool_use":
                    if not isinstance(b.get("input"), dict):
                        raise WireError(f"messages.{i}: tool_use.input must be an object")
                    calls.append({"id": b["id"], "name": b["name"], "arguments": b["input"]})
                    names[b["id"]] = b["name"]
                    pending.add(b["id"])
                else:
                    raise WireError(f"messages.{i}: unexpected block type {b['type']!r} from the assistant")
            message = {"role": "assistant", "content": text}
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
        elif role == "user":
            seen_text = False
            for b in blocks:
                if b["type"] == "tool_result":
                    if seen_text:
                        raise WireError(f"messages.{i}: tool_result blocks must come first in the user message")
                    call_id = b.get("tool_use_id")
                    if call_id not in pending:
                        raise WireError(
                            f"messages.{i}: unexpected tool_use_id found in tool_result blocks: {call_id}. "
                            "Each tool_result block must have a corresponding tool_use block in the previous message."
                        )
                    pending.discard(call_id)
                    result = b.get("content", "")
                    if isinstance(result, list):
                        result = "".join(x.get("text", "") for x in result)
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": call_id,
                            "name": names[call_id],
                            "content": result,
                            "is_error": bool(b.get("is_error")),
                        }
                    )
                elif b["type"] == "text":
                    seen_text = True
                    messages.append({"role": "user", "content": b["text"]})
                else:
                    raise WireError(f"messages.{i}: unexpected block type {b['type']!r} from the user")
            if pending:
                raise WireError(
                    f"messages.{i}: tool_use ids were found without tool_result blocks immediately after: "
                    f"{sorted(pending)}. Each tool_use block must have a corresponding tool_result block in the next "
                    "message."
                )
        else:
            raise WireError(f"messages.{i}.role: unexpected role {role!r}")
    tools = [
        ToolSpec(name=t["name"], description=t.get("description", ""), parameters=t.get("input_schema"))
        for t in body.get("tools") or []
    ]
    return system, messages, tools


# --- building replies in each format ------------------------------------------------------------


def _estimate_usage(body: dict, turn: Turn) -> tuple[int, int]:
    out = len(turn.text) + sum(len(json.dumps(a) if isinstance(a, dict) else a) for _, _, a in turn.calls)
    return max(1, len(json.dumps(body)) // 4), max(1, out // 4)


def _openai_reply(turn: Turn, number: int, usage: tuple[int, int]) -> dict:
    message: dict = {"role": "assistant", "content": turn.text or None}
    if turn.calls:
        message["tool_calls"] = [
            {
                "id": cid or f"call_{number}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args) if isinstance(args, dict) else args},
            }
            for i, (cid, name, args) in enumerate(turn.calls)
        ]
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "model": "scripted",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": turn.stop_reason or ("tool_calls" if turn.calls else "stop"),
            }
        ],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


def _anthropic_reply(turn: Turn, number: int, usage: tuple[int, int]) -> dict:
    content: list[dict] = [{"type": "text", "text": turn.text}] if turn.text else []
    for i, (cid, name, args) in enumerate(turn.calls):
        content.append({"type": "tool_use", "id": cid or f"toolu_{number}_{i}", "name": name, "input": args})
    return {
        "id": f"msg_{number}",
        "type": "message",
        "role": "assistant",
        "model": "scripted",
        "content": content,
        "stop_reason": turn.stop_reason or ("tool_use" if turn.calls else "end_turn"),
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def _pieces(text: str, size: int = 7) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def _openai_events(reply: dict) -> Iterator[tuple[str, dict | str]]:
    base = {"id": reply["id"], "object": "chat.completion.chunk", "model": "scripted"}
    choice = reply["choices"][0]
    message = choice["message"]
    yield "", {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    for piece in _pieces(message["content"] or ""):
        yield "", {**base, "choices": [{"index": 0, "delta": {"content": piece}}]}
    for i, c in enumerate(message.get("tool_calls") or []):
        head = {"index": i, "id": c["id"], "type": "function", "function": {"name": c["function"]["name"]}}
        yield "", {**base, "choices": [{"index": 0, "delta": {"tool_calls": [head]}}]}
        for piece in _pieces(c["function"]["arguments"], 11):
            part = {"index": i, "function": {"arguments": piece}}
            yield "", {**base, "choices": [{"index": 0, "delta": {"tool_calls": [part]}}]}
    yield "", {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}
    yield "", {**base, "choices": [], "usage": reply["usage"]}
    yield "", "[DONE]"


def _anthropic_events(reply: dict) -> Iterator[tuple[str, dict | str]]:
    start = {**reply, "content": [], "stop_reason": None, "usage": {**reply["usage"], "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}
    for i, block in enumerate(reply["content"]):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}},
            )
            yield "ping", {"type": "ping"}
            for piece in _pieces(block["text"]):
                delta = {"type": "text_delta", "text": piece}
                yield "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
        else:
            head = {**block, "input": {}}
            yield "content_block_start", {"type": "content_block_start", "index": i, "content_block": head}
            arguments = json.dumps(block["input"]) if isinstance(block["input"], dict) else block["input"]
            for piece in _pieces(arguments, 11):
                delta = {"type": "input_json_delta", "partial_json": piece}
                yield "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": i}
    delta = {"stop_reason": reply["stop_reason"], "stop_sequence": None}
    yield (
        "message_delta",
        {"type": "message_delta", "delta": delta, "usage": {"output_tokens": reply["usage"]["output_tokens"]}},
    )
    yield "message_stop", {"type": "message_stop"}


UNSUPPORTED = {
    "openai": {
        "error": {"message": "registry.ollama.ai/library/gemma2:2b does not support tools", "type": "api_error"}
    },
    "anthropic": {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "tools: this model does not support tool use"},
    },
}


class ScriptedModel:
    """The server. `requests` keeps every request; `conversations` each turn as the script saw it."""

    def __init__(
        self,
        fmt: str,
        script: Callable[[Conversation], Turn | Raw] | list,
        *,
        tools_unsupported: bool = False,
        model: str = "scripted-model",
    ):
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, not {fmt!r}")
        self.fmt, self.model, self.tools_unsupported = fmt, model, tools_unsupported
        self._script = script if callable(script) else list(script)
        self.requests: list[Seen] = []
        self.conversations: list[Conversation] = []
        self.wire_errors: list[str] = []
        self.script_errors: list[BaseException] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server._record(self, None)
                self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                with server._lock:  # one turn at a time: scripts keep state
                    server._record(self, body)
                    status, payload, events, delay = server._answer(self.path, body)
                if delay:
                    time.sleep(delay)
                try:
                    if events is None:
                        self._send(status, payload)
                    else:
                        self._stream(events)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout, a killed worker): the call is still recorded

            def _send(self, status, payload):
                if isinstance(payload, Raw):
                    data = payload.raw if payload.raw is not None else json.dumps(payload.body).encode()
                    content_type = payload.content_type
                else:
                    data, content_type = json.dumps(payload).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, events):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                for event, data in events:
                    line = data if isinstance(data, str) else json.dumps(data)
                    frame = (f"event: {event}\n" if event else "") + f"data: {line}\n\n"
                    self.wfile.write(frame.encode())
                    self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # --- what tests use ---

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        """The base URL a provider connection of this format would be saved with."""
        return self.url + "/v1" if self.fmt == "openai" else self.url

    @property
    def kind(self) -> str:
        """The ProviderConnection.kind of this format."""
        return "openai_compatible" if self.fmt == "openai" else "anthropic"

    @property
    def count(self) -> int:
        """Provider calls made: POSTs to the turn endpoint (whatever their outcome)."""
        return sum(1 for r in self.requests if r.method == "POST")

    def client(self, *, timeout: float = 5.0, policy: RetryPolicy | None = None):
        from providers.adapters.anthropic import AnthropicClient
        from providers.adapters.openai import OpenAICompatibleClient

        cls = AnthropicClient if self.fmt == "anthropic" else OpenAICompatibleClient
        return cls(
            base_url=self.base_url,
            model=self.model,
            api_key="sk-scripted",
            timeout=timeout,
            policy=policy or RetryPolicy(max_attempts=1),
        )

    def connection(self, owner, *, label: str = "Scripted model", make_default: bool = True):
        """A ProviderConnection row of `owner` pointing at this server (needs the database)."""
        from providers.services import provider_connection_create

        return provider_connection_create(
            owner=owner,
            kind=self.kind,
            label=label,
            base_url=self.base_url,
            model=self.model,
            api_key="sk-scripted-key-0000",
            make_default=make_default,
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- serving ---

    def _record(self, handler, body) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        self.requests.append(Seen(handler.command, handler.path, headers, body))

    def _next(self, convo: Conversation) -> Turn | Raw:
        if callable(self._script):
            return self._script(convo)
        if not self._script:
            raise AssertionError(f"turn {convo.turn}: the script has no more replies")
        step = self._script.pop(0)
        return step(convo) if callable(step) else step

    def _answer(self, path: str, body) -> tuple[int, object, Iterator | None, float]:
        """(status, payload, server-sent events or None, seconds to wait before answering)."""
        expected = "/chat/completions" if self.fmt == "openai" else "/v1/messages"
        if not path.endswith(expected):
            return 404, {"error": {"message": f"no such endpoint {path} (this server speaks {self.fmt})"}}, None, 0.0
        if not isinstance(body, dict) or not body.get("model"):
            return 400, {"error": {"message": "model: field required"}}, None, 0.0
        if self.fmt == "anthropic" and not isinstance(body.get("max_tokens"), int):
            error = {"type": "invalid_request_error", "message": "max_tokens: Field required"}
            return 400, {"type": "error", "error": error}, None, 0.0
        if self.tools_unsupported and body.get("tools"):
            return 400, UNSUPPORTED[self.fmt], None, 0.0
        parse = _openai_conversation if self.fmt == "openai" else _anthropic_conversation
        try:
            system, messages, tools = parse(body)
        except (WireError, KeyError, TypeError, ValueError) as exc:
            message = str(exc) if isinstance(exc, WireError) else f"malformed request ({type(exc).__name__}: {exc})"
            self.wire_errors.append(message)
            return 400, {"type": "error", "error": {"type": "invalid_request_error", "message": message}}, None, 0.0
        convo = Conversation(
            turn=len(self.conversations) + 1,
            system=system,
            messages=messages,
            tools=tools,
            stream=bool(body.get("stream")),
            body=body,
        )
        self.conversations.append(convo)
        try:
            turn = self._next(convo)
        except BaseException as exc:  # a failing script must fail its test, not hang the client
            self.script_errors.append(exc)
            return 400, {"error": {"message": f"the script failed: {exc}"}}, None, 0.0
        if isinstance(turn, Raw):
            return turn.status, turn, None, turn.delay
        usage = turn.usage or _estimate_usage(body, turn)
        build = _openai_reply if self.fmt == "openai" else _anthropic_reply
        payload = build(turn, convo.turn, usage)
        if not convo.stream:
            return 200, payload, None, turn.delay
        events = (_openai_events if self.fmt == "openai" else _anthropic_events)(payload)
        return 200, None, events, turn.delay

    def raise_script_errors(self) -> None:
        if self.script_errors:
            raise self.script_errors[0]


@pytest.fixture
def scripted_model(settings):
    """Start scripted models: `scripted_model("openai", script)`; stopped after the test, and a
    script that failed (an assertion inside it included) fails the test."""
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    servers: list[ScriptedModel] = []

    def start(fmt: str, script, **kwargs) -> ScriptedModel:
        server = ScriptedModel(fmt, script, **kwargs).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
    for server in servers:
        server.raise_script_errors()
