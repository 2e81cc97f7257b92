"""Card services: PIN checks count failures under a lock and block at the third."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction

from accounts.cards import pan_fingerprint
from accounts.exceptions import AccountsError, AuthenticationFailed, CardBlocked, PinRejected
from accounts.models import Card, CardNumberTries
from accounts.services import (
    card_authenticate,
    card_block,
    card_change_pin,
    card_check_pin,
    card_issue,
    card_pin_reset,
    card_unblock,
)
from tests.factories import funded_card
from tests.support.statements import statements_of

pytestmark = pytest.mark.django_db

UNKNOWN_PAN = "4000000000000002"  # Luhn-valid, issued to nobody


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
    assert unknown.value.tries_left == wrong.value.tries_left == 2


def answers(pan: str, pin: str, times: int) -> list[tuple[str, str, int | None]]:
    """Try `pan` with `pin` `times` times; return each refusal's kind, message and tries left."""
    seen = []
    for _ in range(times):
        with pytest.raises(AccountsError) as refused:
            card_authenticate(pan=pan, pin=pin)
        seen.append((type(refused.value).__name__, str(refused.value), getattr(refused.value, "tries_left", None)))
    return seen


LIVE_CARD_ANSWERS = [
    ("AuthenticationFailed", "Card number or PIN is not correct.", 2),
    ("AuthenticationFailed", "Card number or PIN is not correct.", 1),
    ("CardJustBlocked", "Wrong PIN entered three times: this card is now blocked. Please contact your bank.", None),
    ("CardBlocked", "This card is blocked. Please contact your bank.", None),
    ("CardBlocked", "This card is blocked. Please contact your bank.", None),
]


def test_it_counts_an_unknown_numbers_tries_in_the_database_as_a_live_cards(alice_customer):
    assert answers(alice_customer.pan, "0001", 5) == answers(UNKNOWN_PAN, "0001", 5) == LIVE_CARD_ANSWERS
    counted = dict(CardNumberTries.objects.values_list("pan_hmac", "failed_pin_attempts"))
    # the blocked card's number remembers it too, whatever staff later do to the card's own count
    assert counted == {pan_fingerprint(UNKNOWN_PAN): 3, alice_customer.card.pan_hmac: 3}


def test_it_stores_no_card_number_in_clear_for_an_unknown_number():
    answers(UNKNOWN_PAN, "0001", 1)
    row = CardNumberTries.objects.values().get()
    assert row["pan_hmac"] == pan_fingerprint(UNKNOWN_PAN)
    assert not any(UNKNOWN_PAN[-4:] in str(value) or UNKNOWN_PAN[:6] in str(value) for value in row.values())


def test_it_carries_a_blocked_or_expired_cards_count_on_from_where_the_card_left_it(alice_customer):
    bob_customer = funded_card(first_name="Bob", balance_minor=0, pin="4826")
    answers(alice_customer.pan, "0001", 1)
    card_block(card_id=alice_customer.card.pk)  # by staff, after one wrong PIN
    answers(bob_customer.pan, "0001", 1)
    Card.objects.filter(pk=bob_customer.card.pk).update(expiry=datetime.date(2020, 1, 31))
    assert answers(alice_customer.pan, alice_customer.pin, 4) == LIVE_CARD_ANSWERS[1:]
    assert answers(bob_customer.pan, bob_customer.pin, 4) == LIVE_CARD_ANSWERS[1:]


def test_it_keeps_answering_blocked_after_a_pin_reset_of_a_blocked_card(alice_customer):
    answers(alice_customer.pan, "0001", 3)
    new_pin = card_pin_reset(card_id=alice_customer.card.pk)  # the card stays blocked, its own count is 0
    assert answers(alice_customer.pan, new_pin, 1) == LIVE_CARD_ANSWERS[3:4]


def test_it_gives_an_unblocked_card_its_three_tries_back(alice_customer):
    answers(alice_customer.pan, "0001", 4)
    card_unblock(card_id=alice_customer.card.pk)
    assert not CardNumberTries.objects.exists()
    assert answers(alice_customer.pan, "0001", 1) == LIVE_CARD_ANSWERS[:1]


def test_it_blocks_the_card_at_the_third_wrong_pin_until_staff_unblock(alice_customer):
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            card_authenticate(pan=alice_customer.pan, pin="0001")
    with pytest.raises(CardBlocked, match="Wrong PIN entered three times"):
        card_authenticate(pan=alice_customer.pan, pin="0001")
    with pytest.raises(CardBlocked, match=r"^This card is blocked\. Please contact your bank\.$"):
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


ASYNCHRONOUS = "SET LOCAL synchronous_commit TO OFF"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_postgresql_a_right_pin_with_nothing_to_reset_commits_without_waiting_for_the_disk():
    holder = funded_card(pin="2468")

    sent = statements_of(lambda: card_check_pin(card_id=holder.card.pk, pin="2468"))

    assert ASYNCHRONOUS in sent  # the transaction only locked the card row


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_postgresql_a_counted_pin_check_waits_for_the_disk():
    holder = funded_card(pin="2468")

    def wrong() -> None:
        with pytest.raises(AuthenticationFailed):
            card_check_pin(card_id=holder.card.pk, pin="1357")

    assert ASYNCHRONOUS not in statements_of(wrong)  # the wrong PIN is counted for good
    assert ASYNCHRONOUS not in statements_of(lambda: card_check_pin(card_id=holder.card.pk, pin="2468"))  # the reset
    assert Card.objects.get(pk=holder.card.pk).failed_pin_attempts == 0

    def inside_a_callers_transaction() -> None:
        with transaction.atomic():
            card_check_pin(card_id=holder.card.pk, pin="2468")

    assert ASYNCHRONOUS not in statements_of(inside_a_callers_transaction)  # that one decides for itself


def test_a_pin_hashed_with_other_argon2_parameters_still_logs_in_and_is_rehashed(alice_customer, settings):
    settings.ATM_ARGON2_TIME_COST, settings.ATM_ARGON2_MEMORY_KIB = 2, 16  # the configured cost changes
    old_hash = Card.objects.get(pk=alice_customer.card.pk).pin_hash
    assert "m=8,t=1" in old_hash

    card_authenticate(pan=alice_customer.pan, pin=alice_customer.pin)

    new_hash = Card.objects.get(pk=alice_customer.card.pk).pin_hash
    assert "m=16,t=2" in new_hash
    assert card_authenticate(pan=alice_customer.pan, pin=alice_customer.pin).pk == alice_customer.card.pk
    with pytest.raises(AuthenticationFailed):
        card_authenticate(pan=alice_customer.pan, pin="9999")
    assert Card.objects.get(pk=alice_customer.card.pk).pin_hash == new_hash  # only a right PIN re-hashes
