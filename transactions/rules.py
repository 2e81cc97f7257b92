"""The ledger's rules as pure functions: no database, no locks, only numbers in and a verdict out.

transactions.services applies them to locked rows; transactions.demo applies them to its
in-memory books, so generated histories obey exactly the rules real postings obey:
- an amount is a whole number of minor units, more than zero and at most MAX_AMOUNT_MINOR;
- no balance ever goes below zero, and every entry records the balance right after it;
- an ATM pays out whole notes, within the balance and what is left of the daily limit, where a
  day is a local calendar day;
- an ATM takes deposits in whole notes, at most a cap per deposit and a cap per day;
- a transfer is within its own daily limit;
- a staff posting above the approval threshold moves money only once a second staff member approves it;
- a transfer is two legs sharing one reference, the incoming leg keyed after the outgoing one;
  it is reversed as a whole, both legs or neither.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from accounts.money import MAX_AMOUNT_MINOR, format_minor

from .exceptions import DailyLimitExceeded, InsufficientFunds, InvalidAmount

TRANSFER_IN_SUFFIX = "/in"


def amount_check(amount_minor: int) -> None:
    """Refuse an amount that is not a whole number of cents, not positive or too large."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise InvalidAmount("The amount must be a whole number of cents.")
    if amount_minor <= 0:
        raise InvalidAmount("The amount must be more than zero.")
    if amount_minor > MAX_AMOUNT_MINOR:
        raise InvalidAmount("This amount is too large.")


def balance_after(balance_minor: int, delta_minor: int) -> int:
    """Return the balance after moving `delta_minor`; refuse a movement that would make it negative."""
    new_balance = balance_minor + delta_minor
    if new_balance < 0:
        raise InsufficientFunds()
    return new_balance


def whole_notes_check(amount_minor: int, note_minor: int | None) -> None:
    """Refuse a cash amount that is not a multiple of the smallest note (no note given: any amount)."""
    if note_minor and amount_minor % note_minor:
        raise InvalidAmount(f"The ATM pays out multiples of {format_minor(note_minor)}.")


def deposit_check(*, amount_minor: int, note_minor: int, max_minor: int, limit_left_minor: int, currency: str) -> None:
    """Refuse an ATM deposit that is not whole notes, above the per-deposit cap or above what is left today."""
    if amount_minor % note_minor:
        raise InvalidAmount(f"The ATM takes whole notes: deposit a multiple of {format_minor(note_minor, currency)}.")
    if amount_minor > max_minor:
        raise InvalidAmount(f"The ATM takes at most {format_minor(max_minor, currency)} in one deposit.")
    if amount_minor > limit_left_minor:
        raise DailyLimitExceeded(
            f"This exceeds your daily deposit limit: {format_minor(limit_left_minor, currency)} left today."
        )


def transfer_check(*, amount_minor: int, limit_left_minor: int, currency: str) -> None:
    """Refuse a transfer above what is left of today's transfer limit."""
    if amount_minor > limit_left_minor:
        raise DailyLimitExceeded(
            f"This exceeds your daily transfer limit: {format_minor(limit_left_minor, currency)} left today."
        )


def daily_limit_left(*, daily_limit_minor: int, withdrawn_today_minor: int) -> int:
    """Return what may still be withdrawn today (never below zero)."""
    return max(daily_limit_minor - withdrawn_today_minor, 0)


def withdrawal_check(*, amount_minor: int, balance_minor: int, limit_left_minor: int, currency: str) -> None:
    """Refuse a withdrawal above the balance or above what is left of today's limit."""
    if amount_minor > balance_minor:
        raise InsufficientFunds()
    if amount_minor > limit_left_minor:
        raise DailyLimitExceeded(
            f"This exceeds your daily withdrawal limit: {format_minor(limit_left_minor, currency)} left today."
        )


def withdrawal_room(*, balance_minor: int, limit_left_minor: int, note_minor: int) -> int:
    """Return the largest amount withdrawal_check and whole_notes_check accept (0: nothing can be paid)."""
    return max(min(balance_minor, limit_left_minor), 0) // note_minor * note_minor


def transfer_in_key(idempotency_key: str) -> str:
    """Return the key of an operation's second leg: a transfer's incoming leg, a transfer reversal's other leg."""
    return idempotency_key + TRANSFER_IN_SUFFIX


def local_day_start(moment: datetime.datetime) -> datetime.datetime:
    """Return the start of the local calendar day of `moment`: daily limits count from there."""
    return timezone.localtime(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def local_day(moment: datetime.datetime) -> datetime.date:
    """Return the local calendar day of `moment`."""
    return timezone.localtime(moment).date()


def reason_check(reason: str | None, message: str) -> str:
    """Return the stripped reason of a staff posting; refuse an empty one with `message`."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidAmount(message)
    return reason


def needs_second_approval(amount_minor: int, threshold_minor: int) -> bool:
    """Return True when a staff posting of `amount_minor` (either sign) must wait for a second staff member."""
    return abs(amount_minor) > threshold_minor
