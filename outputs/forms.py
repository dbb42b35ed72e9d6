"""Forms for outputs: the asset library's filters (bad values fall back, never error pages)."""

from __future__ import annotations

from django import forms

from outputs.models import OutputAsset
from outputs.selectors import SORTS


class LibraryFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search titles and prompts")
    category = forms.ChoiceField(
        required=False, choices=[("", "All")] + list(OutputAsset.Category.choices), label="Category"
    )
    sort = forms.ChoiceField(required=False, choices=[(k, v[1]) for k, v in SORTS.items()], label="Sort")

    @staticmethod
    def defaults() -> dict:
        return {"category": "", "query": "", "sort": "newest"}

    def cleaned(self) -> dict:
        """Valid filters; an unknown category or sort is ignored rather than failing the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "category": data.get("category") or "",
            "query": (data.get("q") or "").strip(),
            "sort": data.get("sort") or "newest",
        }
