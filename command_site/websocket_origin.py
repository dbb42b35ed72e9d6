"""Exact origin checks for websockets: cross-site websocket hijacking stops here.

A browser sends its cookies with a websocket handshake to any page that asks, so the socket must
accept only pages of this very site. The site's own origin is the handshake's: its scheme (wss or,
behind a TLS proxy named by SECURE_PROXY_SSL_HEADER, https), and its Host header, which must be
one of ALLOWED_HOSTS. Exact CSRF_TRUSTED_ORIGINS entries are accepted too (a proxy that rewrites
Host). Scheme, host and port must all match: a page on http://127.0.0.1:8299 is not the server
on :8000, although both are "127.0.0.1". Channels' AllowedHostsOriginValidator compares host
names only.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalised(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, or None when it is not a plain http(s) origin."""
    try:
        parts = urlsplit(origin.strip())
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password or parts.path not in ("", "/"):
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def _header(scope, name: bytes) -> str | None:
    values = [value for key, value in scope.get("headers", []) if key == name]
    if len(values) != 1:  # absent, or sent twice to confuse a check
        return None
    try:
        return values[0].decode("ascii")
    except UnicodeDecodeError:
        return None


def _secure(scope) -> bool:
    if scope.get("scheme") == "wss":
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name = proxy[0].removeprefix("HTTP_").lower().replace("_", "-").encode()
        forwarded = _header(scope, name)
        return forwarded is not None and forwarded.split(",")[0].strip() == proxy[1]
    return False


def site_origins(scope) -> set[tuple[str, str, int]]:
    """The origins of this site as seen by this handshake (empty when its Host is not ours)."""
    origins = {o for o in (_normalised(t) for t in settings.CSRF_TRUSTED_ORIGINS if "*" not in t) if o}
    host = _header(scope, b"host")
    if host:
        domain, _ = split_domain_port(host)
        if domain and validate_host(domain, settings.ALLOWED_HOSTS):
            own = _normalised(f"{'https' if _secure(scope) else 'http'}://{host}")
            if own:
                origins.add(own)
    return origins


def origin_allowed(scope) -> bool:
    origin = _header(scope, b"origin")
    parsed = _normalised(origin) if origin else None
    return parsed is not None and parsed in site_origins(scope)


class SameOriginValidator:
    """ASGI middleware: refuse (HTTP 403, before accepting) a websocket whose Origin is not exactly
    one of this site's origins, or that has none."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
