"""Forms behind the back-office admin: they check what staff type before a service runs.

Money is typed in major units ("12.50") and handed to the services in minor units (cents), through
accounts.money.AmountField. Forms carry a request key generated when the form is first shown, so
a double submit reaches the service with the same key and is done once.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils import timezone

from .cards import NETWORK_RANGES
from .customer_rules import birth_date_problem
from .models import Account, Customer
from .money import AmountField, CurrencyField
from .services import CLOSE_WITH_BALANCE_MESSAGE

NETWORK_LABELS = {"amex": "American Express", "mastercard": "Mastercard", "discover": "Discover",
                  "maestro": "Maestro", "visa": "Visa"}
NETWORK_CHOICES = [(name, NETWORK_LABELS.get(name, name)) for name, _ranges, _length in NETWORK_RANGES]


class CustomerForm(forms.ModelForm):
    """A customer's details: one-line contact inputs, an adult's birth date, a postal code of their country.

    The postal code is checked against the country by Customer.clean, which the form runs on save.
    """

    class Meta:
        model = Customer
        fields = ["first_name", "last_name", "email", "phone", "street_address", "birth_date", "gender",
                  "country", "postal_code", "city"]
        widgets = {
            "email": forms.EmailInput(attrs={"autocomplete": "off", "size": 40}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "size": 24}),
            "street_address": forms.TextInput(attrs={"autocomplete": "off", "size": 60}),
        }
        help_texts = {"birth_date": "YYYY-MM-DD; customers are adults.",
                      "postal_code": "In the country's format: NL 1012 AB, BE 1000, DE 10115, FR 75001, GB SW1A 1AA."}

    def clean_birth_date(self) -> Any:
        birth_date = self.cleaned_data["birth_date"]
        problem = birth_date_problem(birth_date, timezone.localdate())
        if problem:
            raise forms.ValidationError(problem)
        return birth_date


class AccountChangeForm(forms.ModelForm):
    """What tellers may change on an account: its status and its daily ATM withdrawal limit."""

    daily_withdrawal_limit_minor = AmountField(
        allow_zero=True, label="Daily ATM withdrawal limit", help_text="In major units, for example 1000 or 250.50."
    )

    class Meta:
        model = Account
        fields = ["status", "daily_withdrawal_limit_minor"]

    def clean(self) -> dict[str, Any]:
        """Refuse closing an account that still holds money (the service checks again under lock)."""
        cleaned = super().clean() or {}
        if cleaned.get("status") == Account.Status.CLOSED and self.instance.balance_minor > 0:
            raise forms.ValidationError(CLOSE_WITH_BALANCE_MESSAGE)
        return cleaned


class StaffRequestForm(forms.Form):
    """A form whose hidden key makes a refreshed or doubled submission be refused, not repeated."""

    request_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def request_key_for(self, action: str, *parts: object) -> str:
        """Return the key under which this submission of `action` is recorded."""
        return ":".join([action, self.cleaned_data["request_key"].hex, *map(str, parts)])


class OpenAccountForm(StaffRequestForm):
    kind = forms.ChoiceField(choices=Account.Kind.choices, initial=Account.Kind.CHECKING)
    currency = CurrencyField()


class IssueCardForm(StaffRequestForm):
    network = forms.ChoiceField(choices=NETWORK_CHOICES, initial="visa")

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        self.account = account
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        """Refuse a card on an account that is not open."""
        cleaned = super().clean() or {}
        if not self.account.is_open:
            status = self.account.get_status_display().lower()
            raise forms.ValidationError(f"Account {self.account.number} is {status}: cards go on open accounts only.")
        return cleaned


class BlockCardForm(forms.Form):
    """Why the cards are blocked: kept in each card's history."""

    reason = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"size": 60, "autocomplete": "off"}),
        help_text="For example: reported stolen, retained by an ATM, suspected fraud.",
        error_messages={"required": "Give the reason for blocking; it is kept in the card's history.",
                        "max_length": "Keep the reason under 200 characters."})

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"]
        if "\x00" in reason:
            raise forms.ValidationError("The reason holds a character that cannot be stored.")
        return reason


class ConfirmForm(StaffRequestForm):
    """No input but the request key: the page only asks staff to confirm."""
