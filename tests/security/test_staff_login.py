"""Staff logins at /admin/login/: lockout by user name and by address, sessions with an end, cookies that die with the browser."""

from __future__ import annotations

import time

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

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


def _fail(address: str, username: str, times: int) -> list[int]:
    client = Client(REMOTE_ADDR=address)
    return [_login(client, username, "wrong-password").status_code for _ in range(times)]


def test_it_locks_a_user_name_at_one_address_but_not_elsewhere(teller):
    limit = settings.AXES_FAILURE_LIMIT
    assert _fail("192.0.2.10", "bob", limit) == [200] * (limit - 1) + [429]
    assert _login(Client(REMOTE_ADDR="192.0.2.10"), "bob", "teller-password-1").status_code == 429
    # A stranger who knows Bob's user name does not lock him out: from his own desk he gets in.
    response = _login(Client(REMOTE_ADDR="198.51.100.7"), "bob", "teller-password-1")
    assert response.status_code == 302 and response["Location"] == INDEX
    call_command("axes_reset_username", "bob")
    assert _login(Client(REMOTE_ADDR="192.0.2.10"), "bob", "teller-password-1").status_code == 302


def test_it_locks_a_user_name_guessed_from_many_addresses_except_where_it_logged_in_before(teller, settings):
    assert _login(Client(REMOTE_ADDR="198.51.100.7"), "bob", "teller-password-1").status_code == 302  # Bob's desk
    per_address = settings.AXES_FAILURE_LIMIT - 1  # under the limit of one name at one address
    spread = [f"203.0.113.{n}" for n in range(1, 20)]
    statuses = [status for address in spread[:settings.STAFF_LOGIN_USERNAME_FAILURE_LIMIT // per_address + 1]
                for status in _fail(address, "bob", per_address)]
    assert statuses.index(429) == settings.STAFF_LOGIN_USERNAME_FAILURE_LIMIT - 1  # the limit-th failure locks
    assert _login(Client(REMOTE_ADDR=spread[-1]), "bob", "teller-password-1").status_code == 429  # a new address
    assert _login(Client(REMOTE_ADDR="198.51.100.7"), "bob", "teller-password-1").status_code == 302  # his desk
    assert _fail(spread[-1], "carol", 1) == [200]  # other user names are not locked
    call_command("axes_reset_username", "bob")
    assert _login(Client(REMOTE_ADDR=spread[-1]), "bob", "teller-password-1").status_code == 302


def test_it_locks_an_address_out_whatever_user_names_it_tries(teller):
    client = Client(REMOTE_ADDR="192.0.2.20")
    statuses = [_login(client, f"guess{number}", "wrong-password").status_code
                for number in range(settings.STAFF_LOGIN_ADDRESS_FAILURE_LIMIT)]
    assert statuses == [200] * (settings.STAFF_LOGIN_ADDRESS_FAILURE_LIMIT - 1) + [429]
    assert _login(client, "bob", "teller-password-1").status_code == 429
    other = Client(REMOTE_ADDR="192.0.2.21")
    assert _login(other, "bob", "teller-password-1").status_code == 302
    call_command("axes_reset_ip", "192.0.2.20")
    assert _login(client, "bob", "teller-password-1").status_code == 302


def test_it_counts_an_overlong_user_name_by_what_can_be_stored(teller):
    name = "9" * 300  # longer than any user name and than django-axes' column (a 500 on PostgreSQL before)
    assert _fail("192.0.2.40", name, settings.AXES_FAILURE_LIMIT)[-1] == 429
    assert AccessAttempt.objects.get().username == "9" * 255
    assert _fail("192.0.2.40", "9" * 255 + "x", 1) == [429]


def test_it_unlocks_after_the_cool_off_and_does_not_extend_it_for_refused_tries(teller, settings):
    limit = settings.AXES_FAILURE_LIMIT
    assert _fail("192.0.2.30", "bob", limit + 3)[-4:] == [429] * 4  # tries while locked are refused, not counted
    assert AccessAttempt.objects.get(username="bob").failures_since_start == limit
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME)
    assert _login(Client(REMOTE_ADDR="192.0.2.30"), "bob", "teller-password-1").status_code == 302


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
