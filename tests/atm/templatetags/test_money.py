"""The money template filters (atm/templatetags/money.py): minor units shown as amounts in templates."""

from __future__ import annotations

from django.template import Context, Template


def _render(text: str, **context: object) -> str:
    return Template("{% load money %}" + text).render(Context(context))


def test_it_shows_minor_units_with_separators_and_the_currency():
    assert _render("{{ balance|money:'EUR' }}", balance=123450) == "1,234.50 EUR"
    assert _render("{{ balance|money }}", balance="-5") == "-0.05"


def test_it_signs_credits_and_debits_as_on_a_statement():
    assert _render("{{ a|signed_money:'EUR' }} {{ b|signed_money:'EUR' }} {{ c|signed_money }}",
                   a=2000, b=-2000, c=0) == "+20.00 EUR -20.00 EUR 0.00"
