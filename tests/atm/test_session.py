"""Web ATM sessions: idle timeout, logout, cards blocked or expired mid-session, no way into admin."""

from __future__ import annotations

import datetime
import time

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Card
from accounts.services import card_block
from atm.session import SESSION_ACTIVITY_KEY, SESSION_CARD_KEY
from tests.atm.conftest import money_snapshot

pytestmark = pytest.mark.django_db

ATM_PAGES = ["atm:balance", "atm:withdraw", "atm:deposit", "atm:transfer", "atm:pin", "atm:statement"]


def _messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(message) for message in get_messages(response.wsgi_request)]


def _set_last_activity(client, seconds_ago: float) -> None:  # type: ignore[no-untyped-def]
    session = client.session
    session[SESSION_ACTIVITY_KEY] = time.time() - seconds_ago
    session.save()


@pytest.mark.parametrize("page", ATM_PAGES)
def test_it_sends_a_browser_without_an_atm_session_to_login(client, page):
    response = client.get(reverse(page))
    assert response.status_code == 302 and response["Location"] == reverse("atm:login")


def test_it_shows_the_balance_page_with_no_caching(alice_at_atm, alice_customer):
    response = alice_at_atm.get(reverse("atm:balance"))
    content = response.content.decode()
    assert alice_customer.account.number in content
    assert "500.00 EUR" in content
    assert alice_customer.card.masked_pan in content and alice_customer.pan not in content
    assert "no-store" in response["Cache-Control"]


def test_it_sends_a_logged_in_card_from_the_login_page_to_the_balance(alice_at_atm):
    response = alice_at_atm.get(reverse("atm:login"))
    assert response.status_code == 302 and response["Location"] == reverse("atm:balance")


def test_it_ends_the_session_after_two_idle_minutes(alice_at_atm):
    _set_last_activity(alice_at_atm, 121)
    response = alice_at_atm.get(reverse("atm:balance"))
    assert response.status_code == 302 and response["Location"] == reverse("atm:login")
    assert _messages(response) == ["Your session ended after 2 minutes without activity. Please log in again."]
    assert SESSION_CARD_KEY not in alice_at_atm.session
    assert alice_at_atm.get(reverse("atm:balance"))["Location"] == reverse("atm:login")


def test_it_keeps_an_active_session_alive_and_restarts_the_idle_clock(alice_at_atm):
    _set_last_activity(alice_at_atm, 110)
    assert alice_at_atm.get(reverse("atm:balance")).status_code == 200
    assert time.time() - alice_at_atm.session[SESSION_ACTIVITY_KEY] < 60
    assert alice_at_atm.get(reverse("atm:statement")).status_code == 200


def test_it_words_the_idle_notice_from_the_setting(alice_at_atm, settings):
    settings.ATM_SESSION_IDLE_SECONDS = 45
    _set_last_activity(alice_at_atm, 46)
    response = alice_at_atm.get(reverse("atm:balance"))
    assert _messages(response) == ["Your session ended after 45 seconds without activity. Please log in again."]


def test_it_logs_out_on_post_and_forgets_the_card(alice_at_atm):
    key = alice_at_atm.session.session_key
    response = alice_at_atm.post(reverse("atm:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("atm:login")
    assert _messages(response) == ["You are logged out. Take your card."]
    assert alice_at_atm.session.session_key != key
    assert alice_at_atm.get(reverse("atm:balance"))["Location"] == reverse("atm:login")


def test_it_refuses_logout_by_get(alice_at_atm):
    assert alice_at_atm.get(reverse("atm:logout")).status_code == 405
    assert alice_at_atm.get(reverse("atm:balance")).status_code == 200


def test_it_logs_out_a_card_that_staff_blocked_during_the_session(alice_at_atm, alice_customer):
    card_block(card_id=alice_customer.card.pk)
    response = alice_at_atm.get(reverse("atm:balance"))
    assert response["Location"] == reverse("atm:login")
    assert _messages(response) == ["This card is blocked. Please contact your bank."]
    assert SESSION_CARD_KEY not in alice_at_atm.session


def test_it_logs_out_a_card_that_expired_during_the_session(alice_at_atm, alice_customer):
    Card.objects.filter(pk=alice_customer.card.pk).update(expiry=datetime.date(2020, 1, 31))
    response = alice_at_atm.get(reverse("atm:withdraw"))
    assert response["Location"] == reverse("atm:login")
    assert _messages(response) == ["This card has expired. Please contact your bank."]


def test_it_does_not_let_an_atm_session_into_the_admin(alice_at_atm):
    response = alice_at_atm.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_stores_only_the_card_id_and_the_last_activity_in_the_session(alice_at_atm, alice_customer):
    alice_at_atm.get(reverse("atm:balance"))
    session = dict(alice_at_atm.session.items())
    assert set(session) == {SESSION_CARD_KEY, SESSION_ACTIVITY_KEY}
    assert session[SESSION_CARD_KEY] == alice_customer.card.pk


def test_it_moves_no_money_for_a_form_posted_after_the_idle_timeout(alice_at_atm, alice_customer):
    token = alice_at_atm.get(reverse("atm:deposit")).context["form"]["token"].value()
    _set_last_activity(alice_at_atm, 121)
    before = money_snapshot()
    response = alice_at_atm.post(reverse("atm:deposit"), {"amount": "50", "token": token})
    assert response["Location"] == reverse("atm:login")
    assert money_snapshot() == before
