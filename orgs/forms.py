from __future__ import annotations

from django import forms
from django.utils import timezone

from accounts.models import User, timezone_choices
from orgs.pending import pending_invitation
from orgs.roles import Role, assignable_roles


class SignupExtraForm(forms.Form):
    """Extra sign-up fields (allauth's ACCOUNT_SIGNUP_FORM_CLASS), also used by Google sign-up. Here, not in
    accounts, because it names the organization the person creates or joins (orgs.signals makes it)."""

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


class OrganizationForm(forms.Form):
    name = forms.CharField(
        max_length=120,
        label="Organization name",
        help_text="Your company or team. You can invite others once it exists.",
        error_messages={"required": "Enter the organization's name."},
    )


class OrgSettingsForm(forms.Form):
    name = forms.CharField(max_length=120, label="Organization name", error_messages={"required": "Enter a name."})
    require_mfa = forms.BooleanField(
        required=False,
        label="Require two-factor authentication",
        help_text="Members without it are sent to set it up before they can see the organization's data.",
    )


class RoleChoiceMixin:
    def limit_roles(self, actor_role: str) -> None:
        allowed = set(assignable_roles(actor_role))
        self.fields["role"].choices = [(r.value, r.label) for r in Role if r in allowed]


class InviteForm(RoleChoiceMixin, forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args, actor_role: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limit_roles(actor_role)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class ChangeRoleForm(RoleChoiceMixin, forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)

    def __init__(self, *args, actor_role: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limit_roles(actor_role)


class DeleteOrganizationForm(forms.Form):
    confirm_name = forms.CharField(max_length=120, label="Type the organization's name to confirm")
