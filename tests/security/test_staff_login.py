"""Staff logins at /admin/login/: lockout by user name and by address, sessions with an end, cookies that die with the browser."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from atmsite.lib.staff_sessions import IDLE_MESSAGE, LOGIN_AT_KEY, SEEN_AT_KEY
from tests.atm.conftest import atm_login

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
INDEX = reverse("admin:index")


@pytest.fixture
def teller(db) -> User:
    return User.objects.create_user("bob", password="teller-password-1", is_staff=True)


def _login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": INDEX})


def test_it_locks_a_user_name_out_after_the_failure_limit_until_reset(teller):
    client = Client(REMOTE_ADDR="192.0.2.10")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "bob", "wrong-password").status_code == 200
    locked = _login(client, "bob", "wrong-password")
    assert locked.status_code == 429
    # Even the right password, from another address, is refused while the name is locked.
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert _login(elsewhere, "bob", "teller-password-1").status_code == 429
    assert elsewhere.get(INDEX).status_code == 302
    call_command("axes_reset_username", "bob")
    response = _login(elsewhere, "bob", "teller-password-1")
    assert response.status_code == 302 and response["Location"] == INDEX


def test_it_locks_an_address_out_whatever_user_names_it_tries(teller):
    client = Client(REMOTE_ADDR="192.0.2.20")
    for number in range(settings.AXES_FAILURE_LIMIT):
        _login(client, f"guess{number}", "wrong-password")
    assert _login(client, "bob", "teller-password-1").status_code == 429
    other = Client(REMOTE_ADDR="192.0.2.21")
    assert _login(other, "bob", "teller-password-1").status_code == 302
    call_command("axes_reset_ip", "192.0.2.20")
    assert _login(client, "bob", "teller-password-1").status_code == 302



def _age(client: Client, **seconds_ago: float) -> None:
    session = client.session
    now = time.time()
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_it_ends_a_staff_session_after_the_idle_timeout(teller):
    client = Client()
    assert _login(client, "bob", "teller-password-1").status_code == 302
    assert client.get(INDEX).status_code == 200
    _age(client, **{SEEN_AT_KEY: settings.STAFF_SESSION_IDLE_SECONDS + 1})
    response = client.get(INDEX, follow=True)
    assert response.redirect_chain[0][0].startswith(LOGIN)
    assert IDLE_MESSAGE in response.content.decode()
    assert client.get(INDEX).status_code == 302


def test_it_ends_a_busy_staff_session_at_its_maximum_age(teller):
    client = Client()
    _login(client, "bob", "teller-password-1")
    _age(client, **{LOGIN_AT_KEY: settings.STAFF_SESSION_MAX_SECONDS + 1, SEEN_AT_KEY: 5})
    assert client.get(INDEX)["Location"].startswith(LOGIN)
    assert client.get(INDEX).status_code == 302


def test_it_keeps_an_active_staff_session(teller):
    client = Client()
    _login(client, "bob", "teller-password-1")
    _age(client, **{LOGIN_AT_KEY: 3600, SEEN_AT_KEY: settings.STAFF_SESSION_IDLE_SECONDS - 60})
    assert client.get(INDEX).status_code == 200
    assert time.time() - client.session[SEEN_AT_KEY] < 60


def test_session_cookies_end_with_the_browser(teller, alice_customer):
    staff = Client()
    _login(staff, "bob", "teller-password-1")
    atm = Client()
    atm_login(atm, alice_customer)
    for client in (staff, atm):
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        assert cookie["max-age"] == "" and cookie["expires"] == ""
    assert settings.SESSION_COOKIE_AGE == settings.STAFF_SESSION_MAX_SECONDS == 8 * 3600
