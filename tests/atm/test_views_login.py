"""Web ATM login: card checks, one message for unknown cards and wrong PINs, lockout, throttling."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.cards import pan_fingerprint
from accounts.models import Card, CardNumberTries, LoginAttempt
from accounts.services import card_unblock
from atm.session import SESSION_CARD_KEY
from tests.atm.conftest import (
    BLOCKED,
    JUST_BLOCKED,
    ONE_LEFT,
    TWO_LEFT,
    UNKNOWN_PAN,
    atm_login,
    form_errors,
    login_post,
)

pytestmark = pytest.mark.django_db



def test_it_shows_the_login_form(client):
    response = client.get(reverse("atm:login"))
    assert response.status_code == 200
    assert b'name="card_number"' in response.content and b'type="password"' in response.content
    assert "no-store" in response["Cache-Control"]


def test_it_logs_in_with_card_and_pin_under_a_new_session_key(client, alice_customer):
    client.get(reverse("atm:login"))
    before = client.session.session_key
    response = atm_login(client, alice_customer)
    assert response.status_code == 302 and response["Location"] == reverse("atm:balance")
    assert client.session.session_key != before
    assert client.session[SESSION_CARD_KEY] == alice_customer.card.pk
    assert LoginAttempt.objects.get().succeeded


def test_it_accepts_a_card_number_typed_in_groups(client, alice_customer):
    grouped = f"{alice_customer.pan[:4]} {alice_customer.pan[4:8]}-{alice_customer.pan[8:]}"
    assert login_post(client, grouped, alice_customer.pin).status_code == 302


def test_it_gives_a_wrong_pin_and_an_unknown_card_the_same_message(client, alice_customer):
    wrong = login_post(client, alice_customer.pan, "9753")
    unknown = login_post(client, UNKNOWN_PAN, alice_customer.pin)
    assert form_errors(wrong) == form_errors(unknown) == {"__all__": [TWO_LEFT]}
    assert TWO_LEFT in wrong.content.decode() and SESSION_CARD_KEY not in client.session
    assert Card.objects.get(pk=alice_customer.card.pk).failed_pin_attempts == 1


def test_it_keeps_the_card_number_but_never_renders_the_pin_back(client, alice_customer):
    response = login_post(client, alice_customer.pan, "9753")
    assert "9753" not in response.content.decode()
    assert f'name="card_number" value="{alice_customer.pan}"' in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]


def test_it_forgets_the_card_number_once_the_card_is_blocked(client, alice_customer):
    for _ in range(3):
        response = login_post(client, alice_customer.pan, "9753")
    assert alice_customer.pan not in response.content.decode()


@pytest.mark.parametrize(
    ("card_number", "message"),
    [
        ("", "Enter your card number."),
        ("4111 1111 1111 111a", "Enter the card number using digits only."),
        ("４１１１１１１１１１１１１１１１", "Enter the card number using digits only."),
        ("411111111111", "A card number has 13 to 19 digits."),
        ("41111111111111111113", "A card number has 13 to 19 digits."),
        ("4" * 5000, "A card number has 13 to 19 digits."),
        ("4111111111111112", "This is not a valid card number. Check the digits and try again."),
    ],
)


def test_it_refuses_malformed_card_numbers_with_a_clear_message(client, card_number, message):
    response = login_post(client, card_number, "2468")
    assert response.status_code == 200
    assert form_errors(response) == {"card_number": [message]}
    assert message in response.content.decode()
    assert not LoginAttempt.objects.exists()


@pytest.mark.parametrize(("pin", "message"), [("", "Enter your PIN."), ("12", "A PIN is 4 to 6 digits."),
                                             ("12ab", "A PIN is 4 to 6 digits.")])
def test_it_refuses_a_malformed_pin_without_counting_it(client, alice_customer, pin, message):
    response = login_post(client, alice_customer.pan, pin)
    assert form_errors(response) == {"pin": [message]}
    assert Card.objects.get(pk=alice_customer.card.pk).failed_pin_attempts == 0


def test_it_blocks_the_card_at_the_third_wrong_pin_and_says_so(client, alice_customer):
    answers = [form_errors(login_post(client, alice_customer.pan, "9753")) for _ in range(2)]
    assert answers == [{"__all__": [TWO_LEFT]}, {"__all__": [ONE_LEFT]}]
    third = login_post(client, alice_customer.pan, "9753")
    assert form_errors(third) == {"__all__": [JUST_BLOCKED]}
    assert JUST_BLOCKED in third.content.decode()
    right_pin = login_post(client, alice_customer.pan, alice_customer.pin)
    # As an unknown number answers after three tries: nothing to learn.
    assert form_errors(right_pin) == {"__all__": [BLOCKED]}
    assert SESSION_CARD_KEY not in client.session
    assert Card.objects.get(pk=alice_customer.card.pk).status == Card.Status.BLOCKED


def test_it_answers_a_card_and_an_unknown_number_alike_from_browser_to_browser(alice_customer):
    answers: dict[str, list[list[str]]] = {alice_customer.pan: [], UNKNOWN_PAN: []}
    for number in range(5):  # each try from a new browser (no cookies) at a new address
        for pan, seen in answers.items():
            seen.append(form_errors(login_post(Client(), pan, "9753", REMOTE_ADDR=f"198.51.{number}.7"))["__all__"])
    assert answers[alice_customer.pan] == answers[UNKNOWN_PAN] == [
        [TWO_LEFT], [ONE_LEFT], [JUST_BLOCKED], [BLOCKED], [BLOCKED]]
    assert CardNumberTries.objects.get(pan_hmac=pan_fingerprint(UNKNOWN_PAN)).failed_pin_attempts == 3
    assert Card.objects.get(pk=alice_customer.card.pk).status == Card.Status.BLOCKED


def test_it_lets_the_card_in_again_after_staff_unblock(client, alice_customer, bob_teller):
    for _ in range(3):
        login_post(client, alice_customer.pan, "9753")
    card_unblock(card_id=alice_customer.card.pk)
    assert atm_login(client, alice_customer).status_code == 302
    assert client.session[SESSION_CARD_KEY] == alice_customer.card.pk


def test_it_hides_card_number_and_pin_from_error_reports(client, alice_customer):
    response = login_post(client, alice_customer.pan, "9753")
    assert response.wsgi_request.sensitive_post_parameters == ("card_number", "pin")


def test_it_refuses_a_login_without_a_csrf_token(alice_customer):
    client = Client(enforce_csrf_checks=True)
    assert atm_login(client, alice_customer).status_code == 403
    assert Card.objects.get(pk=alice_customer.card.pk).failed_pin_attempts == 0


THROTTLED = {"__all__": ["Too many login attempts from this address. Please wait a few minutes and try again."]}


def _throttle(address: str, limit: int) -> None:
    """Fail `limit` logins from `address` with a number issued to nobody (then on record as wrongly tried)."""
    for _ in range(limit):
        login_post(Client(), UNKNOWN_PAN, "9753", REMOTE_ADDR=address)


def test_it_lets_the_right_pin_in_once_on_a_throttled_shared_address_without_a_device_cookie(settings, alice_customer):
    settings.ATM_LOGIN_THROTTLE_ATTEMPTS = 3
    _throttle("10.7.7.7", 3)
    assert form_errors(login_post(Client(), UNKNOWN_PAN, "9753", REMOTE_ADDR="10.7.7.7")) == THROTTLED
    colleague = Client()
    assert atm_login(colleague, alice_customer, REMOTE_ADDR="10.7.7.7").status_code == 302
    assert colleague.session[SESSION_CARD_KEY] == alice_customer.card.pk
    # one check of the number in the window from there: a second browser is refused before any PIN check
    assert form_errors(atm_login(Client(), alice_customer, REMOTE_ADDR="10.7.7.7")) == THROTTLED


def test_it_refuses_the_right_pin_after_a_wrong_one_on_a_throttled_address(settings, alice_customer):
    settings.ATM_LOGIN_THROTTLE_ATTEMPTS = 3
    _throttle("10.7.7.7", 3)
    assert form_errors(login_post(Client(), alice_customer.pan, "9753", REMOTE_ADDR="10.7.7.7")) == {
        "__all__": [TWO_LEFT]}
    assert form_errors(atm_login(Client(), alice_customer, REMOTE_ADDR="10.7.7.7")) == THROTTLED
    assert Card.objects.get(pk=alice_customer.card.pk).failed_pin_attempts == 1
    assert atm_login(Client(), alice_customer, REMOTE_ADDR="10.8.8.8").status_code == 302
