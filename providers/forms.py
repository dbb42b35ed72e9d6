"""Forms for providers. The API key field is write-only: it is never rendered back."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from providers.endpoint_safety import UnsafeEndpoint, endpoint_check
from providers.models import ProviderConnection

DEFAULT_BASE_URLS = {
    ProviderConnection.Kind.OPENAI_COMPATIBLE: "https://api.openai.com/v1",
    ProviderConnection.Kind.ANTHROPIC: "https://api.anthropic.com",
}


class ProviderConnectionForm(forms.Form):
    kind = forms.ChoiceField(
        choices=ProviderConnection.Kind.choices,
        initial=ProviderConnection.Kind.OPENAI_COMPATIBLE,
        widget=forms.RadioSelect,
        label="Kind",
    )
    label = forms.CharField(max_length=80, label="Label", widget=forms.TextInput(attrs={"placeholder": "My OpenAI"}))
    base_url = forms.CharField(
        max_length=300,
        label="Base URL",
        required=False,
        help_text="Leave empty for the provider's public API. For Ollama: http://127.0.0.1:11434/v1 "
        "(needs COMMAND_ALLOW_LOCAL_PROVIDERS).",
        widget=forms.URLInput(attrs={"placeholder": "https://api.openai.com/v1"}),
    )
    model = forms.CharField(
        max_length=120, label="Model", widget=forms.TextInput(attrs={"placeholder": "gpt-4o-mini, claude-sonnet-4-5 …"})
    )
    api_key = forms.CharField(
        required=False,
        label="API key",
        strip=True,
        help_text="Stored encrypted; shown afterwards only as its last four characters.",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    make_default = forms.BooleanField(required=False, label="Use for planning (make it my default)")
    input_price_per_mtok = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=4,
        label="Input price (US$ per million tokens)",
        help_text="Optional. With both prices, a model-driven run shows its cost and pauses at the cost limit.",
    )
    output_price_per_mtok = forms.DecimalField(
        required=False, min_value=0, max_digits=10, decimal_places=4, label="Output price (US$ per million tokens)"
    )

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind and not data.get("base_url"):
            data["base_url"] = DEFAULT_BASE_URLS[kind]
        if data.get("base_url"):
            try:
                data["base_url"] = endpoint_check(data["base_url"])
            except UnsafeEndpoint as exc:
                self.add_error("base_url", str(exc))
        if kind == ProviderConnection.Kind.ANTHROPIC and not data.get("api_key"):
            self.add_error("api_key", "Anthropic needs an API key.")
        _both_prices_or_none(self, data)
        return data


def _both_prices_or_none(form: forms.Form, data: dict) -> None:
    given = [data.get("input_price_per_mtok") is not None, data.get("output_price_per_mtok") is not None]
    if any(given) and not all(given):
        form.add_error(
            "output_price_per_mtok" if given[0] else "input_price_per_mtok",
            "Give both prices (input and output), or neither.",
        )


class ProviderPricesForm(forms.Form):
    """The prices of an existing connection (both, or neither to clear them)."""

    input_price_per_mtok = forms.DecimalField(required=False, min_value=0, max_digits=10, decimal_places=4)
    output_price_per_mtok = forms.DecimalField(required=False, min_value=0, max_digits=10, decimal_places=4)

    def clean(self):
        data = super().clean()
        _both_prices_or_none(self, data)
        return data


class ProviderConnectionAdminForm(forms.ModelForm):
    """Admin form: the key can be replaced, never read. An empty key field keeps the stored one."""

    api_key = forms.CharField(
        required=False,
        label="New API key",
        help_text="Write-only. Leave empty to keep the stored key.",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    base_url = forms.CharField(max_length=300, label="Base URL")

    class Meta:
        model = ProviderConnection
        fields = ["owner", "kind", "label", "base_url", "model", "is_default"]

    def clean_base_url(self):
        try:
            return endpoint_check(self.cleaned_data["base_url"])
        except UnsafeEndpoint as exc:
            raise ValidationError(str(exc))
