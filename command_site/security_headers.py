"""Headers every page carries: a Content-Security-Policy, a Permissions-Policy, and no caching of
signed-in pages.

The policy allows scripts and styles from Command's own origin only — no inline code, no eval:
the templates have no inline scripts or styles, and htmx runs with `allowEval: false` (see
base.html; the small run-time values it used to evaluate are supplied by static/js/command.js).
Responses that set their own policy (site previews, asset files: sandboxed) keep it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "ambient-light-sensor",
        "autoplay",
        "bluetooth",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)

_SIGN_IN_ORIGINS = {"github": "https://github.com", "google": "https://accounts.google.com"}


def _form_targets() -> str:
    """'self' and the sign-in providers a login form's redirect goes to (Chrome applies
    form-action to the redirects after a form post)."""
    targets = ["'self'"]
    for name, config in settings.SOCIALACCOUNT_PROVIDERS.items():
        if name in _SIGN_IN_ORIGINS:
            targets.append(_SIGN_IN_ORIGINS[name])
        for app in config.get("APPS", []):
            server = app.get("settings", {}).get("server_url")
            if server:
                parts = urlsplit(server)
                targets.append(f"{parts.scheme}://{parts.netloc}")
    return " ".join(dict.fromkeys(targets))


def content_security_policy(request, response) -> str:
    try:
        host = request.get_host()
    except Exception:  # DisallowedHost: that response is an error page anyway
        host = ""
    socket = f" {'wss' if request.is_secure() else 'ws'}://{host}" if host else ""
    framing = "'none'" if response.get("X-Frame-Options", "").upper() == "DENY" else "'self'"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            f"connect-src 'self'{socket}",
            "frame-src 'self'",
            "media-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            f"form-action {_form_targets()}",
            f"frame-ancestors {framing}",
        ]
    )


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(request, response)
        if "Permissions-Policy" not in response:
            response["Permissions-Policy"] = PERMISSIONS_POLICY
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            # A signed-in page holds the owner's data: no copy in any cache, nor in the back button.
            response["Cache-Control"] = "no-store"
        return response
