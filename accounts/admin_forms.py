"""Forms behind the back-office admin: they check what staff type before a service runs.

Money is typed in major units ("12.50") and handed to the services in minor units (cents).
Forms that post to the ledger carry a request key generated when the form is first shown, so a
double submit reaches the ledger service with the same idempotency key and posts once.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings

from transactions.money import MAX_AMOUNT_MINOR, MINOR_PER_MAJOR, AmountError, parse_amount

from .cards import NETWORK_RANGES
from .models import Account
from .services import CLOSE_WITH_BALANCE_MESSAGE

NETWORK_LABELS = {"amex": "American Express", "mastercard": "Mastercard", "discover": "Discover",
                  "maestro": "Maestro", "visa": "Visa"}
NETWORK_CHOICES = [(name, NETWORK_LABELS.get(name, name)) for name, _ranges, _length in NETWORK_RANGES]
# What Decimal() accepts beyond this (exponents, "_" separators, other scripts' digits, NaN) is no way
# to type an amount; the sign stays so that "-5" gets the minimum-value message.
PLAIN_DECIMAL = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class MinorUnitsField(forms.DecimalField):
    """An amount typed in major units (1000.00) and cleaned to minor units (100000)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_value", Decimal(MAX_AMOUNT_MINOR).scaleb(-2))
        super().__init__(max_digits=15, decimal_places=2, **kwargs)

    def to_python(self, value: Any) -> Decimal | None:
        """Read typed text only as a plain ASCII decimal ("1000", "250.50"): no exponent or other digits."""
        if isinstance(value, str) and value.strip() and not PLAIN_DECIMAL.fullmatch(value.strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        """Show a stored minor-unit integer as a decimal; leave typed text as it is."""
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value).scaleb(-2)
        return value

    def clean(self, value: Any) -> int | None:
        """Return the amount in minor units, or None when left empty."""
        amount = super().clean(value)
        return None if amount is None else int(amount * MINOR_PER_MAJOR)

    def has_changed(self, initial: Any, data: Any) -> bool:
        """Compare in major units, as the stored initial value is in minor units."""
        return super().has_changed(self.prepare_value(initial), data)


class AccountChangeForm(forms.ModelForm):
    """What tellers may change on an account: its status and its daily ATM withdrawal limit."""

    daily_withdrawal_limit_minor = MinorUnitsField(
        label="Daily ATM withdrawal limit", help_text="In major units, for example 1000 or 250.50."
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
    currency = forms.CharField(
        max_length=3, help_text="Three-letter ISO 4217 code.", initial=lambda: settings.ATM_CURRENCY
    )

    def clean_currency(self) -> str:
        """Accept a three-letter code, in upper case."""
        code = self.cleaned_data["currency"].strip().upper()
        if not (len(code) == 3 and code.isascii() and code.isalpha()):
            raise forms.ValidationError("A currency is a three-letter code, for example EUR.")
        return code


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


class ConfirmForm(StaffRequestForm):
    """No input but the request key: the page only asks staff to confirm."""


class LedgerRequestForm(forms.Form):
    """Base of the forms that post to the ledger: a hidden key makes a double submit post once."""

    request_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    key_prefix = "admin"

    def idempotency_key(self) -> str:
        """Return the ledger idempotency key of this submission."""
        return f"{self.key_prefix}-{self.cleaned_data['request_key'].hex}"


class AdjustmentForm(LedgerRequestForm):
    CREDIT = "credit"
    DEBIT = "debit"

    direction = forms.ChoiceField(
        choices=[(CREDIT, "Credit: pay money into the account"), (DEBIT, "Debit: take money off the account")],
        widget=forms.RadioSelect,
    )
    amount = forms.CharField(max_length=20, help_text="In major units, for example 20 or 12.50.")
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "A reason is required for a staff adjustment."},
    )
    key_prefix = "admin-adjustment"

    def clean_amount(self) -> int:
        """Return the typed amount in minor units (always positive; the direction gives the sign)."""
        try:
            return parse_amount(self.cleaned_data["amount"])
        except AmountError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def signed_amount_minor(self) -> int:
        """Return the amount with its sign: positive for a credit, negative for a debit."""
        amount = self.cleaned_data["amount"]
        return amount if self.cleaned_data["direction"] == self.CREDIT else -amount


class ReversalForm(LedgerRequestForm):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "A reason is required for a reversal."},
    )
    key_prefix = "admin-reversal"
