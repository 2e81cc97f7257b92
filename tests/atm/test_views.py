"""Web ATM money pages: each operation moves money once and shows a receipt; bad input moves nothing."""

from __future__ import annotations

import time

import pytest
from django.contrib.messages import get_messages
from django.core import signing
from django.test import Client
from django.urls import reverse

from accounts.iban import iban_for
from accounts.models import Account, Card
from atm.confirmation import CHANGED_MESSAGE, EXPIRED_MESSAGE, NOT_CONFIRMED_MESSAGE
from atm.session import SESSION_CARD_KEY
from tests.atm.conftest import atm_login, form_token, money_snapshot
from transactions.models import LedgerEntry
from transactions.services import deposit_create

pytestmark = pytest.mark.django_db

NUMBER_MESSAGE = "Enter the amount as a number, for example 20 or 12.50."
TOKEN_MESSAGE = "This form has expired. Please check the details and submit it again."


def _balance(holder) -> int:  # type: ignore[no-untyped-def]
    return Account.objects.get(pk=holder.account.pk).balance_minor


def _submit(client, page: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    """Open the page like a browser, then post `data` with the rendered token unless data sets its own."""
    token = form_token(client.get(reverse(page)))
    return client.post(reverse(page), {"token": token, **data})


def _spaced(number: str) -> str:
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4)).lower()


def test_it_withdraws_cash_and_shows_the_receipt(alice_at_atm, alice_customer):
    page = alice_at_atm.get(reverse("atm:withdraw"))
    # the daily limit is 1,000.00 but the balance 500.00: the page offers what can really be paid out
    assert "Up to 500.00 EUR more today, in multiples of 10.00 EUR." in page.content.decode()
    response = alice_at_atm.post(reverse("atm:withdraw"), {"amount": "50", "pin": "2468", "token": form_token(page)})
    entry = LedgerEntry.objects.get(account=alice_customer.account, kind=LedgerEntry.Kind.WITHDRAWAL)
    assert response.status_code == 302 and response["Location"] == reverse("atm:receipt", args=[entry.pk])
    assert (entry.amount_minor, entry.balance_after_minor, entry.channel) == (-5_000, 45_000, "atm")
    assert entry.idempotency_key == f"atm:{alice_customer.card.pk}:{form_token(page)}"
    assert _balance(alice_customer) == 45_000
    receipt = alice_at_atm.get(response["Location"]).content.decode()
    for text in (entry.reference, "Withdrawal", "-50.00 EUR", "450.00 EUR", alice_customer.card.masked_pan):
        assert text in receipt


def test_it_deposits_and_shows_the_receipt(alice_at_atm, alice_customer):
    response = _submit(alice_at_atm, "atm:deposit", {"amount": "25,00"})
    entry = LedgerEntry.objects.filter(account=alice_customer.account).first()
    assert response["Location"] == reverse("atm:receipt", args=[entry.pk])
    assert (entry.kind, entry.amount_minor, entry.balance_after_minor) == ("deposit", 2_500, 52_500)
    assert _balance(alice_customer) == 52_500
    receipt = alice_at_atm.get(response["Location"]).content.decode()
    assert "+25.00 EUR" in receipt and "525.00 EUR" in receipt and "Deposit" in receipt


@pytest.mark.parametrize(("amount", "message"), [
    ("12.50", "The ATM takes whole notes: deposit a multiple of 5.00 EUR."),
    ("3005", "The ATM takes at most 3,000.00 EUR in one deposit."),
    ("10000000000", "The ATM takes at most 3,000.00 EUR in one deposit."),
])
def test_it_takes_only_whole_notes_up_to_the_deposit_cap(alice_at_atm, amount, message):
    before = money_snapshot()
    response = _submit(alice_at_atm, "atm:deposit", {"amount": amount})
    assert response.context["form"].errors == {"amount": [message]}
    assert money_snapshot() == before


def test_it_caps_deposits_per_day(alice_at_atm, settings):
    settings.ATM_DEPOSIT_DAILY_LIMIT_MINOR = 400_000
    assert _submit(alice_at_atm, "atm:deposit", {"amount": "3000"}).status_code == 302
    before = money_snapshot()
    response = _submit(alice_at_atm, "atm:deposit", {"amount": "1005"})
    assert response.context["form"].errors == {
        "amount": ["This exceeds your daily deposit limit: 1,000.00 EUR left today."]
    }
    assert money_snapshot() == before
    assert _submit(alice_at_atm, "atm:deposit", {"amount": "1000"}).status_code == 302


def test_it_limits_transfers_per_day(alice_at_atm, charlie_customer, settings):
    settings.ATM_TRANSFER_DAILY_LIMIT_MINOR = 15_000
    number = charlie_customer.account.number
    assert _confirm(alice_at_atm, _submit(alice_at_atm, "atm:transfer", {"to_account": number, "amount": "100"})
                    ).status_code == 302
    before = money_snapshot()
    response = _submit(alice_at_atm, "atm:transfer", {"to_account": number, "amount": "60"})
    assert response.context["form"].errors == {
        "amount": ["This exceeds your daily transfer limit: 50.00 EUR left today."]
    }
    assert money_snapshot() == before


def test_it_moves_nothing_when_the_confirmed_transfer_was_changed(alice_at_atm, charlie_customer):
    page = _submit(alice_at_atm, "atm:transfer", {"to_account": charlie_customer.account.number, "amount": "20"})
    before = money_snapshot()
    form = page.context["form"]
    data = {"to_account": "NL00 ATMB 0000 0000 09", "amount": "20", "token": form["token"].value(), "pin": "2468"}
    response = alice_at_atm.post(reverse("atm:transfer"), data)
    assert response.context["form"].errors == {"to_account": ["This is not a valid account number. Check it and try again."]}
    assert money_snapshot() == before


def _confirm(client, page, pin: str = "2468"):  # type: ignore[no-untyped-def]
    """Post the transfer confirmation page as rendered, with `pin`."""
    form = page.context["form"]
    data = {name: form[name].value() for name in ("to_account", "amount", "token", "confirmation")}
    return client.post(reverse("atm:transfer"), {**data, "pin": pin})


def _confirmed(client, charlie_customer, amount: str = "20") -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Open the transfer page, post the first step, and return the confirmation page's form data with the PIN."""
    page = _submit(client, "atm:transfer", {"to_account": charlie_customer.account.number, "amount": amount})
    assert "Confirm the transfer" in page.content.decode()
    form = page.context["form"]
    return {**{name: form[name].value() for name in ("to_account", "amount", "token", "confirmation")}, "pin": "2468"}


def _refused(response, message: str) -> None:  # type: ignore[no-untyped-def]
    """The first step is shown again with `message` above the form (a fresh token: nothing moved)."""
    assert response.status_code == 200 and "Confirm the transfer" not in response.content.decode()
    assert response.context["form"].errors == {"__all__": [message]}


def test_it_moves_no_money_without_the_confirmation_page(alice_at_atm, alice_customer, charlie_customer):
    before = money_snapshot()
    data = {"to_account": charlie_customer.account.number, "amount": "20", "pin": "2468"}
    _refused(_submit(alice_at_atm, "atm:transfer", data), NOT_CONFIRMED_MESSAGE)  # a script skipping the page
    forged = {**_confirmed(alice_at_atm, charlie_customer), "confirmation": "forged:1abc:xyz"}
    _refused(alice_at_atm.post(reverse("atm:transfer"), forged), NOT_CONFIRMED_MESSAGE)
    assert money_snapshot() == before
    assert Card.objects.get(pk=alice_customer.card.pk).failed_pin_attempts == 0  # refused before the PIN


@pytest.mark.parametrize("change", [{"amount": "200"}, {"amount": "20.01"}, {"to_account": iban_for("0000000009")},
                                    {"token": "0" * 32}])
def test_it_moves_no_money_when_the_transfer_changed_after_its_confirmation(
    alice_at_atm, alice_customer, charlie_customer, change
):
    data = _confirmed(alice_at_atm, charlie_customer)
    before = money_snapshot()
    _refused(alice_at_atm.post(reverse("atm:transfer"), {**data, **change}), CHANGED_MESSAGE)
    assert money_snapshot() == before
    assert alice_at_atm.post(reverse("atm:transfer"), data).status_code == 302  # the confirmed one still goes


def test_it_refuses_a_replayed_confirmation(alice_at_atm, alice_customer, charlie_customer):
    data = _confirmed(alice_at_atm, charlie_customer)
    assert alice_at_atm.post(reverse("atm:transfer"), data).status_code == 302
    after_first = money_snapshot()
    again = alice_at_atm.post(reverse("atm:transfer"), data, follow=True)  # the same post: its receipt, nothing moved
    assert "This operation had already been done." in again.content.decode()
    fresh_token = form_token(alice_at_atm.get(reverse("atm:transfer")))
    _refused(alice_at_atm.post(reverse("atm:transfer"), {**data, "token": fresh_token}), CHANGED_MESSAGE)
    other_session = Client()
    assert atm_login(other_session, alice_customer).status_code == 302
    _refused(other_session.post(reverse("atm:transfer"), data), NOT_CONFIRMED_MESSAGE)
    assert money_snapshot() == after_first
    assert LedgerEntry.objects.filter(account=alice_customer.account, kind="transfer_out").count() == 1


def test_it_refuses_an_expired_confirmation(alice_at_atm, charlie_customer, monkeypatch, settings):
    settings.ATM_TRANSFER_CONFIRM_SECONDS = 300
    with monkeypatch.context() as patched:  # the page was shown 301 seconds ago
        patched.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(int(time.time()) - 301))
        data = _confirmed(alice_at_atm, charlie_customer)
    before = money_snapshot()
    _refused(alice_at_atm.post(reverse("atm:transfer"), data), EXPIRED_MESSAGE)
    assert money_snapshot() == before


def test_it_transfers_after_a_confirmation_page_with_the_payee_masked_and_the_pin(
    alice_at_atm, alice_customer, charlie_customer
):
    before = money_snapshot()
    page = _submit(alice_at_atm, "atm:transfer", {"to_account": _spaced(charlie_customer.account.number),
                                                  "amount": "120"})
    text = page.content.decode()
    assert page.status_code == 200 and "Confirm the transfer" in text and "No money has moved yet." in text
    assert "C. C****" in text and charlie_customer.customer.last_name not in text and "120.00 EUR" in text
    assert money_snapshot() == before
    wrong = _confirm(alice_at_atm, page, pin="9753")
    assert wrong.context["form"].errors == {"pin": ["The PIN is not correct. 2 tries left before the card is blocked."]}
    assert money_snapshot() == before and "C. C****" in wrong.content.decode()
    response = _confirm(alice_at_atm, wrong)
    out_leg = LedgerEntry.objects.get(account=alice_customer.account, kind="transfer_out")
    in_leg = LedgerEntry.objects.get(account=charlie_customer.account, kind="transfer_in")
    assert response["Location"] == reverse("atm:receipt", args=[out_leg.pk])
    assert (out_leg.amount_minor, in_leg.amount_minor, out_leg.reference) == (-12_000, 12_000, in_leg.reference)
    assert (_balance(alice_customer), _balance(charlie_customer)) == (38_000, 22_000)
    receipt = alice_at_atm.get(response["Location"]).content.decode()
    assert charlie_customer.account.number in receipt and "-120.00 EUR" in receipt and "380.00 EUR" in receipt


def test_it_shows_the_last_ten_entries_newest_first(alice_at_atm, alice_customer):
    for n in range(1, 13):
        deposit_create(account_id=alice_customer.account.pk, amount_minor=n * 100, idempotency_key=f"st-{n}")
    response = alice_at_atm.get(reverse("atm:statement"))
    entries = response.context["entries"]
    assert [entry.amount_minor for entry in entries] == [n * 100 for n in range(12, 2, -1)]
    content = response.content.decode()
    assert "+12.00" in content and "+3.00" in content and "+2.00" not in content


def test_it_hides_another_customers_receipt(alice_at_atm, charlie_customer):
    other = LedgerEntry.objects.get(account=charlie_customer.account)
    assert alice_at_atm.get(reverse("atm:receipt", args=[other.pk])).status_code == 404
    assert alice_at_atm.get(reverse("atm:receipt", args=[other.pk + 1000])).status_code == 404


def test_it_moves_money_once_when_a_form_is_submitted_twice(alice_at_atm, alice_customer):
    page = alice_at_atm.get(reverse("atm:withdraw"))
    data = {"amount": "40", "pin": "2468", "token": form_token(page)}
    first = alice_at_atm.post(reverse("atm:withdraw"), data)
    again = alice_at_atm.post(reverse("atm:withdraw"), data)
    assert first["Location"] == again["Location"]
    assert [str(m) for m in get_messages(again.wsgi_request)] == [
        "This operation had already been done. Here is its receipt; no money moved again."
    ]
    assert _balance(alice_customer) == 46_000
    assert LedgerEntry.objects.filter(account=alice_customer.account, kind="withdrawal").count() == 1


def test_it_refuses_a_used_token_for_a_different_amount(alice_at_atm, alice_customer):
    page = alice_at_atm.get(reverse("atm:deposit"))
    alice_at_atm.post(reverse("atm:deposit"), {"amount": "10", "token": form_token(page)})
    before = money_snapshot()
    response = alice_at_atm.post(reverse("atm:deposit"), {"amount": "20", "token": form_token(page)})
    assert response.context["form"].errors == {
        "__all__": ["This request key was already used for a different operation."]
    }
    assert money_snapshot() == before
    assert form_token(response) != form_token(page)


BASE = {
    "atm:withdraw": {"amount": "50", "pin": "2468"},
    "atm:deposit": {"amount": "50"},
    "atm:transfer": {"amount": "50", "to_account": "CHARLIE"},
}
COMMON_CASES = [
    ({"amount": "-10"}, "amount", "The amount must be more than zero."),
    ({"amount": "1,000"}, "amount", "Write the amount without a thousands separator (1000, not 1,000), with at most "
                                    "two decimals."),
    ({"amount": "0"}, "amount", "The amount must be more than zero."),
    ({"amount": "0.00"}, "amount", "The amount must be more than zero."),
    ({"amount": "ten"}, "amount", NUMBER_MESSAGE),
    ({"amount": "1e3"}, "amount", NUMBER_MESSAGE),
    ({"amount": "99999999999"}, "amount", "This amount is too large."),
    ({"amount": "9" * 200_000}, "amount", "This amount is too large."),
    ({"amount": "10.555"}, "amount", "Use at most two decimals."),
    ({"amount": ""}, "amount", "Enter an amount."),
    ({"token": "not-a-token"}, "token", TOKEN_MESSAGE),
    ({"token": ""}, "token", TOKEN_MESSAGE),
    ({"token": "A" * 32}, "token", TOKEN_MESSAGE),
]
SPECIFIC_CASES = [
    ("atm:withdraw", {"amount": "15"}, "amount", "The ATM pays out multiples of 10.00."),
    ("atm:withdraw", {"amount": "510"}, "amount", "Insufficient funds for this amount."),
    ("atm:withdraw", {"pin": ""}, "pin", "Enter your PIN to confirm."),
    ("atm:withdraw", {"pin": "24"}, "pin", "A PIN is 4 to 6 digits."),
    ("atm:transfer", {"amount": "500.01"}, "amount", "Insufficient funds for this amount."),
    ("atm:transfer", {"to_account": "ALICE"}, "to_account", "You cannot transfer money to the same account."),
    ("atm:transfer", {"to_account": iban_for("0000000009")}, "to_account", "Money cannot be transferred to this account number. Check it and try again."),
    ("atm:transfer", {"to_account": "NL00 ATMB 0000 0000 09"}, "to_account",
     "This is not a valid account number. Check it and try again."),
    ("atm:transfer", {"to_account": ""}, "to_account", "Enter the account number to transfer to."),
]
# The withdrawal page's examples are whole notes: 12.50 cannot be withdrawn.
WITHDRAW_NUMBER_MESSAGE = "Enter the amount as a number of whole notes, for example 50 or 120."
CASES = [(page, change, field, WITHDRAW_NUMBER_MESSAGE if page == "atm:withdraw" and message == NUMBER_MESSAGE
          else message) for page in BASE for change, field, message in COMMON_CASES] + SPECIFIC_CASES


@pytest.mark.parametrize(("page", "change", "field", "message"), CASES)
def test_it_refuses_bad_input_and_moves_nothing(
    alice_at_atm, alice_customer, charlie_customer, page, change, field, message
):
    numbers = {"ALICE": alice_customer.account.number, "CHARLIE": charlie_customer.account.number}
    data = {key: numbers.get(value, value) for key, value in {**BASE[page], **change}.items()}
    before = money_snapshot()
    response = _submit(alice_at_atm, page, data)
    assert response.status_code == 200
    assert response.context["form"].errors == {field: [message]}
    assert message in response.content.decode()
    assert money_snapshot() == before


def test_it_refuses_a_withdrawal_over_the_remaining_daily_limit(alice_at_atm, alice_customer):
    Account.objects.filter(pk=alice_customer.account.pk).update(daily_withdrawal_limit_minor=30_000)
    _submit(alice_at_atm, "atm:withdraw", {"amount": "200", "pin": "2468"})
    before = money_snapshot()
    response = _submit(alice_at_atm, "atm:withdraw", {"amount": "110", "pin": "2468"})
    assert response.context["form"].errors == {
        "amount": ["This exceeds your daily withdrawal limit: 100.00 EUR left today."]
    }
    assert money_snapshot() == before


def test_it_gives_a_failed_form_a_fresh_token(alice_at_atm):
    page = alice_at_atm.get(reverse("atm:deposit"))
    response = alice_at_atm.post(reverse("atm:deposit"), {"amount": "abc", "token": form_token(page)})
    assert form_token(response) != form_token(page)


def test_it_counts_a_wrong_withdrawal_pin_toward_the_lockout(alice_at_atm, alice_customer):
    before = money_snapshot()
    response = _submit(alice_at_atm, "atm:withdraw", {"amount": "50", "pin": "9753"})
    assert response.context["form"].errors == {"pin": ["The PIN is not correct. 2 tries left before the card is "
                                                       "blocked."]}
    assert "9753" not in response.content.decode()
    assert Card.objects.get(pk=alice_customer.card.pk).failed_pin_attempts == 1
    assert money_snapshot() == before


def test_it_logs_out_when_wrong_withdrawal_pins_block_the_card(client, alice_customer):
    atm_login(client, alice_customer)
    for _ in range(2):
        _submit(client, "atm:withdraw", {"amount": "50", "pin": "9753"})
    before = money_snapshot()
    response = _submit(client, "atm:withdraw", {"amount": "50", "pin": "9753"})
    assert response["Location"] == reverse("atm:login")
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Wrong PIN entered three times: this card is now blocked. Please contact your bank."
    ]
    assert SESSION_CARD_KEY not in client.session
    assert Card.objects.get(pk=alice_customer.card.pk).status == Card.Status.BLOCKED
    assert money_snapshot() == before


@pytest.mark.parametrize(("page", "data"), [
    ("atm:withdraw", {"amount": "50", "pin": "2468"}),
    ("atm:deposit", {"amount": "50"}),
    ("atm:transfer", {"amount": "50", "to_account": "CHARLIE"}),
])
def test_it_refuses_operations_on_a_frozen_account(alice_at_atm, alice_customer, charlie_customer, page, data):
    Account.objects.filter(pk=alice_customer.account.pk).update(status=Account.Status.FROZEN)
    data = {key: charlie_customer.account.number if value == "CHARLIE" else value for key, value in data.items()}
    before = money_snapshot()
    response = _submit(alice_at_atm, page, data)
    assert response.context["form"].errors == {"__all__": [f"Account {alice_customer.account.number} is frozen."]}
    assert money_snapshot() == before


def test_it_refuses_a_transfer_to_a_closed_account(alice_at_atm, charlie_customer):
    Account.objects.filter(pk=charlie_customer.account.pk).update(status=Account.Status.CLOSED)
    before = money_snapshot()
    response = _submit(alice_at_atm, "atm:transfer", {"to_account": charlie_customer.account.number, "amount": "5"})
    assert response.context["form"].errors == {"to_account": ["Money cannot be transferred to this account number. Check it and try again."]}
    assert money_snapshot() == before


def test_it_hides_withdrawal_pins_from_error_reports(alice_at_atm):
    response = _submit(alice_at_atm, "atm:withdraw", {"amount": "50", "pin": "9753"})
    assert response.wsgi_request.sensitive_post_parameters == ("pin",)


def test_it_counts_a_wrong_pin_on_a_confirmed_transfer_whose_payee_closed_since(
    alice_at_atm, alice_customer, charlie_customer
):
    data = {**_confirmed(alice_at_atm, charlie_customer), "pin": "9753"}
    Account.objects.filter(pk=charlie_customer.account.pk).update(status=Account.Status.CLOSED)
    before = money_snapshot()
    response = alice_at_atm.post(reverse("atm:transfer"), data)
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "to_account": ["Money cannot be transferred to this account number. Check it and try again."]
    }
    assert money_snapshot() == before
    assert Card.objects.get(pk=alice_customer.card.pk).failed_pin_attempts == 1


def test_it_offers_quick_amounts_it_can_pay_out_and_fills_one_in(alice_at_atm, alice_customer):
    Account.objects.filter(pk=alice_customer.account.pk).update(balance_minor=7_000)
    page = alice_at_atm.get(reverse("atm:withdraw")).content.decode()
    assert "Up to 70.00 EUR more today" in page
    assert 'value="20" class="button button--secondary" data-amount="20">20.00 EUR</button>' in page
    assert 'data-amount="50"' in page and 'data-amount="100"' not in page
    filled = alice_at_atm.get(reverse("atm:withdraw"), {"amount": "50"})
    assert filled.context["form"].initial["amount"] == 5_000
    assert 'name="amount" value="50.00"' in filled.content.decode()
    assert alice_at_atm.get(reverse("atm:withdraw"), {"amount": "35"}).context["form"].initial["amount"] is None


def test_it_says_when_no_cash_can_be_withdrawn(alice_at_atm, alice_customer):
    Account.objects.filter(pk=alice_customer.account.pk).update(balance_minor=900)
    page = alice_at_atm.get(reverse("atm:withdraw")).content.decode()
    assert "You cannot withdraw cash now: the balance is below the smallest note (10.00 EUR)." in page
    assert "Quick amounts" not in page


def test_it_gives_withdrawal_examples_that_are_whole_notes(alice_at_atm):
    response = _submit(alice_at_atm, "atm:withdraw", {"amount": "ten", "pin": "2468"})
    assert response.context["form"].errors["amount"] == [WITHDRAW_NUMBER_MESSAGE]


def test_it_gives_an_example_account_number_that_is_valid():
    from accounts.iban import iban_is_valid, normalize_account_number
    from atm.forms import EXAMPLE_ACCOUNT, TransferForm

    assert TransferForm().fields["to_account"].help_text == f"For example {EXAMPLE_ACCOUNT}."
    assert iban_is_valid(normalize_account_number(EXAMPLE_ACCOUNT))


def test_it_gives_more_time_to_a_live_session_only(client, alice_customer, settings):
    settings.ATM_SESSION_IDLE_SECONDS = 90
    atm_login(client, alice_customer)
    page = client.get(reverse("atm:balance")).content.decode()
    assert f'data-idle-seconds="90" data-more-time-url="{reverse("atm:more_time")}"' in page
    assert client.post(reverse("atm:more_time")).json() == {"idle_seconds": 90}
    assert client.get(reverse("atm:more_time")).status_code == 405
    client.post(reverse("atm:logout"))
    assert client.post(reverse("atm:more_time"))["Location"] == reverse("atm:login")
