"""Ledger rules (transactions.rules): pure functions, exact messages, boundaries; no database."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest

from accounts.money import MAX_AMOUNT_MINOR
from transactions import rules
from transactions.exceptions import DailyLimitExceeded, InsufficientFunds, InvalidAmount

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (0, "The amount must be more than zero."),
        (-1, "The amount must be more than zero."),
        (MAX_AMOUNT_MINOR + 1, "This amount is too large."),
        (12.5, "The amount must be a whole number of cents."),
        (True, "The amount must be a whole number of cents."),
        ("100", "The amount must be a whole number of cents."),
    ],
)
def test_it_refuses_amounts_that_are_not_positive_whole_cents(amount, message):
    with pytest.raises(InvalidAmount, match=f"^{re.escape(message)}$"):
        rules.amount_check(amount)


def test_it_accepts_amounts_from_one_cent_to_the_maximum():
    rules.amount_check(1)
    rules.amount_check(MAX_AMOUNT_MINOR)


def test_it_lets_a_balance_reach_zero_but_never_below():
    assert rules.balance_after(500, -500) == 0
    assert rules.balance_after(0, 250) == 250
    with pytest.raises(InsufficientFunds, match="^Insufficient funds for this amount.$"):
        rules.balance_after(500, -501)


def test_it_pays_out_whole_notes_only():
    rules.whole_notes_check(5_000, 1_000)
    rules.whole_notes_check(1_234, None)
    with pytest.raises(InvalidAmount, match=r"^The ATM pays out multiples of 10\.00\.$"):
        rules.whole_notes_check(1_500, 1_000)


def test_it_never_leaves_a_negative_daily_limit():
    assert rules.daily_limit_left(daily_limit_minor=100_000, withdrawn_today_minor=30_000) == 70_000
    assert rules.daily_limit_left(daily_limit_minor=50_000, withdrawn_today_minor=80_000) == 0


def test_it_checks_a_withdrawal_against_balance_first_then_the_limit():
    rules.withdrawal_check(amount_minor=20_000, balance_minor=20_000, limit_left_minor=20_000, currency="EUR")
    with pytest.raises(InsufficientFunds):
        rules.withdrawal_check(amount_minor=20_001, balance_minor=20_000, limit_left_minor=0, currency="EUR")
    message = "This exceeds your daily withdrawal limit: 150.00 EUR left today."
    with pytest.raises(DailyLimitExceeded, match=f"^{re.escape(message)}$"):
        rules.withdrawal_check(amount_minor=20_000, balance_minor=90_000, limit_left_minor=15_000, currency="EUR")


@pytest.mark.parametrize(
    ("balance", "limit_left", "room"),
    [(95_500, 100_000, 95_000), (100_000, 35_500, 35_000), (999, 100_000, 0), (50_000, 0, 0), (-10, 1_000, 0)],
)
def test_it_offers_the_largest_whole_note_amount_the_checks_accept(balance, limit_left, room):
    assert rules.withdrawal_room(balance_minor=balance, limit_left_minor=limit_left, note_minor=1_000) == room
    if room:
        rules.whole_notes_check(room, 1_000)
        rules.withdrawal_check(amount_minor=room, balance_minor=balance, limit_left_minor=limit_left, currency="")


def test_it_keys_a_transfers_incoming_leg_after_the_outgoing_one():
    assert rules.transfer_in_key("atm:7:abc") == "atm:7:abc/in"


def test_it_counts_days_in_local_time(settings):
    settings.TIME_ZONE = "Europe/Amsterdam"
    late_utc = datetime.datetime(2025, 6, 30, 22, 30, tzinfo=datetime.UTC)  # 00:30 on 1 July in Amsterdam
    assert rules.local_day(late_utc) == datetime.date(2025, 7, 1)
    assert rules.local_day_start(late_utc) == datetime.datetime(2025, 7, 1, tzinfo=AMSTERDAM)


def test_it_requires_a_reason_and_strips_it():
    assert rules.reason_check("  Fee refund \n", "A reason is required.") == "Fee refund"
    with pytest.raises(InvalidAmount, match="^A reason is required for a reversal.$"):
        rules.reason_check("   ", "A reason is required for a reversal.")


@pytest.mark.parametrize(("amount", "left", "message"), [
    (750, 10_000, "The ATM takes whole notes: deposit a multiple of 5.00 EUR."),
    (2_500, 10_000, "The ATM takes at most 20.00 EUR in one deposit."),
    (1_500, 1_000, "This exceeds your daily deposit limit: 10.00 EUR left today."),
])
def test_it_refuses_atm_deposits_outside_the_cash_in_rules(amount, left, message):
    with pytest.raises((InvalidAmount, DailyLimitExceeded), match=f"^{message}$"):
        rules.deposit_check(amount_minor=amount, note_minor=500, max_minor=2_000, limit_left_minor=left,
                            currency="EUR")
    rules.deposit_check(amount_minor=1_000, note_minor=500, max_minor=2_000, limit_left_minor=1_000, currency="EUR")


def test_it_refuses_a_transfer_above_what_is_left_today():
    rules.transfer_check(amount_minor=1_000, limit_left_minor=1_000, currency="EUR")
    with pytest.raises(DailyLimitExceeded, match="^This exceeds your daily transfer limit: 9.99 EUR left today.$"):
        rules.transfer_check(amount_minor=1_000, limit_left_minor=999, currency="EUR")
