"""A scripted model on 127.0.0.1 that speaks the real OpenAI chat-completions and Anthropic
messages formats, with tools, for the model-driven run tests.

The script is a function of the conversation as the server *received* it (neutral messages:
user / assistant with tool_calls / tool), so a script can compute its next action from the file
text or check output it was sent: a test fails when observations stop flowing. Every request is
recorded (path, body, conversation).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Call:
    name: str
    arguments: dict


@dataclass
class Turn:
    text: str = ""
    calls: list[Call] = field(default_factory=list)
    status: int = 200
    error: str = ""


def call(name: str, **arguments) -> Call:
    return Call(name, arguments)


def say(text: str, *calls: Call) -> Turn:
    return Turn(text, list(calls))


def act(*calls: Call, text: str = "") -> Turn:
    return Turn(text, list(calls))


def no_tools() -> Turn:
    """What Ollama answers for a model without tool support."""
    return Turn(status=400, error="registry.ollama.ai/library/tiny:latest does not support tools")


@dataclass
class Received:
    path: str
    body: dict
    conversation: list[dict]

    @property
    def with_tools(self) -> bool:
        return bool(self.body.get("tools"))


def _neutral_openai(body: dict) -> list[dict]:
    out = []
    for m in body.get("messages", []):
        role = m.get("role")
        if role == "system":
            continue
        if role == "assistant":
            calls = [
                {"id": c["id"], "name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                for c in m.get("tool_calls") or []
            ]
            out.append({"role": "assistant", "content": m.get("content") or "", "tool_calls": calls})
        elif role == "tool":
            out.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]})
        else:
            out.append({"role": "user", "content": m["content"]})
    return out


def _neutral_anthropic(body: dict) -> list[dict]:
    out = []
    for m in body.get("messages", []):
        blocks = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
        if m["role"] == "assistant":
            text = "".join(b.get("text", "") for b in blocks if b["type"] == "text")
            calls = [
                {"id": b["id"], "name": b["name"], "arguments": b["input"]} for b in blocks if b["type"] == "tool_use"
            ]
            out.append({"role": "assistant", "content": text, "tool_calls": calls})
            continue
        for b in blocks:
            if b["type"] == "tool_result":
                content = b["content"]
                if isinstance(content, list):
                    content = "".join(x.get("text", "") for x in content)
                out.append(
                    {
                        "role": "tool",
                        "tool_call_id": b["tool_use_id"],
                        "content": content,
                        "is_error": b.get("is_error"),
                    }
                )
            elif b["type"] == "text":
                out.append({"role": "user", "content": b["text"]})
    return out


class ScriptedModel:
    """`kind` is "openai" or "anthropic"; `script(received: Received) -> Turn`."""

    def __init__(self, kind: str, script):
        self.kind, self.script = kind, script
        self.received: list[Received] = []
        self._ids = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.loads(raw or b"{}")
                neutral = _neutral_anthropic(body) if server.kind == "anthropic" else _neutral_openai(body)
                received = Received(self.path, body, neutral)
                server.received.append(received)
                try:
                    turn = server.script(received)
                except Exception as exc:  # noqa: BLE001 - a broken script answers 500, visibly
                    turn = Turn(status=500, error=f"script raised {type(exc).__name__}: {exc}")
                payload = json.dumps(server._wire(turn, len(raw))).encode()
                self.send_response(turn.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _id(self) -> str:
        self._ids += 1
        return f"{'toolu' if self.kind == 'anthropic' else 'call'}_{self._ids:03d}"

    def _wire(self, turn: Turn, request_bytes: int) -> dict:
        if turn.status != 200:
            return {"error": {"type": "invalid_request_error", "message": turn.error}}
        usage_in, usage_out = max(1, request_bytes // 4), 20 + 10 * len(turn.calls)
        if self.kind == "anthropic":
            blocks = ([{"type": "text", "text": turn.text}] if turn.text else []) + [
                {"type": "tool_use", "id": self._id(), "name": c.name, "input": c.arguments} for c in turn.calls
            ]
            return {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": blocks,
                "stop_reason": "tool_use" if turn.calls else "end_turn",
                "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
            }
        message = {"role": "assistant", "content": turn.text or None}
        if turn.calls:
            message["tool_calls"] = [
                {
                    "id": self._id(),
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in turn.calls
            ]
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if turn.calls else "stop"}],
            "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out, "total_tokens": usage_in + usage_out},
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}" + ("" if self.kind == "anthropic" else "/v1")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- Reading what the model was sent ----------------------------------------------------------------

_NUMBERED = re.compile(r"^\s*(\d+)\| ?(.*)$")


def last_tool_results(received: Received) -> list[str]:
    """The tool results sent in this request after the last assistant message."""
    results: list[str] = []
    for m in received.conversation:
        if m["role"] == "assistant":
            results = []
        elif m["role"] == "tool":
            results.append(m["content"])
    return results


def file_lines(observation: str) -> list[str]:
    """The file's lines from a read_file result as the model received it (numbers stripped)."""
    return [m.group(2) for line in observation.splitlines() if (m := _NUMBERED.match(line))]


def turn_number(received: Received) -> int:
    return 1 + sum(1 for m in received.conversation if m["role"] == "assistant")
