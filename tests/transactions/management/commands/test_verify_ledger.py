"""python manage.py verify_ledger: balances and the ledger agree, or every difference is named."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from transactions.services import transfer_create

pytestmark = pytest.mark.django_db


def test_it_reports_a_tampered_balance(alice_customer, capsys):
    call_command("verify_ledger")
    Account.objects.filter(pk=alice_customer.account.pk).update(balance_minor=1)
    with pytest.raises(CommandError, match="1 difference"):
        call_command("verify_ledger")
    assert alice_customer.account.number in capsys.readouterr().err


def test_it_fails_on_a_transfer_reversed_on_one_leg_through_the_database(alice_customer, charlie_customer, capsys):
    transfer = transfer_create(from_account_id=alice_customer.account.pk, amount_minor=10_000, idempotency_key="t1",
                               to_account_number=charlie_customer.account.number)
    out_leg = transfer.entries[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO transactions_ledgerentry (account_id, kind, amount_minor, balance_after_minor, created_at,"
            " channel, reference, idempotency_key, reverses_id, reason) VALUES (%s, 'reversal', 10000, 50000, %s,"
            " 'back_office', %s, 'forged', %s, 'forged')",
            [alice_customer.account.pk, timezone.now(), out_leg.reference, out_leg.pk],
        )
    Account.objects.filter(pk=alice_customer.account.pk).update(balance_minor=50_000)
    with pytest.raises(CommandError, match="1 difference"):
        call_command("verify_ledger")
    assert f"{out_leg.reference}: only 1 of the transfer's 2 legs reversed" in capsys.readouterr().err
