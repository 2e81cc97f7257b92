"""Read paths over the ledger (transactions/selectors.py): the mini-statement and the books check."""

from __future__ import annotations

import pytest
from django.db.models import F
from django.utils import timezone

from accounts.models import Account
from transactions.models import DailyWithdrawal, LedgerEntry
from transactions.selectors import LedgerProblem, ledger_problems, ledger_recent_for_account
from transactions.services import transfer_create, withdrawal_create

pytestmark = pytest.mark.django_db


def _entry(account: Account, *, kind: str, amount: int, balance_after: int, reference: str,
           **fields: object) -> LedgerEntry:
    """Append an entry behind the services' back and move the balance with it, as a faulty writer would."""
    entry = LedgerEntry.objects.create(
        account=account, kind=kind, amount_minor=amount, balance_after_minor=balance_after,
        channel=LedgerEntry.Channel.BACK_OFFICE, reference=reference, idempotency_key=f"test:{reference}:{kind}",
        **fields,
    )
    Account.objects.filter(pk=account.pk).update(balance_minor=F("balance_minor") + amount)
    return entry


def test_it_lists_the_latest_entries_newest_first_up_to_the_limit(alice_customer):
    for number, amount in enumerate((1_000, 2_000, 3_000)):
        withdrawal_create(account_id=alice_customer.account.pk, amount_minor=amount, idempotency_key=f"w{number}")
    recent = ledger_recent_for_account(account=alice_customer.account, limit=2)
    assert [entry.amount_minor for entry in recent] == [-3_000, -2_000]
    assert len(ledger_recent_for_account(account=alice_customer.account)) == 4  # the funding deposit too


def test_it_finds_no_problem_in_books_written_by_the_services(alice_customer, charlie_customer):
    withdrawal_create(account_id=alice_customer.account.pk, amount_minor=1_000, idempotency_key="w1")
    assert ledger_problems() == []


def test_it_names_a_transfer_with_a_missing_leg(alice_customer):
    _entry(alice_customer.account, kind=LedgerEntry.Kind.TRANSFER_OUT, amount=-1_000, balance_after=49_000,
           reference="lonely")
    assert ledger_problems() == [LedgerProblem("lonely", "transfer legs out=1 in=0 sum to -1000, not 0")]


def test_it_names_an_account_whose_last_entry_disagrees_with_its_balance(alice_customer):
    _entry(alice_customer.account, kind=LedgerEntry.Kind.DEPOSIT, amount=500, balance_after=7, reference="off")
    number = alice_customer.account.number
    assert ledger_problems() == [LedgerProblem(number, "last entry's balance_after 7 != balance 50500")]


def test_it_names_an_account_whose_balance_is_not_its_opening_plus_its_entries(alice_customer):
    Account.objects.filter(pk=alice_customer.account.pk).update(balance_minor=1)
    number = alice_customer.account.number
    assert ledger_problems() == [LedgerProblem(number, "balance 1 != opening 0 + entries 50000 = 50000")]


def test_it_names_a_transfer_reversed_on_one_leg_only(alice_customer, charlie_customer):
    """The sender gets the money back while the payee keeps it: every balance matches, money was created."""
    transfer = transfer_create(from_account_id=alice_customer.account.pk, amount_minor=10_000, idempotency_key="t1",
                               to_account_number=charlie_customer.account.number)
    out_leg = transfer.entries[0]
    _entry(alice_customer.account, kind=LedgerEntry.Kind.REVERSAL, amount=10_000, balance_after=50_000,
           reference=out_leg.reference, reverses=out_leg)
    assert ledger_problems() == [LedgerProblem(out_leg.reference, "only 1 of the transfer's 2 legs reversed")]


def test_it_names_a_reversal_that_does_not_cancel_its_original(alice_customer):
    deposit = LedgerEntry.objects.get(account=alice_customer.account)
    reversal = _entry(alice_customer.account, kind=LedgerEntry.Kind.REVERSAL, amount=-40_000, balance_after=10_000,
                      reference=deposit.reference, reverses=deposit)
    assert ledger_problems() == [LedgerProblem(
        deposit.reference, f"reversal #{reversal.pk} of entry #{deposit.pk} does not cancel it (same account, sum 0)"
    )]


def test_it_names_a_days_withdrawn_total_that_disagrees_with_the_ledger(alice_customer):
    withdrawal_create(account_id=alice_customer.account.pk, amount_minor=1_000, idempotency_key="w1")
    DailyWithdrawal.objects.update(withdrawn_minor=3_000)
    day = timezone.localdate()
    assert ledger_problems() == [LedgerProblem(
        alice_customer.account.number, f"withdrawn on {day} kept as 3000, the ledger's withdrawals sum to 1000")]
