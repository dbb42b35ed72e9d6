"""Masking of provider error text before it is stored (`last_error`, plan notes) or shown.

A provider's error body is untrusted text: some echo the API key ("Incorrect API key provided:
sk-…"), the Authorization header, or other credentials. `redact` replaces the connection's own
key wherever it appears, then anything shaped like a credential (bearer tokens, `api_key=…`
pairs, well-known key prefixes, JWTs, long opaque tokens), collapses whitespace and caps the
length. It errs on the side of masking: an error message loses nothing a person needs by it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "••••"
DEFAULT_LIMIT = 500
# A key shorter than this is not masked by value (it would mask ordinary words); the patterns
# below still apply.
_MIN_SECRET = 6

_NAMED_VALUE = re.compile(
    r"""(?ix)
    \b(api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|id[_-]?token|token|secret|client[_-]?secret
       |password|passwd|pwd|authorization|auth|credentials?|session[_-]?id|cookie)
    (["']?\s*[:=]\s*["']?)
    (?!••••)([^\s"',;&})\]]{4,})
    """
)
_SCHEME_VALUE = re.compile(r"(?i)\b(bearer|basic|token)\s+(?!••••)[A-Za-z0-9._~+/=-]{8,}")
_SHAPES = [
    re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}"),  # OpenAI, Anthropic (sk-ant-…), Stripe-like
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),  # Google API key
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),  # Slack
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWT
    # Any long opaque token mixing letters and digits (hex keys, base64 secrets).
    re.compile(r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_+/=-]*\d)(?=[A-Za-z0-9_+/=-]*[A-Za-z])[A-Za-z0-9_+/=-]{24,}"),
]


def redact(text: str, *, secrets: Iterable[str] = (), limit: int = DEFAULT_LIMIT) -> str:
    """`text` with `secrets` and credential-like values replaced by ••••, on one line, at most
    `limit` characters (cut with …)."""
    out = str(text or "")
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True):
        out = out.replace(secret, MASK)
    out = _SCHEME_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", out)
    out = _NAMED_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", out)
    for shape in _SHAPES:
        out = shape.sub(MASK, out)
    out = " ".join(out.split())
    if len(out) > limit:
        out = out[: limit - 1].rstrip() + "…"
    return out
