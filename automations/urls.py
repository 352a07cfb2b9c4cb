"""Automations: /o/<org_slug>/automations/... (org pages), /account/notifications/, /unsubscribe/<token>/
and the email provider's tracking webhook /webhooks/email/amazon_ses/tracking/."""

from django.urls import path

from automations.tracking import SESTrackingWebhookView
from automations.views import automations, channels, deliveries, public

app_name = "automations"

urlpatterns = [
    *automations.urlpatterns,
    *channels.urlpatterns,
    *deliveries.urlpatterns,
    *public.urlpatterns,
    path("webhooks/email/amazon_ses/tracking/", SESTrackingWebhookView.as_view(), name="ses_tracking"),
]
