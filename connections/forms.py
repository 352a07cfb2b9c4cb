from __future__ import annotations

import re

from django import forms

from connections.models import CloudConnection
from connections.regions import grouped_choices

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SECRET_WIDGET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})


class ConnectionNameMixin(forms.Form):
    name = forms.CharField(max_length=100, help_text="How this account appears in Cloustral, e.g. “Production”.")

    def __init__(self, *args, org=None, instance: CloudConnection | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.org = org
        self.instance = instance

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = CloudConnection.objects.for_org(self.org).filter(name__iexact=name)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("Another connection of this organization already has this name.")
        return name


SCOPE_CHOICES = [
    (CloudConnection.AwsScope.SINGLE, "Single account"),
    (CloudConnection.AwsScope.ORGANIZATION, "AWS Organization: every member account, discovered at each scan"),
]


class AwsRoleForm(ConnectionNameMixin):
    aws_scope = forms.ChoiceField(
        label="What to connect",
        choices=SCOPE_CHOICES,
        initial=CloudConnection.AwsScope.SINGLE,
        required=False,  # none chosen: a single account
        widget=forms.RadioSelect,
        help_text="For an organization, use the role in its management account (or a delegated administrator).",
    )
    role_arn = forms.CharField(
        label="Role ARN",
        max_length=600,
        help_text="From the stack's Outputs tab: arn:aws:iam::123456789012:role/CloustralReadOnly",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance is not None:  # what a connection covers is chosen once, when it is added
            del self.fields["aws_scope"]

    def clean_aws_scope(self) -> str:
        return self.cleaned_data.get("aws_scope") or CloudConnection.AwsScope.SINGLE


class AwsKeysForm(ConnectionNameMixin):
    access_key_id = forms.CharField(label="Access key id", max_length=128, required=False)
    secret_access_key = forms.CharField(label="Secret access key", max_length=128, required=False, widget=SECRET_WIDGET)

    def clean(self):
        data = super().clean()
        rotating = bool(data.get("access_key_id") or data.get("secret_access_key"))
        if (self.instance is None or rotating) and not (data.get("access_key_id") and data.get("secret_access_key")):
            raise forms.ValidationError("Enter both the access key id and the secret access key.")
        return data


class AzureForm(ConnectionNameMixin):
    azure_cloud = forms.ChoiceField(label="Cloud", choices=CloudConnection.AzureCloud.choices, initial="public")
    tenant_id = forms.CharField(label="Tenant (directory) id", max_length=100)
    client_id = forms.CharField(label="Client (application) id", max_length=64)
    client_secret = forms.CharField(label="Client secret", max_length=256, required=False, widget=SECRET_WIDGET)
    subscription_ids = forms.CharField(
        label="Subscription ids",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line (or separated by commas).",
    )

    def clean_client_secret(self) -> str:
        secret = self.cleaned_data.get("client_secret", "")
        if self.instance is None and not secret:
            raise forms.ValidationError("Enter the client secret.")
        return secret

    def clean_subscription_ids(self) -> list[str]:
        ids = [s.strip() for s in re.split(r"[\s,;]+", self.cleaned_data["subscription_ids"]) if s.strip()]
        bad = [s for s in ids if not GUID.match(s)]
        if bad:
            raise forms.ValidationError(
                f"Not a subscription id: {', '.join(bad[:3])}. It looks like 00000000-0000-0000-0000-000000000000."
            )
        if not ids:
            raise forms.ValidationError("Enter at least one subscription id.")
        return list(dict.fromkeys(s.lower() for s in ids))


class RegionsForm(forms.Form):
    regions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None selected means every enabled region."
    )

    def __init__(self, *args, enabled_regions: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["regions"].choices = grouped_choices(list(enabled_regions))


class ScanScheduleForm(forms.Form):
    scan_frequency = forms.ChoiceField(choices=CloudConnection.ScanFrequency.choices)
