"""Template filters that show minor units (cents) as money: {{ account.balance_minor|money:account.currency }}."""

from __future__ import annotations

from django import template

from accounts.money import format_minor, format_signed_minor, format_whole

register = template.Library()


@register.filter
def money(minor: int, currency: str = "") -> str:
    """Format minor units as "1,234.50 EUR"."""
    return format_minor(int(minor), currency)


@register.filter
def signed_money(minor: int, currency: str = "") -> str:
    """Format minor units with an explicit sign, "+20.00 EUR" or "-20.00 EUR", as on a statement."""
    return format_signed_minor(int(minor), currency)


@register.filter
def major(minor: int) -> str:
    """Format minor units as the ATM's amount field reads them back: 5000 -> "50"."""
    return format_whole(int(minor))
