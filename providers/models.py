"""Model provider connections: one user's OpenAI-compatible or Anthropic endpoints and keys."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from providers.crypto import secret_mask


class ProviderConnection(models.Model):
    class Kind(models.TextChoices):
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible"
        ANTHROPIC = "anthropic", "Anthropic"

    class Status(models.TextChoices):
        UNCHECKED = "unchecked", "Not checked yet"
        CONNECTED = "connected", "Connected"
        FAILING = "failing", "Failing"
        REVOKED = "revoked", "Revoked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_connections")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    label = models.CharField(max_length=80)
    base_url = models.URLField(max_length=300)
    model = models.CharField(max_length=120)
    # Fernet token (providers.crypto); never rendered, logged or copied into task data.
    api_key_encrypted = models.TextField(blank=True)
    api_key_last4 = models.CharField(max_length=4, blank=True)
    is_default = models.BooleanField(default=False)
    # Optional prices, US dollars per million tokens: with them, a model-driven run's cost is shown
    # and counted against COMMAND_LOOP_MAX_COST_USD; without them, no cost is claimed.
    input_price_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    output_price_per_mtok = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNCHECKED)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"], condition=Q(is_default=True), name="provider_one_default_per_owner"
            ),
            models.CheckConstraint(
                condition=~(Q(is_default=True) & Q(status="revoked")), name="provider_revoked_not_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_kind_display()} · {self.model})"

    @property
    def priced(self) -> bool:
        return self.input_price_per_mtok is not None and self.output_price_per_mtok is not None

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float | None:
        """What these tokens cost at this connection's prices; None when it has none."""
        if not self.priced:
            return None
        return (
            float(input_tokens) * float(self.input_price_per_mtok)
            + float(output_tokens) * float(self.output_price_per_mtok)
        ) / 1_000_000

    @property
    def masked_key(self) -> str:
        return secret_mask(self.api_key_last4)

    @property
    def planner_label(self) -> str:
        return f"{self.get_kind_display()} · {self.model}"
