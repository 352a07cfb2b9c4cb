from __future__ import annotations

from django import forms

from accounts.models import User, timezone_choices


class ProfileForm(forms.ModelForm):
    timezone = forms.ChoiceField(choices=timezone_choices, label="Timezone")

    class Meta:
        model = User
        fields = ["first_name", "last_name", "timezone"]


class TOTPCodeForm(forms.Form):
    code = forms.CharField(
        label="Authentication code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().replace(" ", "")
