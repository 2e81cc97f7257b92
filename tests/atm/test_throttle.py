"""Web ATM login throttle (atm.throttle): failures per client address in a window, proxies, pruning."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from accounts.models import Card, LoginAttempt
from atm.session import SESSION_CARD_KEY
from atm.throttle import login_attempts_prune
from tests.atm.conftest import (
    JUST_BLOCKED,
    ONE_LEFT,
    TWO_LEFT,
    UNKNOWN_PAN,
    atm_login,
    form_errors,
    login_post,
)

pytestmark = pytest.mark.django_db



def test_it_throttles_an_address_after_too_many_failures(client, settings, alice_customer):
    settings.ATM_LOGIN_THROTTLE_ATTEMPTS = 3
    # an unknown card number gets the answers of a real card: tries left, then blocked
    answers = [form_errors(login_post(client, UNKNOWN_PAN, "2468", REMOTE_ADDR="10.1.1.1")) for _ in range(3)]
    assert answers == [{"__all__": [TWO_LEFT]}, {"__all__": [ONE_LEFT]}, {"__all__": [JUST_BLOCKED]}]
    # a wrong PIN on record for Alice's card: a throttled address no longer checks its PIN at all
    login_post(Client(), alice_customer.pan, "9753", REMOTE_ADDR="10.2.2.2")
    throttled = atm_login(client, alice_customer, REMOTE_ADDR="10.1.1.1")
    assert form_errors(throttled) == {
        "__all__": ["Too many login attempts from this address. Please wait a few minutes and try again."]
    }
    assert SESSION_CARD_KEY not in client.session
    assert Card.objects.get(pk=alice_customer.card.pk).failed_pin_attempts == 1
    assert atm_login(Client(), alice_customer, REMOTE_ADDR="10.2.2.2").status_code == 302


def test_it_counts_only_failures_inside_the_window(client, settings, alice_customer):
    settings.ATM_LOGIN_THROTTLE_ATTEMPTS = 2
    settings.ATM_LOGIN_THROTTLE_WINDOW_SECONDS = 600
    for _ in range(2):
        login_post(client, UNKNOWN_PAN, "2468", REMOTE_ADDR="10.1.1.1")
    login_post(Client(), alice_customer.pan, "9753", REMOTE_ADDR="10.5.5.5")  # a wrong PIN on record: no free check
    assert atm_login(client, alice_customer, REMOTE_ADDR="10.1.1.1").status_code == 200
    oldest = LoginAttempt.objects.order_by("pk").first()
    LoginAttempt.objects.filter(pk=oldest.pk).update(created_at=oldest.created_at - datetime.timedelta(seconds=601))
    assert atm_login(client, alice_customer, REMOTE_ADDR="10.1.1.1").status_code == 302


def test_it_does_not_count_successful_logins_against_the_address(client, settings, alice_customer):
    settings.ATM_LOGIN_THROTTLE_ATTEMPTS = 1
    for _ in range(3):
        assert atm_login(Client(), alice_customer, REMOTE_ADDR="10.3.3.3").status_code == 302
    assert set(LoginAttempt.objects.values_list("address", "succeeded")) == {("10.3.3.3", True)}


def test_it_takes_the_address_our_proxy_appended_when_behind_a_proxy(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    login_post(client, UNKNOWN_PAN, "2468", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    assert LoginAttempt.objects.get().address == "198.51.100.7"


def test_it_ignores_forwarded_headers_when_not_behind_a_proxy(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    login_post(client, UNKNOWN_PAN, "2468", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert LoginAttempt.objects.get().address == "10.9.9.9"


def test_it_prunes_only_attempts_that_left_the_window(client, settings):
    settings.ATM_LOGIN_THROTTLE_WINDOW_SECONDS = 600
    for _ in range(3):
        login_post(client, UNKNOWN_PAN, "2468", REMOTE_ADDR="10.4.4.4")
    oldest = LoginAttempt.objects.order_by("pk").first()
    LoginAttempt.objects.filter(pk=oldest.pk).update(created_at=oldest.created_at - datetime.timedelta(seconds=601))
    assert login_attempts_prune() == 1
    assert LoginAttempt.objects.count() == 2 and not LoginAttempt.objects.filter(pk=oldest.pk).exists()
