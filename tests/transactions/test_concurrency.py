"""Concurrent money movements on PostgreSQL: no overdraft, no deadlock, money conserved, keys honoured.

Threads share a few accounts and move money both ways between them, so a wrong locking order
would deadlock and a check outside the lock would overdraw. Each thread has its own connection
(Django's connections are per thread) and closes it when done.
"""

from __future__ import annotations

import functools
import io
import random
from collections import Counter
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import Account
from tests.factories import funded_card
from tests.support.threads import run_together
from transactions.exceptions import DailyLimitExceeded, InsufficientFunds, TransactionError
from transactions.models import LedgerEntry
from transactions.services import Posting, transfer_create, withdrawal_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
OPERATIONS_PER_THREAD = 25
AMOUNTS = (1_000, 2_000, 5_000)


def _in_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run work(0..count-1) in threads released together; return what they raised."""
    calls = [functools.partial(work, number) for number in range(count)]
    outcomes = run_together(calls, after_each=lambda: connection.close())
    return [outcome.error for outcome in outcomes if outcome.error is not None]


@pytest.fixture
def shared_accounts(alice_customer, charlie_customer) -> list[Account]:
    third = funded_card(first_name="Dana", balance_minor=30_000, pin="8642")
    return [alice_customer.account, charlie_customer.account, third.account]


def _one_operation(rng: random.Random, accounts: list[Account], key: str) -> tuple[str, int]:
    """Withdraw from, or transfer between, random shared accounts; return (kind, amount)."""
    source, target = rng.sample(accounts, 2)
    amount = rng.choice(AMOUNTS)
    if rng.random() < 0.5:
        withdrawal_create(account_id=source.pk, amount_minor=amount, idempotency_key=key, note_minor=1_000)
        return "withdrawal", amount
    transfer_create(from_account_id=source.pk, to_account_number=target.number, amount_minor=amount,
                    idempotency_key=key)
    return "transfer", amount


def test_it_never_overdraws_or_deadlocks_under_concurrent_withdrawals_and_transfers(shared_accounts):
    initial_total = sum(account.balance_minor for account in shared_accounts)
    initial_entries = LedgerEntry.objects.count()
    done: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    withdrawn: list[int] = []

    def work(number: int) -> None:
        rng = random.Random(number)
        for step in range(OPERATIONS_PER_THREAD):
            try:
                kind, amount = _one_operation(rng, shared_accounts, key=f"race-{number}-{step}")
            except TransactionError as exc:
                refused[type(exc).__name__] += 1
                continue
            done[kind] += 1
            if kind == "withdrawal":
                withdrawn.append(amount)

    assert _in_threads(THREADS, work) == []
    assert sum(done.values()) + sum(refused.values()) == THREADS * OPERATIONS_PER_THREAD
    assert done["withdrawal"] and done["transfer"] and refused[InsufficientFunds.__name__]
    balances = list(Account.objects.filter(pk__in=[a.pk for a in shared_accounts]).values_list("balance_minor", flat=True))
    assert min(balances) >= 0
    assert sum(balances) == initial_total - sum(withdrawn)
    assert LedgerEntry.objects.count() == initial_entries + done["withdrawal"] + 2 * done["transfer"]
    call_command("verify_ledger", stdout=io.StringIO())


@pytest.mark.parametrize("operation", ["withdrawal", "transfer"])
def test_it_moves_money_once_when_the_same_request_arrives_concurrently(alice_customer, charlie_customer, operation):
    source = alice_customer.account
    before = LedgerEntry.objects.count()
    postings: list[Posting] = []

    def submit(_number: int) -> None:
        if operation == "withdrawal":
            postings.append(withdrawal_create(account_id=source.pk, amount_minor=2_000, idempotency_key="double"))
        else:
            postings.append(transfer_create(from_account_id=source.pk, to_account_number=charlie_customer.account.number,
                                            amount_minor=2_000, idempotency_key="double"))

    assert _in_threads(THREADS, submit) == []
    assert len(postings) == THREADS
    assert [posting.replayed for posting in postings].count(False) == 1
    assert len({tuple(entry.pk for entry in posting.entries) for posting in postings}) == 1
    assert Account.objects.get(pk=source.pk).balance_minor == 48_000
    expected_charlie = 12_000 if operation == "transfer" else 10_000
    assert Account.objects.get(pk=charlie_customer.account.pk).balance_minor == expected_charlie
    assert LedgerEntry.objects.count() == before + (2 if operation == "transfer" else 1)
    call_command("verify_ledger", stdout=io.StringIO())


def test_concurrent_withdrawals_never_exceed_the_daily_limit_together(alice_customer):
    """Each withdrawal reads the day's total after the lock: eight at once get exactly the limit's worth."""
    account = alice_customer.account
    Account.objects.filter(pk=account.pk).update(daily_withdrawal_limit_minor=5_000)
    paid: list[int] = []

    def withdraw(number: int) -> None:
        try:
            withdrawal_create(account_id=account.pk, amount_minor=1_000, idempotency_key=f"limit-{number}")
        except DailyLimitExceeded:
            return
        paid.append(1_000)

    assert _in_threads(THREADS, withdraw) == []
    assert sum(paid) == 5_000
    assert Account.objects.get(pk=account.pk).balance_minor == 45_000
    call_command("verify_ledger", stdout=io.StringIO())
