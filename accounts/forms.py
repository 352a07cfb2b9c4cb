from __future__ import annotations

from django import forms
from django.utils import timezone

from accounts.models import User, timezone_choices


class SignupExtraForm(forms.Form):
    """Extra sign-up fields (allauth's ACCOUNT_SIGNUP_FORM_CLASS), also used by Google sign-up."""

    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    organization_name = forms.CharField(
        max_length=120,
        label="Organization name",
        help_text="Your company or team. You can invite others later.",
        error_messages={"required": "Enter your organization's name."},
    )
    timezone = forms.ChoiceField(choices=timezone_choices, initial="UTC", label="Timezone")
    confirm_age = forms.BooleanField(
        required=True,
        label="I am 18 years of age or older",
        error_messages={"required": "You must be 18 or older to use Cloustral."},
    )

    field_order = ["email", "first_name", "last_name", "organization_name", "password1", "password2", "timezone"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from allauth.core import context

        from orgs.pending import pending_invitation

        # Someone signing up through an invitation joins that organization; their own is optional.
        self.invitation = pending_invitation(context.request)
        if self.invitation is not None:
            self.fields["organization_name"].required = False
            self.fields["organization_name"].label = "Your own organization (optional)"
            self.fields["organization_name"].help_text = (
                f"You are joining {self.invitation.org.name}. "
                "Name an organization only if you also want one of your own."
            )

    def clean_organization_name(self) -> str:
        name = self.cleaned_data["organization_name"].strip()
        if not name and self.fields["organization_name"].required:
            raise forms.ValidationError("Enter your organization's name.")
        return name

    def signup(self, request, user: User) -> None:
        user.first_name = self.cleaned_data.get("first_name", "")
        user.last_name = self.cleaned_data.get("last_name", "")
        user.timezone = self.cleaned_data["timezone"]
        user.signup_org_name = self.cleaned_data["organization_name"]
        user.age_confirmed_at = timezone.now()
        user.save()


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
