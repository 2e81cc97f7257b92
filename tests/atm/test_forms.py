"""Web ATM forms (atm/forms.py): the shape of what was typed, with the exact messages a customer sees."""

from __future__ import annotations

import pytest

from atm.forms import (
    ACCOUNT_NUMBER_MESSAGE,
    PAN_LENGTH_MESSAGE,
    PIN_FORMAT_MESSAGE,
    TOKEN_MESSAGE,
    LoginForm,
    PinChangeForm,
    TransferForm,
    WithdrawalForm,
)
from transactions.exceptions import InsufficientFunds, TransactionError

VISA = "4111 1111-1111 1111"
TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("card_number", "message"),
    [("4111 1111 1111 111x", "Enter the card number using digits only."),
     ("4111 1111 11", PAN_LENGTH_MESSAGE),
     ("4111 1111 1111 1112", "This is not a valid card number. Check the digits and try again.")],
)
def test_it_refuses_card_numbers_that_are_not_card_numbers(card_number, message):
    form = LoginForm(data={"card_number": card_number, "pin": "2468"})
    assert form.errors["card_number"] == [message]


def test_it_accepts_a_card_number_with_spaces_and_dashes():
    form = LoginForm(data={"card_number": VISA, "pin": "2468"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["card_number"] == "4111111111111111"


@pytest.mark.parametrize("pin", ["123", "12a4", "١٢٣٤"])
def test_it_refuses_pins_that_are_not_4_to_6_ascii_digits(pin):
    assert LoginForm(data={"card_number": VISA, "pin": pin}).errors["pin"] == [PIN_FORMAT_MESSAGE]


def test_it_forgets_the_card_number_after_a_failed_login():
    form = LoginForm(data={"card_number": VISA, "pin": "2468"})
    form.forget_card_number()
    assert "card_number" not in form.data and form.data["pin"] == "2468"


def test_it_gives_an_unbound_operation_form_a_fresh_token():
    first, second = WithdrawalForm().initial["token"], WithdrawalForm().initial["token"]
    assert first != second and len(first) == 32


@pytest.mark.parametrize("token", ["", "0123456789ABCDEF0123456789ABCDEF", "not-a-token"])
def test_it_refuses_a_token_it_did_not_make(token):
    form = WithdrawalForm(data={"amount": "20", "pin": "2468", "token": token})
    assert form.errors["token"] == [TOKEN_MESSAGE]


def test_it_shows_a_service_refusal_next_to_the_field_it_is_about():
    form = TransferForm(data={"to_account": "NL91 ABNA 0417 1643 00", "amount": "20", "token": TOKEN})
    assert form.is_valid(), form.errors
    form.add_service_error(InsufficientFunds("Not enough money in the account."))
    form.add_service_error(TransactionError("Try again later."))
    assert form.errors["amount"] == ["Not enough money in the account."]
    assert form.non_field_errors() == ["Try again later."]


def test_it_refuses_an_account_number_that_is_not_valid():
    form = TransferForm(data={"to_account": "NL91 ABNA 0417 1643 01", "amount": "20", "token": TOKEN})
    assert form.errors["to_account"] == [ACCOUNT_NUMBER_MESSAGE]


def test_it_refuses_new_pins_typed_differently():
    form = PinChangeForm(data={"old_pin": "2468", "new_pin": "8135", "new_pin_again": "8136"})
    assert form.errors == {"new_pin_again": ["The two new PINs are not the same."]}
