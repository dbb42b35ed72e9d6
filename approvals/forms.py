"""Forms for approval decisions and for adding to memory explicitly."""

from __future__ import annotations

from django import forms

from approvals.models import ApprovalPreference
from approvals.policy import CATEGORY_LABELS, REMEMBERABLE, Category
from approvals.services.memory import EXPERTISE_LEVELS, TONES
from providers.contracts import OutputCategory

OUTPUT_LABELS = {"pdf": "PDF", "project_edit": "Project edit"}
EXPERTISE_LABELS = {"new": "New to this", "expert": "Expert"}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("allow", "Allow"), ("deny", "Deny"), ("refine", "Refine")],
        error_messages={"required": "Choose allow, deny or refine.", "invalid_choice": "Choose allow, deny or refine."},
    )
    action_hash = forms.CharField(max_length=64, widget=forms.HiddenInput)
    remember = forms.ChoiceField(
        choices=[("", "Just this once"), ("workspace", "In this workspace"), ("everywhere", "Everywhere")],
        required=False,
    )
    command_allowlist = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    confirm_high_risk = forms.BooleanField(required=False)
    refine_text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "refine":
            if not (data.get("refine_text") or "").strip():
                self.add_error("refine_text", "Say what Command should do differently.")
            if data.get("remember"):
                self.add_error("remember", "Only allow or deny can be remembered.")
        data["allowlist"] = _lines(data.get("command_allowlist", ""))
        return data


class ApprovalPreferenceForm(forms.Form):
    category = forms.ChoiceField(
        label="Kind of action", choices=[(c.value, CATEGORY_LABELS[c]) for c in Category if c in REMEMBERABLE]
    )
    decision = forms.ChoiceField(choices=ApprovalPreference.Decision.choices)
    scope = forms.ChoiceField(choices=ApprovalPreference.Scope.choices, initial="workspace")
    workspace = forms.ModelChoiceField(queryset=None, required=False, empty_label="Choose a workspace")
    command_allowlist = forms.CharField(
        label="Commands to allow (one per line)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "npm run build\npytest"}),
        max_length=4000,
        help_text="For commands only. Needed to allow commands everywhere; any other command still asks.",
    )
    confirm_high_risk = forms.BooleanField(
        required=False,
        label="Deletions everywhere: I understand Command will then delete files in any workspace without asking",
    )

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        from workspaces.models import Workspace

        self.fields["workspace"].queryset = Workspace.objects.filter(owner=owner)

    def clean(self):
        data = super().clean()
        if data.get("scope") == "workspace" and not data.get("workspace"):
            self.add_error("workspace", "Choose the workspace this applies to.")
        data["allowlist"] = _lines(data.get("command_allowlist", ""))
        return data


class FormatDefaultForm(forms.Form):
    category = forms.ChoiceField(
        choices=[(c.value, OUTPUT_LABELS.get(c.value, c.value.capitalize())) for c in OutputCategory],
        label="Output kind",
    )
    format = forms.CharField(max_length=20, label="Format", widget=forms.TextInput(attrs={"placeholder": "pdf"}))


class StylePreferenceForm(forms.Form):
    tone = forms.ChoiceField(choices=[("", "No default")] + [(t, t.capitalize()) for t in TONES], required=False)
    expertise = forms.ChoiceField(
        choices=[("", "No default")] + [(e, EXPERTISE_LABELS[e]) for e in EXPERTISE_LEVELS], required=False
    )

    def clean(self):
        data = super().clean()
        if not data.get("tone") and not data.get("expertise"):
            raise forms.ValidationError("Choose a tone, an expertise level, or both.")
        return data
