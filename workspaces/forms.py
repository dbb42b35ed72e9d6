"""Forms for workspaces: creating, registering, importing, relinking, editing."""

from __future__ import annotations

from django import forms

from workspaces.services.folders import ZIP_MAX_TOTAL_BYTES


class CreateForm(forms.Form):
    name = forms.CharField(max_length=120, label="Name", help_text="A new empty folder is made for it.")


class RegisterForm(forms.Form):
    path = forms.CharField(max_length=1024, label="Folder path", help_text="An absolute path inside a workspace root.")
    name = forms.CharField(max_length=120, required=False, label="Name (optional)")


class ImportForm(forms.Form):
    name = forms.CharField(max_length=120, label="Name")
    archive = forms.FileField(label="Zip archive", help_text="Unpacked into a new folder; links are not extracted.")

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        if archive.size > ZIP_MAX_TOTAL_BYTES:
            raise forms.ValidationError("That archive is larger than the import limit.")
        return archive


class RelinkForm(forms.Form):
    path = forms.CharField(
        max_length=1024, required=False, label="Folder path", help_text="Leave empty to accept the folder now there."
    )


class EditorForm(forms.Form):
    path = forms.CharField(max_length=1024)
    content = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    base_sha = forms.CharField(max_length=64, required=False)


class RevertForm(forms.Form):
    confirm_overwrite = forms.BooleanField(required=False, label="Overwrite the later changes listed above")
