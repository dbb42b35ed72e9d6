"""A global limit on request bodies, enforced before a body is read.

Two layers, one rule (`body_limit`):
- `RequestBodyLimit`, ASGI middleware around Django: a Content-Length over the limit is answered
  413 before the application runs; a streamed (chunked) body is counted as it arrives and cut off
  with 413 once it passes the limit. Any ASGI server gets this.
- `install_daphne_body_limit`, for daphne (command_site.web): daphne reads a whole body into
  memory before the application sees its first byte, so the same limit is applied in daphne's
  HTTP protocol, when the headers arrive and as chunks arrive.

The limit is COMMAND_REQUEST_MAX_BYTES everywhere except the two pages that take uploads (the
request form and the workspace zip import), which allow COMMAND_UPLOAD_REQUEST_MAX_BYTES. Bodies
under the limit are still never held whole in memory by Django: uploads go to temporary files
(settings.FILE_UPLOAD_HANDLERS).
"""

from __future__ import annotations

import io

# Pages whose forms carry file uploads.
UPLOAD_PATHS = frozenset({"/", "/workspaces/"})
# Used when Django's settings are not configured (daphne serving a bare ASGI app, e.g. the bench).
_FALLBACK_LIMIT = 10 * 1024 * 1024


def body_limit(path: str) -> int:
    """The largest request body (bytes) accepted for `path`."""
    from django.conf import settings

    if not settings.configured:
        return _FALLBACK_LIMIT
    if path.split("?", 1)[0] in UPLOAD_PATHS:
        return settings.COMMAND_UPLOAD_REQUEST_MAX_BYTES
    return settings.COMMAND_REQUEST_MAX_BYTES


def too_large_text(limit: int) -> bytes:
    megabytes = limit / (1024 * 1024)
    shown = f"{megabytes:.0f} MB" if megabytes >= 1 else f"{limit // 1024} KB"
    return f"The request is too large: Command accepts at most {shown} here. Nothing was stored.\n".encode()


async def _send_413(send, limit: int) -> None:
    body = too_large_text(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestBodyLimit:
    """ASGI middleware: refuse request bodies over `body_limit` with 413, before they are read."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        limit = body_limit(scope.get("path", ""))
        declared = [value for name, value in scope.get("headers", []) if name == b"content-length"]
        if declared:
            try:
                length = int(declared[0])
            except ValueError:
                length = limit + 1  # unreadable: not a body Command will take
            if length > limit or len(set(declared)) > 1:
                return await _send_413(send, limit)
        received = 0
        refused = False

        async def limited_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _send_413(send, limit)
                    # The application stops reading (Django raises RequestAborted) and answers nothing.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        return await self.application(scope, limited_receive, guarded_send)


def install_daphne_body_limit() -> None:
    """Make daphne refuse over-limit bodies as their headers or chunks arrive (see the module)."""
    from daphne import http_protocol
    from twisted.internet import reactor

    base = http_protocol.WebRequest
    if getattr(base, "command_body_limit", False):
        return

    class LimitedWebRequest(base):
        command_body_limit = True

        def gotLength(self, length):
            self._body_seen = 0
            self._body_refused = False
            self._body_limit = body_limit((self.channel._path or b"/").decode("latin-1"))
            if length is not None and length > self._body_limit:
                self._refuse_body()
                return
            super().gotLength(length)

        def handleContentChunk(self, data):
            if self._body_refused:
                return  # discarded while the connection closes
            self._body_seen += len(data)
            if self._body_seen > self._body_limit:
                self._refuse_body()
                return
            super().handleContentChunk(data)

        def process(self):
            if getattr(self, "_body_refused", False):
                return
            return super().process()

        def _refuse_body(self):
            if getattr(self, "content", None) is not None:
                self.content.close()
            self.content = io.BytesIO()
            self._body_refused = True
            body = too_large_text(self._body_limit)
            self.channel.transport.write(
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
            )
            # A short linger (what is still sent is discarded, not kept) lets the client read the
            # answer before the connection closes under it.
            reactor.callLater(1.0, self.channel.transport.loseConnection)

    http_protocol.WebRequest = LimitedWebRequest
