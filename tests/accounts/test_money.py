"""Amounts (accounts.money): the one parser, formatter and form field of the project, with exact messages."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from accounts.money import (
    MAX_AMOUNT_MINOR,
    AmountError,
    AmountField,
    format_major,
    format_minor,
    format_signed_minor,
    parse_amount,
)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter an amount."),
        ("abc", "Enter the amount as a number, for example 20 or 12.50."),
        ("1e3", "Enter the amount as a number, for example 20 or 12.50."),
        ("-5", "The amount must be more than zero."),
        ("-0.5", "The amount must be more than zero."),
        ("1,000", "Write the amount without a thousands separator (1000, not 1,000), with at most two decimals."),
        ("1.000.000", "Write the amount without a thousands separator (1000, not 1,000), with at most two decimals."),
        ("--5", "Enter the amount as a number, for example 20 or 12.50."),
        ("١٠", "Enter the amount as a number, for example 20 or 12.50."),
        ("1.2.3", "Enter the amount as a number, for example 20 or 12.50."),
        ("0", "The amount must be more than zero."),
        ("0.001", "Use at most two decimals."),
        ("10000000001", "This amount is too large."),
        ("9" * 2_000_000, "This amount is too large."),
    ],
)
def test_it_parses_only_sane_amounts(raw, message):
    with pytest.raises(AmountError, match=re.escape(message)):
        parse_amount(raw)


def test_it_parses_amounts_into_cents():
    assert [parse_amount(text) for text in ("20", "12.5", "12,50", " 0.01 ")] == [2000, 1250, 1250, 1]


def test_it_accepts_the_largest_amount_and_refuses_one_cent_more():
    assert parse_amount("10000000000") == MAX_AMOUNT_MINOR
    with pytest.raises(AmountError, match="^This amount is too large.$"):
        parse_amount("10000000000.01")


def test_it_says_a_negative_amount_is_refused_where_zero_is_allowed():
    with pytest.raises(AmountError, match="^The amount cannot be negative.$"):
        parse_amount("-20", allow_zero=True)


def test_it_accepts_zero_only_where_allowed():
    assert parse_amount("0", allow_zero=True) == 0
    assert parse_amount("0,00", allow_zero=True) == 0
    with pytest.raises(AmountError, match="^The amount must be more than zero.$"):
        parse_amount("0.00")


@pytest.mark.parametrize("raw", ["+5", "5e2", "NaN", "Infinity", "1_000", "1 000", ".", "１２"])
def test_it_reads_only_plain_ascii_decimals(raw):
    with pytest.raises(AmountError, match="^Enter the amount as a number, for example 20 or 12.50.$"):
        parse_amount(raw)


def test_it_reads_a_trailing_or_leading_decimal_point():
    assert [parse_amount(raw) for raw in ("12.", ".5", ",05")] == [1_200, 50, 5]


def test_it_refuses_twenty_one_characters_before_reading_them():
    assert parse_amount("0" * 19 + "1") == 100
    with pytest.raises(AmountError, match="^This amount is too large.$"):
        parse_amount("0" * 20 + "1")


@pytest.mark.parametrize(
    ("minor", "currency", "text", "signed"),
    [
        (0, "", "0.00", "0.00"),
        (1, "EUR", "0.01 EUR", "+0.01 EUR"),
        (123_450, "EUR", "1,234.50 EUR", "+1,234.50 EUR"),
        (-2_000, "EUR", "-20.00 EUR", "-20.00 EUR"),
        (MAX_AMOUNT_MINOR, "", "10,000,000,000.00", "+10,000,000,000.00"),
    ],
)
def test_it_formats_minor_units(minor, currency, text, signed):
    assert format_minor(minor, currency) == text
    assert format_signed_minor(minor, currency) == signed


def test_it_formats_major_units_that_parse_back():
    assert [format_major(minor) for minor in (0, 5, 25_050, 100_000)] == ["0.00", "0.05", "250.50", "1000.00"]
    assert all(parse_amount(format_major(m), allow_zero=True) == m for m in (0, 5, 25_050, 100_000))


def test_the_field_cleans_to_minor_units_with_the_parsers_messages():
    field = AmountField()
    assert field.clean(" 12,50 ") == 1_250
    for raw, message in [("", "Enter an amount."), ("9" * 21, "This amount is too large."),
                         ("-1", "The amount must be more than zero."),
                         ("0", "The amount must be more than zero.")]:
        with pytest.raises(ValidationError) as caught:
            field.clean(raw)
        assert caught.value.messages == [message]


def test_the_field_shows_and_compares_stored_minor_units():
    field = AmountField(allow_zero=True)
    assert field.clean("0") == 0
    assert field.prepare_value(25_050) == "250.50"
    assert field.prepare_value("250.5") == "250.5"
    assert not field.has_changed(100_000, "1000")
    assert field.has_changed(100_000, "999.99")
    assert field.has_changed(100_000, "junk")
