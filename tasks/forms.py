from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from tasks.models import Task
from tasks.uploads import CheckedUpload, check_upload
from workspaces.models import Workspace


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        if not data:
            return []
        # Each file is checked by tasks.uploads.check_upload, which explains every refusal.
        return list(data) if isinstance(data, (list, tuple)) else [data]


class TaskRequestForm(forms.Form):
    """The landing page's prompt surface: the request as typed plus a few hints."""

    prompt = forms.CharField(
        strip=False,
        error_messages={"required": "Tell Command what you need: the request is empty."},
        widget=forms.Textarea(
            attrs={
                "rows": 5,
                "placeholder": "Describe what you need, as messily as you like — "
                "“creat a premium B2B landng page for Acme Analytics + a pdf proposal”",
                "autofocus": True,
            }
        ),
    )
    mode = forms.ChoiceField(choices=Task.Mode.choices, initial=Task.Mode.CREATE, widget=forms.RadioSelect)
    expertise = forms.ChoiceField(choices=Task.Expertise.choices, initial=Task.Expertise.NEW, widget=forms.RadioSelect)
    tone = forms.ChoiceField(choices=Task.Tone.choices, initial=Task.Tone.MIXED)
    workspace = forms.ModelChoiceField(
        queryset=Workspace.objects.none(), required=False, empty_label="No workspace (new outputs only)"
    )
    uploads = MultipleFileField(required=False, label="Attach files")

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workspace"].queryset = Workspace.objects.filter(owner=owner)
        # The tone and expertise saved on the memory page are what a new request starts with.
        from approvals.selectors import style_preferences_for

        for kind, value in style_preferences_for(owner=owner).items():
            if kind in ("tone", "expertise"):
                self.fields[kind].initial = value
        self.fields["prompt"].max_length = settings.COMMAND_PROMPT_MAX_CHARS

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        if not prompt.strip():
            raise ValidationError("Tell Command what you need: the request is empty.")
        limit = settings.COMMAND_PROMPT_MAX_CHARS
        if len(prompt) > limit:
            raise ValidationError(
                f"The request is {len(prompt):,} characters; the limit is {limit:,}. "
                "Attach long material as a file instead."
            )
        return prompt

    def clean_uploads(self) -> list[CheckedUpload]:
        files = self.cleaned_data.get("uploads") or []
        limit = settings.COMMAND_UPLOAD_MAX_FILES
        if len(files) > limit:
            raise ValidationError(f"{len(files)} files attached; at most {limit} can go with one request.")
        checked, errors = [], []
        for upload in files:
            try:
                checked.append(check_upload(upload))
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            errors.append("Nothing was saved: choose the files again after fixing this.")
            raise ValidationError(errors)
        return checked
