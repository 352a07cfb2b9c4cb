import pytest
from django.urls import reverse


@pytest.mark.parametrize("name", ["account_login", "account_signup", "account_reset_password"])
def test_public_pages_render(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b"Cloustral" in response.content


@pytest.mark.parametrize("name", ["home", "profile", "security", "account_change_password", "account_email"])
def test_private_pages_render_for_user(logged_in, name):
    response = logged_in.get(reverse(name))
    assert response.status_code == 200, response.content[:500]


@pytest.mark.parametrize("name", ["home", "profile", "security"])
def test_private_pages_need_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
