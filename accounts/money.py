"""Amounts of money: parse what people type into minor units (cents), format minor units, one form field.

This is the only amount parser and formatter of the project. It lives in `accounts`, the lowest
layer, because accounts already hold money (balances, daily limits) and must format it in their
admin without importing the ledger; the apps above it (ledger, web ATM) import it from here.

The rule for a typed amount: a plain ASCII decimal ("12", "12.5", "12,50") with at most two
decimals, more than zero (or zero where explicitly allowed, as for a daily limit) and at most
MAX_AMOUNT_MINOR. Anything else is refused with one of the messages below.

Currencies: an account is kept in one of settings.ATM_CURRENCIES, ISO 4217 codes whose minor
unit is the hundredth (a system check refuses any other list); the model and the forms check it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from iso4217 import Currency

MINOR_PER_MAJOR = 100
# 10^12 minor units = 10 billion: far above any real single movement, far below int64 overflow.
MAX_AMOUNT_MINOR = 10**12
# Longer than any amount accepted; checked before Decimal, as a huge digit string costs seconds to parse.
AMOUNT_MAX_CHARS = 20

EMPTY_MESSAGE = "Enter an amount."
TOO_LARGE_MESSAGE = "This amount is too large."
NUMBER_MESSAGE = "Enter the amount as a number, for example 20 or 12.50."
DECIMALS_MESSAGE = "Use at most two decimals."
NOT_POSITIVE_MESSAGE = "The amount must be more than zero."
NEGATIVE_MESSAGE = "The amount cannot be negative."
THOUSANDS_MESSAGE = "Write the amount without a thousands separator (1000, not 1,000), with at most two decimals."
# "1,000", "1,000,000", "1.000.000": digits grouped by three, which reads as a thousands separator
# ("10.555", a single dot group, reads as too many decimals).
THOUSANDS = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3})+|[1-9][0-9]{0,2}(?:\.[0-9]{3}){2,}")


CURRENCY_FORMAT_MESSAGE = "A currency is a three-letter code, for example EUR."


def iso_currency_problem(code: str) -> str | None:
    """Return why `code` cannot be a currency of this bank's ledger (None: an ISO 4217 code in hundredths)."""
    try:
        exponent = Currency(code).exponent
    except ValueError:
        return f"{code!r} is not an ISO 4217 currency code."
    if exponent != 2:
        return f"{code} is not counted in hundredths; the ledger keeps amounts in cents."
    return None


def currency_problem(code: str) -> str | None:
    """Return why the bank keeps no account in `code` (None: one of settings.ATM_CURRENCIES)."""
    if not (len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
        return CURRENCY_FORMAT_MESSAGE
    if code not in settings.ATM_CURRENCIES:
        return f"The bank keeps no accounts in {code}. Choose one of: {', '.join(settings.ATM_CURRENCIES)}."
    return None


def validate_currency(code: str) -> None:
    """Model validator of an account's currency: one of the configured ISO 4217 codes."""
    problem = currency_problem(code)
    if problem:
        raise ValidationError(problem, code="currency")


def default_currency() -> str:
    """Return the currency of a new account (settings.ATM_CURRENCY)."""
    return str(settings.ATM_CURRENCY)


class AmountError(ValueError):
    """The typed amount is not a usable amount; the message says why."""


def _decimal(text: str) -> Decimal:
    """Return the Decimal of a plain ASCII decimal (digits and at most one "."); refuse anything else."""
    if not text.isascii() or not all(ch.isdigit() or ch == "." for ch in text) or text.count(".") > 1:
        raise AmountError(NUMBER_MESSAGE)
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # "." alone
        raise AmountError(NUMBER_MESSAGE) from exc


def _is_plain_number(text: str) -> bool:
    try:
        _decimal(text)
    except AmountError:
        return False
    return True


def parse_amount(raw: str | None, *, allow_zero: bool = False) -> int:
    """Return the typed amount in minor units; raise AmountError saying why it is refused.

    Accepts "12", "12.5", "12.50" and "12,50"; refuses empty text, signs, exponents, non-ASCII
    digits, more than two decimals, zero (unless `allow_zero`) and amounts above MAX_AMOUNT_MINOR.
    A negative number and digits grouped by thousands ("1,000") get messages that say so.
    """
    typed = (raw or "").strip()
    text = typed.replace(",", ".")
    if not text:
        raise AmountError(EMPTY_MESSAGE)
    if len(text) > AMOUNT_MAX_CHARS:
        raise AmountError(TOO_LARGE_MESSAGE)
    if THOUSANDS.fullmatch(typed):
        raise AmountError(THOUSANDS_MESSAGE)
    if text.startswith("-") and _is_plain_number(text[1:]):
        raise AmountError(NEGATIVE_MESSAGE if allow_zero else NOT_POSITIVE_MESSAGE)
    value = _decimal(text)
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise AmountError(DECIMALS_MESSAGE)
    minor = int(value * MINOR_PER_MAJOR)
    if minor == 0 and not allow_zero:
        raise AmountError(NOT_POSITIVE_MESSAGE)
    if minor > MAX_AMOUNT_MINOR:
        raise AmountError(TOO_LARGE_MESSAGE)
    return minor


def format_minor(minor: int, currency: str = "") -> str:
    """Return "1,234.50 EUR" for 123450 minor units (negative amounts keep their sign)."""
    sign = "-" if minor < 0 else ""
    major, cents = divmod(abs(minor), MINOR_PER_MAJOR)
    text = f"{sign}{major:,}.{cents:02d}"
    return f"{text} {currency}".strip()


def format_signed_minor(minor: int, currency: str = "") -> str:
    """Return "+20.00 EUR" for a credit and "-20.00 EUR" for a debit, as on a statement."""
    return ("+" if minor > 0 else "") + format_minor(minor, currency)


def format_major(minor: int) -> str:
    """Return minor units as text that parse_amount reads back: 25050 -> "250.50" (no separators)."""
    major, cents = divmod(minor, MINOR_PER_MAJOR)
    return f"{major}.{cents:02d}"


class CurrencyField(forms.CharField):
    """A form field for a currency code typed in any case ("eur"), cleaned to one of the configured codes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("initial", default_currency)
        kwargs.setdefault("help_text", "Three-letter ISO 4217 code, one of the currencies the bank keeps.")
        kwargs["error_messages"] = {"max_length": CURRENCY_FORMAT_MESSAGE, **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        """Return the code in upper case; refuse one the bank does not keep accounts in."""
        code = (super().clean(value) or "").upper()
        validate_currency(code)
        return code


def format_whole(minor: int) -> str:
    """Return an amount without its cents when it has none: 5000 -> "50", 1250 -> "12.50"."""
    major, cents = divmod(minor, MINOR_PER_MAJOR)
    return f"{major}" if not cents else f"{major}.{cents:02d}"


class AmountField(forms.CharField):
    """A form field for an amount typed in major units ("250.50"), cleaned to minor units (25050).

    The rules and messages are parse_amount's; `allow_zero` admits 0 (a daily limit of nothing).
    An integer initial value (from the model, in minor units) is shown in major units.
    """

    def __init__(self, *, allow_zero: bool = False, number_message: str = NUMBER_MESSAGE, **kwargs: Any) -> None:
        self.allow_zero = allow_zero
        # A form whose amounts have a shape of their own (whole notes) gives examples that fit it.
        self.number_message = number_message
        kwargs.setdefault("max_length", AMOUNT_MAX_CHARS)
        messages = {"required": EMPTY_MESSAGE, "max_length": TOO_LARGE_MESSAGE}
        kwargs["error_messages"] = {**messages, **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int | None:
        """Return the amount in minor units, or None when an optional field is left empty."""
        text = super().clean(value)
        if text in self.empty_values:
            return None
        try:
            return parse_amount(text, allow_zero=self.allow_zero)
        except AmountError as exc:
            message = self.number_message if str(exc) == NUMBER_MESSAGE else str(exc)
            raise forms.ValidationError(message, code="invalid") from exc

    def prepare_value(self, value: Any) -> Any:
        """Show a stored minor-unit integer in major units; leave typed text as it is."""
        if isinstance(value, int) and not isinstance(value, bool):
            return format_major(value)
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        """Compare in minor units: "1000" and "1000.00" are the same stored 100000."""
        try:
            return parse_amount(data, allow_zero=True) != initial
        except AmountError:
            return True
