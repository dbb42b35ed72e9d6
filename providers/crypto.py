"""Provider secrets at rest: MultiFernet over settings.COMMAND_SECRET_KEYS.

The first key encrypts; every key decrypts, so keys can be rotated (`manage.py
rotate_provider_secrets`). A token no key can open is an error, never passed through as if it
were the secret.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretError(Exception):
    """A provider secret cannot be stored or read with the configured keys."""


def _fernet() -> MultiFernet:
    keys = list(settings.COMMAND_SECRET_KEYS)
    if not keys:
        raise SecretError("COMMAND_SECRET_KEYS is not set, so provider keys cannot be stored or read.")
    try:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])
    except (ValueError, TypeError):
        raise SecretError("COMMAND_SECRET_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes).")


def secret_encrypt(plain: str) -> str:
    if not plain:
        raise SecretError("An empty secret cannot be stored.")
    return _fernet().encrypt(plain.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretError(
            "A stored provider key could not be decrypted with any key in COMMAND_SECRET_KEYS. "
            "Restore the key it was encrypted with, or enter the provider key again."
        )


def secret_rotate(token: str) -> str:
    """Re-encrypt `token` with the newest (first) key; raises SecretError when no key opens it."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretError("A stored provider key could not be decrypted with any key in COMMAND_SECRET_KEYS.")


def secret_mask(last4: str) -> str:
    return f"••••{last4}" if last4 else "no key"
