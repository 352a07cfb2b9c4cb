import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from tests.accounts.helpers import login
from tests.conftest import PASSWORD


def fail_login(client, email, ip="203.0.113.9", **headers):
    return client.post(
        reverse("account_login"), {"login": email, "password": "wrong-password"}, REMOTE_ADDR=ip, **headers
    )


def test_wrong_password_and_unknown_email_get_the_same_answer(client, user):
    wrong = fail_login(client, user.email).content.decode()
    unknown = fail_login(client, "nobody@example.com").content.decode()
    message = "The email address and/or password you specified are not correct."
    assert message in wrong and message in unknown
    failed = AuditEvent.objects.filter(action="login_failed")
    assert sorted(failed.values_list("actor_email", flat=True)) == ["ada@example.com", "nobody@example.com"]
    assert all(e.ip == "203.0.113.9" for e in failed)


def test_repeated_failures_for_one_account_get_429(client, user):
    statuses = [fail_login(client, user.email, ip=f"198.51.100.{i}").status_code for i in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 429  # the account stays locked for the window, even with the right password
    assert b"Too many attempts" in response.content


def test_repeated_failures_from_one_ip_get_429(client, make_user):
    statuses = [fail_login(client, f"user{i}@example.com").status_code for i in range(11)]
    assert statuses[-1] == 429 and statuses[:10] == [200] * 10


def test_behind_a_proxy_the_client_address_is_keyed_not_the_proxy(client, user, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    # Eleven different clients behind the same load balancer are not one IP.
    for i in range(11):
        response = fail_login(client, f"user{i}@example.com", ip="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
        assert response.status_code == 200
    # One client behind it, spoofing extra hops on the left, is still itself.
    statuses = [
        fail_login(
            client, f"x{i}@example.com", ip="10.0.0.1", HTTP_X_FORWARDED_FOR=f"1.1.1.{i}, 192.0.2.200"
        ).status_code
        for i in range(11)
    ]
    assert statuses[-1] == 429
    assert AuditEvent.objects.filter(ip="192.0.2.200").exists()


@pytest.mark.django_db
def test_password_reset_requests_are_rate_limited(client, user):
    statuses = [client.post(reverse("account_reset_password"), {"email": user.email}).status_code for _ in range(4)]
    assert statuses[-1] == 429


@pytest.mark.django_db
def test_signup_is_rate_limited_per_ip(client):
    statuses = [
        client.post(reverse("account_signup"), {"email": "x"}, REMOTE_ADDR="192.0.2.77").status_code for _ in range(11)
    ]
    assert statuses[-1] == 429
