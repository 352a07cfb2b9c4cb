from django.urls import path

from billing import views, webhooks

app_name = "billing"

urlpatterns = [
    path("o/<slug:org_slug>/billing/", views.plan_page, name="plan"),
    path("o/<slug:org_slug>/billing/subscribe/", views.subscribe, name="subscribe"),
    path("o/<slug:org_slug>/billing/change/", views.change_plan, name="change_plan"),
    path("o/<slug:org_slug>/billing/cancel/", views.cancel, name="cancel"),
    path("o/<slug:org_slug>/billing/resume/", views.resume, name="resume"),
    path("o/<slug:org_slug>/billing/payment-method/", views.payment_method, name="payment_method"),
    path("o/<slug:org_slug>/billing/portal/", views.portal, name="portal"),
    # Stripe's events: no session, no CSRF token; the signature is the credential.
    path("billing/stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
]
