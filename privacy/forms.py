from __future__ import annotations

from django import forms

from privacy.models import ContactRequest

MESSAGE_MAX_LENGTH = 5000
HONEYPOT = "website"


class ContactForm(forms.Form):
    name = forms.CharField(max_length=120, label="Your name", error_messages={"required": "Enter your name."})
    email = forms.EmailField(
        max_length=254,
        label="Your email address",
        help_text="We answer here.",
        error_messages={"required": "Enter your email address.", "invalid": "Enter a valid email address."},
    )
    topic = forms.ChoiceField(choices=ContactRequest.Topic.choices, label="Topic")
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=MESSAGE_MAX_LENGTH,
        label="Message",
        help_text=f"Up to {MESSAGE_MAX_LENGTH:,} characters. Never include passwords or cloud credentials.",
        error_messages={
            "required": "Write your message.",
            "max_length": f"Keep your message under {MESSAGE_MAX_LENGTH:,} characters (it has %(show_value)d).",
        },
    )
    # A field people never see (hidden by CSS, skipped by keyboard and screen readers): bots fill it.
    website = forms.CharField(required=False, label="Leave this field empty")

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean_message(self) -> str:
        message = self.cleaned_data["message"].strip()
        if not message:
            raise forms.ValidationError("Write your message.")
        return message

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get(HONEYPOT, "").strip())


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand that my account will be deleted after the grace period",
        error_messages={"required": "Tick the box to confirm."},
    )


class RestoreLinkForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email address of the account")
