"""Reads for providers. Every selector takes the requesting user and returns only their objects."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from providers.models import ProviderConnection


def provider_connection_list(*, owner) -> QuerySet[ProviderConnection]:
    return ProviderConnection.objects.filter(owner=owner)


def provider_connection_get(*, owner, connection_id) -> ProviderConnection:
    """The connection, or 404 when it does not exist or belongs to someone else."""
    return get_object_or_404(ProviderConnection, pk=connection_id, owner=owner)


def provider_connection_default(*, owner) -> ProviderConnection | None:
    """The owner's default connection if it can be used (not revoked), else None."""
    return (
        ProviderConnection.objects.filter(owner=owner, is_default=True)
        .exclude(status=ProviderConnection.Status.REVOKED)
        .first()
    )


def linked_accounts(*, owner) -> list:
    """The owner's OAuth accounts linked through allauth (GitHub, Google, OpenID Connect …)."""
    from allauth.socialaccount.models import SocialAccount

    return list(SocialAccount.objects.filter(user=owner).order_by("provider"))
