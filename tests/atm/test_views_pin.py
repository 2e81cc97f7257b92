"""Web ATM PIN change, and the forced change after a PIN issued by staff."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import Card
from accounts.services import card_pin_reset
from tests.atm.conftest import atm_login, money_snapshot

pytestmark = pytest.mark.django_db


def _change(client: Client, old: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    data = {"old_pin": old, "new_pin": new, "new_pin_again": new if again is None else again}
    return client.post(reverse("atm:pin"), data)


def _card(holder) -> Card:  # type: ignore[no-untyped-def]
    return Card.objects.get(pk=holder.card.pk)


def test_it_changes_the_pin(alice_at_atm, alice_customer):
    response = _change(alice_at_atm, "2468", "8642")
    assert response.status_code == 302 and response["Location"] == reverse("atm:balance")
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Your PIN has been changed."]
    alice_customer.pin = "8642"
    assert atm_login(Client(), alice_customer).status_code == 302
    alice_customer.pin = "2468"
    assert atm_login(Client(), alice_customer).status_code == 200


@pytest.mark.parametrize(
    ("old", "new", "again", "errors"),
    [
        ("2468", "8642", "8643", {"new_pin_again": ["The two new PINs are not the same."]}),
        ("2468", "1234", None, {"new_pin": ["This PIN is too easy to guess. Choose another."]}),
        ("2468", "0000", None, {"new_pin": ["This PIN is too easy to guess. Choose another."]}),
        ("2468", "2468", None, {"new_pin": ["The new PIN must differ from the current PIN."]}),
        ("2468", "12a4", None, {"new_pin": ["A PIN is 4 to 6 digits."]}),
        ("2468", "1234567", None, {"new_pin": ["A PIN is 4 to 6 digits."], "new_pin_again": ["A PIN is 4 to 6 digits."]}),
        ("", "", "", {"old_pin": ["Enter your current PIN."], "new_pin": ["Enter a new PIN."],
                      "new_pin_again": ["Enter the new PIN a second time."]}),
    ],
)
def test_it_refuses_a_bad_new_pin_and_keeps_the_old_one(alice_at_atm, alice_customer, old, new, again, errors):
    pin_hash = _card(alice_customer).pin_hash
    response = _change(alice_at_atm, old, new, again)
    assert response.status_code == 200
    assert response.context["form"].errors == errors
    assert _card(alice_customer).pin_hash == pin_hash
    assert _card(alice_customer).failed_pin_attempts == 0


def test_it_counts_a_wrong_current_pin_toward_the_lockout(alice_at_atm, alice_customer):
    pin_hash = _card(alice_customer).pin_hash
    response = _change(alice_at_atm, "9753", "8642")
    assert response.context["form"].errors == {"old_pin": ["The current PIN is not correct."]}
    assert "9753" not in response.content.decode() and "8642" not in response.content.decode()
    assert (_card(alice_customer).pin_hash, _card(alice_customer).failed_pin_attempts) == (pin_hash, 1)


def test_it_hides_pins_from_error_reports(alice_at_atm):
    response = _change(alice_at_atm, "9753", "8642")
    assert response.wsgi_request.sensitive_post_parameters == ("old_pin", "new_pin", "new_pin_again")


@pytest.mark.parametrize("page", ["atm:balance", "atm:withdraw", "atm:deposit", "atm:transfer", "atm:statement"])
def test_it_sends_a_card_with_a_staff_issued_pin_to_change_it_first(client, alice_customer, page):
    Card.objects.filter(pk=alice_customer.card.pk).update(must_change_pin=True)
    atm_login(client, alice_customer)
    response = client.get(reverse(page))
    assert response.status_code == 302 and response["Location"] == reverse("atm:pin")


def test_it_moves_no_money_before_a_staff_issued_pin_is_changed(client, alice_customer):
    Card.objects.filter(pk=alice_customer.card.pk).update(must_change_pin=True)
    atm_login(client, alice_customer)
    before = money_snapshot()
    response = client.post(reverse("atm:deposit"), {"amount": "50", "token": "a" * 32})
    assert response["Location"] == reverse("atm:pin")
    assert money_snapshot() == before


def test_it_completes_the_forced_pin_change_flow(client, alice_customer):
    pin = card_pin_reset(card_id=alice_customer.card.pk)
    alice_customer.pin = pin
    login = atm_login(client, alice_customer)
    assert client.get(login["Location"])["Location"] == reverse("atm:pin")
    pin_page = client.get(reverse("atm:pin")).content.decode()
    assert "Your PIN was set by the bank. Choose your own PIN before you continue." in pin_page
    assert reverse("atm:withdraw") not in pin_page
    assert _change(client, pin, "8642")["Location"] == reverse("atm:balance")
    assert client.get(reverse("atm:balance")).status_code == 200
    assert _card(alice_customer).must_change_pin is False


def test_it_still_lets_a_card_that_must_change_its_pin_log_out(client, alice_customer):
    Card.objects.filter(pk=alice_customer.card.pk).update(must_change_pin=True)
    atm_login(client, alice_customer)
    assert client.post(reverse("atm:logout"))["Location"] == reverse("atm:login")
    assert client.get(reverse("atm:pin"))["Location"] == reverse("atm:login")


def test_it_redirects_to_pin_change_when_staff_reset_the_pin_mid_session(alice_at_atm, alice_customer):
    card_pin_reset(card_id=alice_customer.card.pk)
    assert alice_at_atm.get(reverse("atm:balance"))["Location"] == reverse("atm:pin")
