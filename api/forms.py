"""The API keys page's form. Validation only: making the key is ``api.actions``."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone

from api.models import ApiKey

EXPIRY_CHOICES = [("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year"), ("never", "Never")]


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name", max_length=100, help_text="What will use it, e.g. “SIEM export” or “CI pipeline”."
    )
    kind = forms.ChoiceField(label="Kind", choices=ApiKey.Kind.choices, widget=forms.RadioSelect)
    scope = forms.ChoiceField(
        label="Scope",
        choices=ApiKey.Scope.choices,
        initial=ApiKey.Scope.READ,
        widget=forms.RadioSelect,
        help_text="Read: every GET. Read and write: also start and cancel scans, suppress findings, edit custom rules.",
    )
    expires = forms.ChoiceField(label="Expires", choices=EXPIRY_CHOICES, initial="90")

    def __init__(self, *args, can_make_org_keys: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if can_make_org_keys:
            self.fields["kind"].initial = ApiKey.Kind.ORGANIZATION
            self.fields["kind"].help_text = (
                "An organization key belongs to the organization (reads as a viewer, writes as a member). "
                "A personal key acts as you, with your role, and stops working if you leave."
            )
        else:
            self.fields["kind"].choices = [(ApiKey.Kind.PERSONAL, ApiKey.Kind.PERSONAL.label)]
            self.fields["kind"].initial = ApiKey.Kind.PERSONAL
            self.fields["kind"].help_text = "A personal key acts as you, with your role, and stops if you leave."

    def expires_at(self) -> datetime | None:
        choice = self.cleaned_data["expires"]
        return None if choice == "never" else timezone.now() + timedelta(days=int(choice))
