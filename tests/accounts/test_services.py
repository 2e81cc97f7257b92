"""Card services: PIN checks count failures under a lock and block at the third."""

from __future__ import annotations

import pytest

from accounts.cards import pan_fingerprint
from accounts.exceptions import AuthenticationFailed, CardBlocked, PinRejected
from accounts.models import Card
from accounts.services import card_authenticate, card_change_pin, card_issue, card_unblock

pytestmark = pytest.mark.django_db


def test_it_authenticates_with_the_right_pin_and_resets_failures(alice_customer):
    with pytest.raises(AuthenticationFailed):
        card_authenticate(pan=alice_customer.pan, pin="9999")
    card = card_authenticate(pan=alice_customer.pan, pin=alice_customer.pin)
    assert card.pk == alice_customer.card.pk
    assert Card.objects.get(pk=card.pk).failed_pin_attempts == 0


def test_it_gives_unknown_cards_the_same_message_as_wrong_pins(alice_customer):
    with pytest.raises(AuthenticationFailed) as unknown:
        card_authenticate(pan="4000000000000002", pin="2468")
    with pytest.raises(AuthenticationFailed) as wrong:
        card_authenticate(pan=alice_customer.pan, pin="0001")
    assert str(unknown.value) == str(wrong.value) == "Card number or PIN is not correct."


def test_it_blocks_the_card_at_the_third_wrong_pin_until_staff_unblock(alice_customer):
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            card_authenticate(pan=alice_customer.pan, pin="0001")
    with pytest.raises(CardBlocked, match="Wrong PIN entered three times"):
        card_authenticate(pan=alice_customer.pan, pin="0001")
    with pytest.raises(AuthenticationFailed, match=r"^Card number or PIN is not correct\.$"):
        card_authenticate(pan=alice_customer.pan, pin=alice_customer.pin)
    card_unblock(card_id=alice_customer.card.pk)
    assert card_authenticate(pan=alice_customer.pan, pin=alice_customer.pin).failed_pin_attempts == 0


def test_it_changes_the_pin_and_clears_the_must_change_flag(alice_customer):
    Card.objects.filter(pk=alice_customer.card.pk).update(must_change_pin=True)
    with pytest.raises(PinRejected, match="too easy"):
        card_change_pin(card_id=alice_customer.card.pk, old_pin=alice_customer.pin, new_pin="1111")
    card_change_pin(card_id=alice_customer.card.pk, old_pin=alice_customer.pin, new_pin="8642")
    assert card_authenticate(pan=alice_customer.pan, pin="8642").must_change_pin is False
    with pytest.raises(AuthenticationFailed):
        card_authenticate(pan=alice_customer.pan, pin=alice_customer.pin)


def test_it_stores_only_a_fingerprint_bin_and_last_four_of_an_issued_card(alice_customer):
    issued = card_issue(account=alice_customer.account, network="mastercard")
    card = Card.objects.get(pk=issued.card.pk)
    assert card.pan_hmac == pan_fingerprint(issued.pan)
    assert (card.bin, card.last4, card.network) == (issued.pan[:6], issued.pan[-4:], "mastercard")
    assert card.must_change_pin
    stored = " ".join(str(value) for value in Card.objects.filter(pk=card.pk).values().first().values())
    assert issued.pan not in stored and issued.pin not in card.pin_hash


def test_it_refuses_to_close_a_funded_account_even_past_the_form(alice_customer):
    from accounts.exceptions import AccountsError
    from accounts.services import account_update

    with pytest.raises(AccountsError, match="Pay out the balance before closing the account."):
        account_update(account_id=alice_customer.account.pk, status="closed", daily_withdrawal_limit_minor=0)
    assert alice_customer.account.__class__.objects.get(pk=alice_customer.account.pk).status == "open"


def test_it_opens_accounts_only_in_a_configured_currency(alice_customer, settings):
    from accounts.exceptions import AccountsError
    from accounts.models import Account
    from accounts.services import account_open

    before = Account.objects.count()
    with pytest.raises(AccountsError, match=r"^The bank keeps no accounts in XYZ\. Choose one of: EUR\.$"):
        account_open(customer=alice_customer.customer, currency="XYZ")
    assert Account.objects.count() == before
    settings.ATM_CURRENCIES = ["EUR", "USD"]
    assert account_open(customer=alice_customer.customer, currency="USD").currency == "USD"
