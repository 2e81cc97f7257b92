"""Web ATM forms: they check the shape of what was typed; the services check the bank's rules.

PIN inputs are never rendered back (render_value=False) and ask browsers not to remember them.
Operation forms carry a hidden one-time token: resubmitting the same rendered form (double
click, back button) reuses the token, so the ledger service moves the money only once.
"""

from __future__ import annotations

import re
import uuid

from django import forms
from django.conf import settings

from accounts.cards import PAN_MAX_LENGTH, PAN_MIN_LENGTH, luhn_checksum_ok, normalize_pan
from accounts.iban import iban_for, iban_is_valid, normalize_account_number
from accounts.models import Card
from accounts.money import AmountField, format_minor, format_whole
from accounts.pins import pin_problem
from transactions.exceptions import (
    AccountNotFound,
    DailyLimitExceeded,
    InsufficientFunds,
    InvalidAmount,
    SameAccountTransfer,
)

PIN_FORMAT_MESSAGE = "A PIN is 4 to 6 digits."
PAN_LENGTH_MESSAGE = f"A card number has {PAN_MIN_LENGTH} to {PAN_MAX_LENGTH} digits."
ACCOUNT_NUMBER_MESSAGE = "This is not a valid account number. Check it and try again."
TOKEN_MESSAGE = "This form has expired. Please check the details and submit it again."
TOKEN_PATTERN = re.compile(r"[0-9a-f]{32}")
# A valid account number of this bank (check digits included), written in groups of four as people type it.
EXAMPLE_ACCOUNT = " ".join(re.findall(".{1,4}", iban_for("0123456789")))


def new_token() -> str:
    """Return a fresh random form token: 32 lowercase hex digits."""
    return uuid.uuid4().hex


def _pin_widget() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "inputmode": "numeric"})


def _pin_field(label: str, required_message: str) -> forms.CharField:
    return forms.CharField(
        label=label, max_length=6, widget=_pin_widget(),
        error_messages={"required": required_message, "max_length": PIN_FORMAT_MESSAGE},
    )


def _pin_format(value: str) -> str:
    """Return the PIN when it is 4 to 6 ASCII digits; refuse it otherwise."""
    if not (value.isascii() and value.isdigit() and 4 <= len(value) <= 6):
        raise forms.ValidationError(PIN_FORMAT_MESSAGE)
    return value


class LoginForm(forms.Form):
    card_number = forms.CharField(
        label="Card number", help_text="The long number on the front of your card.", max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}),
        error_messages={"required": "Enter your card number.", "max_length": PAN_LENGTH_MESSAGE},
    )
    pin = _pin_field("PIN", "Enter your PIN.")

    def clean_card_number(self) -> str:
        """Accept digits with optional spaces or dashes; require 13-19 digits and a valid Luhn check digit."""
        pan = normalize_pan(self.cleaned_data["card_number"])
        if not (pan.isascii() and pan.isdigit()):
            raise forms.ValidationError("Enter the card number using digits only.")
        if not PAN_MIN_LENGTH <= len(pan) <= PAN_MAX_LENGTH:
            raise forms.ValidationError(PAN_LENGTH_MESSAGE)
        if not luhn_checksum_ok(pan):
            raise forms.ValidationError("This is not a valid card number. Check the digits and try again.")
        return pan

    def clean_pin(self) -> str:
        return _pin_format(self.cleaned_data["pin"])

    def forget_card_number(self) -> None:
        """Render the card number field empty again, as an ATM returns the card after a failed login."""
        self.data = self.data.copy()
        self.data.pop("card_number", None)


class OperationForm(forms.Form):
    """A money operation form: an amount and a one-time token, plus the mapping of service errors."""

    error_fields: tuple[tuple[type[Exception], str], ...] = (
        (InvalidAmount, "amount"), (InsufficientFunds, "amount"), (DailyLimitExceeded, "amount"),
    )

    amount = AmountField(label="Amount", widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
    token = forms.CharField(
        max_length=32, widget=forms.HiddenInput, error_messages={"required": TOKEN_MESSAGE, "max_length": TOKEN_MESSAGE}
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not self.is_bound:
            self.initial["token"] = new_token()

    def clean_token(self) -> str:
        token = self.cleaned_data["token"]
        if not TOKEN_PATTERN.fullmatch(token):
            raise forms.ValidationError(TOKEN_MESSAGE)
        return token

    def idempotency_key(self, card: Card) -> str:
        """Return the ledger idempotency key: namespaced by channel and card, so no other caller can collide."""
        return f"atm:{card.pk}:{self.cleaned_data['token']}"

    def renew_token(self) -> None:
        """Give a re-displayed form a fresh token: the failed submission moved no money."""
        self.data = self.data.copy()
        self.data["token"] = new_token()

    def add_service_error(self, exc: Exception) -> None:
        """Show a service's refusal next to the field it is about (or above the form)."""
        field = next((name for kind, name in self.error_fields if isinstance(exc, kind)), None)
        self.add_error(field, str(exc))


class WithdrawalForm(OperationForm):
    pin = _pin_field("PIN", "Enter your PIN to confirm.")
    field_order = ["amount", "pin", "token"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        note = settings.ATM_SMALLEST_NOTE_MINOR
        examples = " or ".join(format_whole(note * count) for count in (5, 12))
        amount = self.fields["amount"]
        amount.number_message = f"Enter the amount as a number of whole notes, for example {examples}."  # type: ignore[attr-defined]
        amount.help_text = f"In multiples of {format_minor(note, settings.ATM_CURRENCY)}."

    def clean_pin(self) -> str:
        return _pin_format(self.cleaned_data["pin"])


class DepositForm(OperationForm):
    pass


class TransferForm(OperationForm):
    error_fields = OperationForm.error_fields + (
        (AccountNotFound, "to_account"), (SameAccountTransfer, "to_account"),
    )

    to_account = forms.CharField(
        label="To account number", help_text=f"For example {EXAMPLE_ACCOUNT}.", max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": "Enter the account number to transfer to.", "max_length": ACCOUNT_NUMBER_MESSAGE},
    )
    field_order = ["to_account", "amount", "token"]

    def clean_to_account(self) -> str:
        number = normalize_account_number(self.cleaned_data["to_account"])
        if not iban_is_valid(number):
            raise forms.ValidationError(ACCOUNT_NUMBER_MESSAGE)
        return number


class TransferConfirmForm(TransferForm):
    """The confirmation page: the first step's payee and amount carried hidden, and the PIN."""

    pin = _pin_field("PIN", "Enter your PIN to confirm.")
    # The signed confirmation this page was issued (atm.confirmation); the view checks it before the PIN.
    confirmation = forms.CharField(required=False, widget=forms.HiddenInput)
    field_order = ["to_account", "amount", "pin", "token", "confirmation"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for name in ("to_account", "amount"):
            self.fields[name].widget = forms.HiddenInput()

    def clean_pin(self) -> str:
        return _pin_format(self.cleaned_data["pin"])


class PinChangeForm(forms.Form):
    old_pin = _pin_field("Current PIN", "Enter your current PIN.")
    new_pin = _pin_field("New PIN", "Enter a new PIN.")
    new_pin_again = _pin_field("New PIN again", "Enter the new PIN a second time.")

    def clean_old_pin(self) -> str:
        return _pin_format(self.cleaned_data["old_pin"])

    def clean(self) -> dict[str, object]:
        """Refuse a new PIN that breaks the PIN rules or was not typed the same twice."""
        data = super().clean() or {}
        new_pin, again = data.get("new_pin"), data.get("new_pin_again")
        if isinstance(new_pin, str):
            problem = pin_problem(new_pin, data.get("old_pin"))  # type: ignore[arg-type]
            if problem:
                self.add_error("new_pin", problem)
            elif again is not None and again != new_pin:
                self.add_error("new_pin_again", "The two new PINs are not the same.")
        return data
