"""Forms of the automation and channel pages. Validation only: saving is ``automations.actions``."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import timezone_choices
from automations import channels, http
from automations.digest import DigestFilters
from automations.models import Automation, Channel
from connections.models import CloudConnection
from findings.models import Category, Severity
from findings.queries import MAX_RULE_FILTERS, RULE_ID_RE
from orgs.models import Membership
from orgs.roles import Role

A = Automation


class AutomationForm(forms.Form):
    name = forms.CharField(max_length=120)
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled", help_text="Paused: it never fires.")
    trigger = forms.ChoiceField(choices=A.Trigger.choices, initial=A.Trigger.SCHEDULE, widget=forms.RadioSelect)
    frequency = forms.ChoiceField(choices=A.Frequency.choices, initial=A.Frequency.DAILY, required=False)
    hour = forms.TypedChoiceField(
        choices=[(h, f"{h:02d}:00") for h in range(24)], coerce=int, initial=8, required=False, label="At"
    )
    weekday = forms.TypedChoiceField(
        choices=A.Weekday.choices, coerce=int, initial=0, required=False, label="On", help_text="Weekly schedules."
    )
    timezone = forms.ChoiceField(choices=(), initial="UTC", required=False, help_text="The schedule's timezone.")
    action = forms.ChoiceField(choices=A.Action.choices, initial=A.Action.SUMMARIZE, widget=forms.RadioSelect)
    connections = forms.ModelMultipleChoiceField(
        queryset=CloudConnection.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Scanned, watched and summarized. None checked: every connection.",
    )
    min_severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.INFO, label="Minimum severity")
    categories = forms.MultipleChoiceField(
        choices=Category.choices, required=False, widget=forms.CheckboxSelectMultiple, help_text="None checked: all."
    )
    rule_ids = forms.CharField(
        required=False,
        label="Rules",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="Rule ids, comma- or line-separated (e.g. aws-s3-bucket-public). Empty: every rule.",
    )
    send_when_empty = forms.BooleanField(
        required=False,
        label="Send even when nothing changed",
        help_text="Otherwise no summary is sent for a quiet period.",
    )
    channels = forms.ModelMultipleChoiceField(
        queryset=Channel.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, org, automation: Automation | None = None, default_tz: str = "UTC", **kwargs):
        if automation is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_of(automation)
        super().__init__(*args, **kwargs)
        self.org = org
        self.fields["timezone"].choices = timezone_choices()
        if automation is None:
            self.fields["timezone"].initial = default_tz
        self.fields["connections"].queryset = CloudConnection.objects.for_org(org).order_by("name", "id")
        self.fields["channels"].queryset = Channel.objects.for_org(org).order_by("name", "id")

    def clean_rule_ids(self) -> list[str]:
        values = [v.strip() for v in (self.cleaned_data.get("rule_ids") or "").replace("\n", ",").split(",")]
        values = list(dict.fromkeys(v for v in values if v))
        bad = [v for v in values if not RULE_ID_RE.match(v)]
        if bad:
            raise forms.ValidationError(f"Not a rule id: {', '.join(bad[:5])}.")
        if len(values) > MAX_RULE_FILTERS:
            raise forms.ValidationError(f"At most {MAX_RULE_FILTERS} rules.")
        return values

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        trigger = data.get("trigger")
        if trigger == A.Trigger.SCHEDULE:
            for name in ("frequency", "hour", "timezone"):
                if data.get(name) in (None, ""):
                    self.add_error(name, "Required for a schedule.")
            if data.get("frequency") == A.Frequency.WEEKLY and data.get("weekday") in (None, ""):
                self.add_error("weekday", "Choose the day of a weekly schedule.")
        if trigger == A.Trigger.AFTER_SCAN and data.get("action") == A.Action.SCAN_AND_SUMMARIZE:
            self.add_error("action", "After each scan, the automation can only send a summary (it would scan forever).")
        for name, default in (("frequency", A.Frequency.DAILY), ("hour", 8), ("weekday", 0), ("timezone", "UTC")):
            if data.get(name) in (None, ""):
                data[name] = default
        return data

    def fields_for_action(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "enabled": data["enabled"],
            "trigger": data["trigger"],
            "frequency": data["frequency"],
            "hour": data["hour"],
            "weekday": data["weekday"],
            "timezone": data["timezone"],
            "action": data["action"],
            "min_severity": data["min_severity"],
            "categories": list(data["categories"]),
            "rule_ids": data["rule_ids"],
            "send_when_empty": data["send_when_empty"],
            "connections": list(data["connections"]),
            "channels": list(data["channels"]),
        }

    def digest_filters(self) -> DigestFilters:
        data = self.cleaned_data
        ids = tuple(c.pk for c in data.get("connections") or ())
        return DigestFilters(
            connection_ids=ids or None,
            min_severity=data.get("min_severity") or Severity.INFO,
            categories=tuple(data.get("categories") or ()),
            rule_ids=tuple(data.get("rule_ids") or ()),
        )


def initial_of(automation: Automation) -> dict[str, Any]:
    filters = DigestFilters.of(automation)
    return {
        "name": automation.name,
        "enabled": automation.enabled,
        "trigger": automation.trigger,
        "frequency": automation.frequency,
        "hour": automation.hour,
        "weekday": automation.weekday,
        "timezone": automation.timezone,
        "action": automation.action,
        "connections": list(filters.connection_ids or ()),
        "min_severity": automation.min_severity,
        "categories": automation.categories,
        "rule_ids": ", ".join(automation.rule_ids or []),
        "send_when_empty": automation.send_when_empty,
        "channels": list(
            automation.channels.through.objects.filter(automation_id=automation.pk).values_list("channel_id", flat=True)
        ),
    }


class ChannelForm(forms.Form):
    """One form for the three kinds; the fields of the other kinds are removed."""

    name = forms.CharField(max_length=120)
    roles = forms.MultipleChoiceField(
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Everyone with the role",
        help_text="Resolved at each send among the organization's members.",
    )
    members = forms.TypedMultipleChoiceField(
        choices=(), coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="And these members"
    )
    url = forms.CharField(max_length=2000, required=False, label="URL", widget=forms.URLInput)

    def __init__(self, *args: Any, org, kind: str, channel: Channel | None = None, **kwargs: Any) -> None:
        if channel is not None and "initial" not in kwargs:
            kwargs["initial"] = {"name": channel.name, "roles": channel.roles, "members": channel.member_ids}
        super().__init__(*args, **kwargs)
        self.org, self.kind, self.channel = org, kind, channel
        if kind == Channel.Kind.EMAIL:
            del self.fields["url"]
            members = Membership.objects.for_org(org).select_related("user").order_by("user__email")
            self.fields["members"].choices = [
                (m.user_id, f"{m.user.get_full_name()} <{m.user.email}>") for m in members
            ]
        else:
            del self.fields["roles"], self.fields["members"]
            field = self.fields["url"]
            if kind == Channel.Kind.SLACK:
                field.label = "Slack incoming webhook URL"
                field.help_text = "From Slack: Apps → Incoming Webhooks (https://hooks.slack.com/services/…)."
            else:
                field.label = "Endpoint URL (HTTPS)"
                field.help_text = "We POST a signed JSON body to it (see the documentation for the format)."
            if channel is not None:
                field.help_text += f" Stored encrypted ({channel.url_hint}); leave empty to keep it."
            else:
                field.required = True

    def clean_url(self) -> str:
        url = (self.cleaned_data.get("url") or "").strip()
        if not url:
            return ""
        try:
            return channels.check_channel_url(self.kind, url)
        except http.UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.kind == Channel.Kind.EMAIL and not data.get("roles") and not data.get("members"):
            raise forms.ValidationError("Choose at least one role or member.")
        return data


class NotificationsForm(forms.Form):
    digests = forms.BooleanField(
        required=False,
        label="Emailed summaries from automations",
        help_text="Off: no summary email from any organization. Security alerts are always sent.",
    )
