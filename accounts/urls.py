from django.urls import path

from accounts import reauth, views

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("security/", views.security, name="security"),
    path("mfa/setup/", views.mfa_setup, name="mfa_setup"),
    path("mfa/disable/", views.mfa_disable, name="mfa_disable"),
    path("mfa/recovery-codes/", views.recovery_codes, name="mfa_recovery_codes"),
    path("mfa/verify/", views.mfa_verify, name="mfa_verify"),
    path("confirm/", reauth.confirm, name="sudo_confirm"),
    path("confirm/email-code/", reauth.email_code, name="sudo_email_code"),
]
