"""Read paths over the ledger (transactions/selectors.py): the mini-statement and the books check."""

from __future__ import annotations

import pytest
from django.db.models import F
from django.utils import timezone

from accounts.models import Account
from transactions.models import DailyWithdrawal, LedgerEntry
from transactions.selectors import LedgerProblem, ledger_problems, ledger_recent_for_account
from transactions.services import withdrawal_create

pytestmark = pytest.mark.django_db


def _entry(account: Account, *, kind: str, amount: int, balance_after: int, reference: str) -> None:
    """Append an entry behind the services' back and move the balance with it, as a faulty writer would."""
    LedgerEntry.objects.create(account=account, kind=kind, amount_minor=amount, balance_after_minor=balance_after,
                               channel=LedgerEntry.Channel.BACK_OFFICE, reference=reference,
                               idempotency_key=f"test:{reference}")
    Account.objects.filter(pk=account.pk).update(balance_minor=F("balance_minor") + amount)


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


def test_it_names_a_days_withdrawn_total_that_disagrees_with_the_ledger(alice_customer):
    withdrawal_create(account_id=alice_customer.account.pk, amount_minor=1_000, idempotency_key="w1")
    DailyWithdrawal.objects.update(withdrawn_minor=3_000)
    day = timezone.localdate()
    assert ledger_problems() == [LedgerProblem(
        alice_customer.account.number, f"withdrawn on {day} kept as 3000, the ledger's withdrawals sum to 1000")]
