"""System checks for the account settings (run by `manage.py check` and at start-up)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from .money import iso_currency_problem


@register()
def currency_settings_check(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """Require ATM_CURRENCIES to be ISO 4217 codes counted in cents, and ATM_CURRENCY to be one of them."""
    codes = settings.ATM_CURRENCIES
    if not codes:
        return [Error("ATM_CURRENCIES is empty: no account could be opened.", hint="Set ATM_CURRENCIES=EUR.",
                      id="accounts.E001")]
    problems: list[CheckMessage] = [
        Error(f"ATM_CURRENCIES: {problem}", hint="List ISO 4217 codes such as EUR,USD.", id="accounts.E002")
        for problem in filter(None, map(iso_currency_problem, codes))
    ]
    if settings.ATM_CURRENCY not in codes:
        problems.append(Error(f"ATM_CURRENCY {settings.ATM_CURRENCY!r} is not one of ATM_CURRENCIES {codes}.",
                              id="accounts.E003"))
    return problems
