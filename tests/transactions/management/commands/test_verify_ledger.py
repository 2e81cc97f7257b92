"""python manage.py verify_ledger: balances and the ledger agree, or every difference is named."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Account

pytestmark = pytest.mark.django_db


def test_it_reports_a_tampered_balance(alice_customer, capsys):
    call_command("verify_ledger")
    Account.objects.filter(pk=alice_customer.account.pk).update(balance_minor=1)
    with pytest.raises(CommandError, match="1 difference"):
        call_command("verify_ledger")
    assert alice_customer.account.number in capsys.readouterr().err
