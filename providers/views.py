"""The providers page: list, add, check, set default, revoke and delete connections."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from providers.crypto import SecretError
from providers.endpoint_safety import UnsafeEndpoint
from providers.forms import ProviderConnectionForm, ProviderPricesForm
from providers.selectors import linked_accounts, provider_connection_get, provider_connection_list
from providers.services import (
    ProviderRefused,
    provider_connection_check,
    provider_connection_create,
    provider_connection_delete,
    provider_connection_revoke,
    provider_connection_set_default,
    provider_connection_set_prices,
)


def _page(request, form, status=200):
    context = {
        "connections": provider_connection_list(owner=request.user),
        "form": form,
        "accounts": linked_accounts(owner=request.user),
    }
    return render(request, "providers/index.html", context, status=status)


def _row(request, connection):
    if request.htmx:
        return render(request, "providers/partials/connection_row.html", {"connection": connection})
    return redirect("providers:index")


@login_required
def index(request):
    if request.method != "POST":
        return _page(request, ProviderConnectionForm())
    form = ProviderConnectionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            connection = provider_connection_create(
                owner=request.user,
                kind=data["kind"],
                label=data["label"],
                base_url=data["base_url"],
                model=data["model"],
                api_key=data["api_key"],
                make_default=data["make_default"],
                input_price_per_mtok=data.get("input_price_per_mtok"),
                output_price_per_mtok=data.get("output_price_per_mtok"),
            )
        except (ProviderRefused, UnsafeEndpoint, SecretError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Added “{connection.label}”. Check it to see whether it answers.")
            return redirect("providers:index")
    return _page(request, form, status=400)


@login_required
@require_POST
def check(request, connection_id):
    connection = provider_connection_get(owner=request.user, connection_id=connection_id)
    try:
        connection = provider_connection_check(connection=connection)
    except ProviderRefused as exc:
        messages.error(request, str(exc))
    else:
        # Over htmx the returned row shows the outcome; a flash message would surface a page later.
        if not request.htmx:
            if connection.status == connection.Status.CONNECTED:
                messages.success(request, f"“{connection.label}” answered.")
            else:
                messages.error(request, f"“{connection.label}” is failing: {connection.last_error}")
    return _row(request, connection)


@login_required
@require_POST
def make_default(request, connection_id):
    connection = provider_connection_get(owner=request.user, connection_id=connection_id)
    try:
        provider_connection_set_default(connection=connection)
        messages.success(request, f"New requests are planned with “{connection.label}”.")
    except (ProviderRefused, IntegrityError) as exc:
        messages.error(request, str(exc))
    return redirect("providers:index")


@login_required
@require_POST
def revoke(request, connection_id):
    connection = provider_connection_get(owner=request.user, connection_id=connection_id)
    connection = provider_connection_revoke(connection=connection)
    if not request.htmx:
        messages.success(request, f"Revoked “{connection.label}”: its stored key was destroyed.")
    return _row(request, connection)


@login_required
@require_POST
def delete(request, connection_id):
    connection = provider_connection_get(owner=request.user, connection_id=connection_id)
    label = connection.label
    provider_connection_delete(connection=connection)
    if request.htmx:
        return render(request, "providers/partials/connection_deleted.html", {"label": label})
    messages.success(request, f"Deleted “{label}”.")
    return redirect("providers:index")


@login_required
@require_POST
def prices(request, connection_id):
    connection = provider_connection_get(owner=request.user, connection_id=connection_id)
    form = ProviderPricesForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return _row(request, connection)
    try:
        connection = provider_connection_set_prices(
            connection=connection,
            input_price_per_mtok=form.cleaned_data["input_price_per_mtok"],
            output_price_per_mtok=form.cleaned_data["output_price_per_mtok"],
        )
    except ProviderRefused as exc:
        messages.error(request, str(exc))
    else:
        if not request.htmx:
            messages.success(request, f"Prices of “{connection.label}” saved.")
    return _row(request, connection)
