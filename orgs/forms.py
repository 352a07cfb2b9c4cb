from __future__ import annotations

from django import forms

from orgs.roles import Role, assignable_roles


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
