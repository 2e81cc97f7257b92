"""System checks of the account settings (accounts/checks.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.checks import currency_settings_check
from accounts.models import Account


def test_it_accepts_the_default_currency_list(settings):
    assert settings.ATM_CURRENCIES == ["EUR"] and currency_settings_check() == []


@pytest.mark.parametrize(
    ("codes", "default", "ids", "text"),
    [
        ([], "EUR", ["accounts.E001"], "ATM_CURRENCIES is empty: no account could be opened."),
        (["EUR", "XYZ"], "EUR", ["accounts.E002"], "ATM_CURRENCIES: 'XYZ' is not an ISO 4217 currency code."),
        (["JPY"], "JPY", ["accounts.E002"],
         "ATM_CURRENCIES: JPY is not counted in hundredths; the ledger keeps amounts in cents."),
        (["EUR"], "USD", ["accounts.E003"], "ATM_CURRENCY 'USD' is not one of ATM_CURRENCIES ['EUR']."),
    ],
)
def test_it_refuses_a_currency_list_the_ledger_cannot_keep(settings, codes, default, ids, text):
    settings.ATM_CURRENCIES, settings.ATM_CURRENCY = codes, default
    messages = currency_settings_check()
    assert [m.id for m in messages] == ids and messages[0].msg == text


@pytest.mark.django_db
def test_the_model_refuses_a_currency_outside_the_list(alice_customer):
    account = Account.objects.get(pk=alice_customer.account.pk)
    account.currency = "xyz"
    with pytest.raises(ValidationError) as caught:
        account.full_clean()
    assert caught.value.message_dict == {"currency": ["A currency is a three-letter code, for example EUR."]}
    account.currency = "USD"
    with pytest.raises(ValidationError, match="The bank keeps no accounts in USD"):
        account.full_clean()
