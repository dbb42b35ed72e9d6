"""A real HTTP server on 127.0.0.1 that speaks a provider's wire format from a script of replies.

Used by the adapter, service and planning tests instead of any mock of the HTTP client.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from providers.planner import BuiltinPlanner, PlanningRequest


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: dict | None


def good_result(prompt: str = "a logo for Acme") -> dict:
    return BuiltinPlanner().plan(PlanningRequest(prompt=prompt)).model_dump(mode="json")


def openai_reply(content: str) -> Reply:
    return Reply(body={"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})


def anthropic_tool_reply(data) -> Reply:
    return Reply(
        body={"id": "msg", "content": [{"type": "tool_use", "id": "t1", "name": "submit_plan", "input": data}]}
    )


def anthropic_text_reply(text: str) -> Reply:
    return Reply(body={"id": "msg", "content": [{"type": "text", "text": text}]})


def plan_reply(kind: str, data) -> Reply:
    """A reply carrying `data` (a dict, or a string of not-JSON) in the given wire format."""
    if kind == "anthropic":
        return anthropic_tool_reply(data) if isinstance(data, dict) else anthropic_text_reply(data)
    return openai_reply(data if isinstance(data, str) else json.dumps(data))


class ProviderServer:
    def __init__(self):
        self.replies: deque[Reply] = deque()
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                server.seen.append(
                    Seen(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        json.loads(raw) if raw else None,
                    )
                )
                reply = (
                    server.replies.popleft() if server.replies else Reply(status=500, body={"error": "script empty"})
                )
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
