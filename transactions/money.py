"""Amounts: parse what people type into minor units (cents) and format minor units for display."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MINOR_PER_MAJOR = 100
# 10^12 minor units = 10 billion: far above any real single movement, far below int64 overflow.
MAX_AMOUNT_MINOR = 10**12


class AmountError(ValueError):
    """The typed amount is not a usable amount; the message says why."""


def parse_amount(raw: str) -> int:
    """Return the amount in minor units for a positive decimal with at most two decimals.

    Accepts "12", "12.5", "12.50"; rejects empty, non-numeric, non-ASCII digits, exponents,
    zero, negatives, more than two decimals and amounts above MAX_AMOUNT_MINOR.
    """
    text = (raw or "").strip().replace(",", ".")
    if not text:
        raise AmountError("Enter an amount.")
    if len(text) > 20:  # checked before Decimal: a huge digit string costs seconds to parse
        raise AmountError("This amount is too large.")
    if not text.isascii() or not all(ch.isdigit() or ch == "." for ch in text) or text.count(".") > 1:
        raise AmountError("Enter the amount as a number, for example 20 or 12.50.")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise AmountError("Enter the amount as a number, for example 20 or 12.50.") from exc
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise AmountError("Use at most two decimals.")
    minor = int(value * MINOR_PER_MAJOR)
    if minor <= 0:
        raise AmountError("The amount must be more than zero.")
    if minor > MAX_AMOUNT_MINOR:
        raise AmountError("This amount is too large.")
    return minor


def format_minor(minor: int, currency: str = "") -> str:
    """Return "1,234.50 EUR" for 123450 minor units (negative amounts keep their sign)."""
    sign = "-" if minor < 0 else ""
    major, cents = divmod(abs(minor), MINOR_PER_MAJOR)
    text = f"{sign}{major:,}.{cents:02d}"
    return f"{text} {currency}".strip()
