"""Writes for providers: connections and their secrets (see STYLE.md: <entity>_<verb>, one transaction each)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from providers.adapters import ProviderError, RetryPolicy, client_for
from providers.crypto import SecretError, secret_decrypt, secret_encrypt, secret_rotate
from providers.endpoint_safety import UnsafeEndpoint, endpoint_check
from providers.models import ProviderConnection
from providers.redaction import redact


class ProviderRefused(Exception):
    """A provider change Command will not make; the message says why, in the product's words."""


@transaction.atomic
def provider_connection_create(
    *,
    owner,
    kind: str,
    label: str,
    base_url: str,
    model: str,
    api_key: str = "",
    make_default: bool = False,
    input_price_per_mtok=None,
    output_price_per_mtok=None,
) -> ProviderConnection:
    """Store a new connection with its key encrypted; it starts as "not checked yet".

    Refuses an unsafe base URL (providers.endpoint_safety) and an Anthropic connection without a
    key. The first connection a user adds becomes their default.
    """
    if kind not in ProviderConnection.Kind.values:
        raise ProviderRefused(f"Unknown provider kind “{kind}”.")
    base_url = endpoint_check(base_url)
    api_key = (api_key or "").strip()
    if kind == ProviderConnection.Kind.ANTHROPIC and not api_key:
        raise ProviderRefused("Anthropic needs an API key.")
    has_default = ProviderConnection.objects.filter(owner=owner, is_default=True).exists()
    if make_default and has_default:
        ProviderConnection.objects.filter(owner=owner, is_default=True).update(is_default=False)
    return ProviderConnection.objects.create(
        owner=owner,
        kind=kind,
        label=label.strip(),
        base_url=base_url,
        model=model.strip(),
        api_key_encrypted=secret_encrypt(api_key) if api_key else "",
        api_key_last4=api_key[-4:] if api_key else "",
        is_default=make_default or not has_default,
        input_price_per_mtok=input_price_per_mtok,
        output_price_per_mtok=output_price_per_mtok,
    )


def provider_connection_set_prices(*, connection: ProviderConnection, input_price_per_mtok, output_price_per_mtok):
    """Set (or, with None for both, clear) a connection's prices per million tokens."""
    if (input_price_per_mtok is None) != (output_price_per_mtok is None):
        raise ProviderRefused("Give both prices (input and output), or neither.")
    if any(p is not None and p < 0 for p in (input_price_per_mtok, output_price_per_mtok)):
        raise ProviderRefused("A price cannot be negative.")
    connection.input_price_per_mtok = input_price_per_mtok
    connection.output_price_per_mtok = output_price_per_mtok
    connection.save(update_fields=["input_price_per_mtok", "output_price_per_mtok", "updated_at"])
    return connection


@transaction.atomic
def provider_connection_set_default(*, connection: ProviderConnection) -> ProviderConnection:
    """Make `connection` its owner's only default. Refuses a revoked connection."""
    connection = ProviderConnection.objects.select_for_update().get(pk=connection.pk)
    if connection.status == ProviderConnection.Status.REVOKED:
        raise ProviderRefused("A revoked connection cannot be the default. Add it again with a new key.")
    ProviderConnection.objects.filter(owner_id=connection.owner_id, is_default=True).exclude(pk=connection.pk).update(
        is_default=False
    )
    connection.is_default = True
    connection.save(update_fields=["is_default", "updated_at"])
    return connection


@transaction.atomic
def provider_connection_revoke(*, connection: ProviderConnection) -> ProviderConnection:
    """Destroy the stored key and mark the connection revoked; it is no longer used for anything."""
    connection = ProviderConnection.objects.select_for_update().get(pk=connection.pk)
    connection.api_key_encrypted = ""
    connection.status = ProviderConnection.Status.REVOKED
    connection.is_default = False
    connection.last_error = ""
    connection.save(update_fields=["api_key_encrypted", "status", "is_default", "last_error", "updated_at"])
    return connection


@transaction.atomic
def provider_connection_delete(*, connection: ProviderConnection) -> None:
    """Delete the connection and its encrypted key. Plan revisions it produced keep their label."""
    ProviderConnection.objects.filter(pk=connection.pk).delete()


def provider_connection_check(*, connection: ProviderConnection, timeout: float = 15.0) -> ProviderConnection:
    """Make one real request to the provider and record the honest result (connected / failing).

    The request happens outside any transaction; only the result is written. Refuses to check a
    revoked connection.
    """
    if connection.status == ProviderConnection.Status.REVOKED:
        raise ProviderRefused("This connection is revoked: there is no key to check.")
    try:
        summary = client_for(connection, timeout=timeout, policy=RetryPolicy(max_attempts=1)).check()
        status, error = ProviderConnection.Status.CONNECTED, ""
    except (ProviderError, SecretError, UnsafeEndpoint) as exc:
        status, error, summary = ProviderConnection.Status.FAILING, getattr(exc, "message", str(exc)), ""
    if status == ProviderConnection.Status.CONNECTED and "not in its list" in summary:
        status, error = ProviderConnection.Status.FAILING, summary
    error = redact(error, secrets=_key_of(connection)) if error else ""
    with transaction.atomic():
        updated = (
            ProviderConnection.objects.filter(pk=connection.pk)
            .exclude(status=ProviderConnection.Status.REVOKED)
            .update(status=status, last_error=error, last_checked_at=timezone.now(), updated_at=timezone.now())
        )
    connection.refresh_from_db()
    if not updated:
        raise ProviderRefused("This connection was revoked while it was being checked.")
    return connection


@transaction.atomic
def provider_connection_record_failure(*, connection: ProviderConnection, error: str) -> None:
    """Record that planning through this connection failed (status failing, with the reason masked
    and capped: see providers.redaction)."""
    ProviderConnection.objects.filter(pk=connection.pk).exclude(status=ProviderConnection.Status.REVOKED).update(
        status=ProviderConnection.Status.FAILING,
        last_error=redact(error, secrets=_key_of(connection)),
        updated_at=timezone.now(),
    )


def _key_of(connection: ProviderConnection) -> list[str]:
    """The connection's own key, to mask it wherever an error repeats it (none if unreadable)."""
    if not connection.api_key_encrypted:
        return []
    try:
        return [secret_decrypt(connection.api_key_encrypted)]
    except SecretError:
        return []


@transaction.atomic
def provider_secrets_rotate() -> int:
    """Re-encrypt every stored key with the newest key in COMMAND_SECRET_KEYS; returns how many.

    Raises SecretError (and changes nothing) when any stored key cannot be decrypted.
    """
    rotated = 0
    for connection in ProviderConnection.objects.select_for_update().exclude(api_key_encrypted=""):
        connection.api_key_encrypted = secret_rotate(connection.api_key_encrypted)
        connection.save(update_fields=["api_key_encrypted", "updated_at"])
        rotated += 1
    return rotated
