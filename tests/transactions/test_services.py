"""The ledger service: every movement is atomic, rule-checked and recorded exactly once."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from django.db.models import F
from django.utils import timezone

from accounts.models import Account
from transactions.exceptions import (
    AccountNotFound,
    AccountNotUsable,
    DailyLimitExceeded,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    LedgerImmutable,
    SameAccountTransfer,
)
from transactions.models import DailyWithdrawal, LedgerEntry
from transactions.selectors import ledger_problems
from transactions.services import (
    adjustment_create,
    deposit_create,
    reversal_create,
    transfer_create,
    withdrawal_create,
    withdrawn_today_minor,
)

pytestmark = pytest.mark.django_db


def _balance(account: Account) -> int:
    return Account.objects.get(pk=account.pk).balance_minor


def _snapshot() -> tuple[list[tuple[int, int]], int]:
    return list(Account.objects.order_by("pk").values_list("pk", "balance_minor")), LedgerEntry.objects.count()


def test_it_withdraws_and_records_balance_after(alice_customer):
    posting = withdrawal_create(account_id=alice_customer.account.pk, amount_minor=2_000, idempotency_key="w1")
    assert _balance(alice_customer.account) == 48_000
    assert posting.entry.amount_minor == -2_000
    assert posting.entry.balance_after_minor == 48_000
    assert ledger_problems() == []


@pytest.mark.parametrize(
    ("amount", "note", "error", "message"),
    [
        (0, 1000, InvalidAmount, "The amount must be more than zero."),
        (-1000, 1000, InvalidAmount, "The amount must be more than zero."),
        (10**13, 1000, InvalidAmount, "This amount is too large."),
        (1500, 1000, InvalidAmount, "The ATM pays out multiples of 10.00."),
        (60_000, 1000, InsufficientFunds, "Insufficient funds for this amount."),
    ],
)
def test_it_refuses_bad_withdrawals_and_changes_nothing(alice_customer, amount, note, error, message):
    before = _snapshot()
    with pytest.raises(error, match=message):
        withdrawal_create(account_id=alice_customer.account.pk, amount_minor=amount, idempotency_key="bad",
                          note_minor=note)
    assert _snapshot() == before


def test_it_enforces_the_daily_withdrawal_limit(alice_customer):
    Account.objects.filter(pk=alice_customer.account.pk).update(daily_withdrawal_limit_minor=30_000)
    withdrawal_create(account_id=alice_customer.account.pk, amount_minor=20_000, idempotency_key="w1")
    before = _snapshot()
    with pytest.raises(DailyLimitExceeded, match="100.00 EUR left today"):
        withdrawal_create(account_id=alice_customer.account.pk, amount_minor=20_000, idempotency_key="w2")
    assert _snapshot() == before


def test_it_keeps_the_days_withdrawn_total_beside_the_ledger(alice_customer):
    account = alice_customer.account
    for number, amount in enumerate((2_000, 3_000)):
        withdrawal_create(account_id=account.pk, amount_minor=amount, idempotency_key=f"w{number}")
    deposit_create(account_id=account.pk, amount_minor=9_000, idempotency_key="d")
    assert list(DailyWithdrawal.objects.values_list("account_id", "day", "withdrawn_minor")) == [
        (account.pk, timezone.localdate(), 5_000)]
    assert withdrawn_today_minor(Account.objects.get(pk=account.pk)) == 5_000
    assert ledger_problems() == []


def test_a_day_without_its_total_counts_the_withdrawals_already_in_the_ledger(alice_customer):
    """Entries written outside the services (demo data, a migration) still count toward the day's limit."""
    account = alice_customer.account
    Account.objects.filter(pk=account.pk).update(daily_withdrawal_limit_minor=30_000, balance_minor=F("balance_minor") - 25_000)
    LedgerEntry.objects.create(account=account, kind=LedgerEntry.Kind.WITHDRAWAL, amount_minor=-25_000,
                               balance_after_minor=25_000, channel=LedgerEntry.Channel.ATM, reference="outside",
                               idempotency_key="outside")
    with pytest.raises(DailyLimitExceeded, match="50.00 EUR left today"):
        withdrawal_create(account_id=account.pk, amount_minor=10_000, idempotency_key="w1")
    withdrawal_create(account_id=account.pk, amount_minor=5_000, idempotency_key="w2")
    assert DailyWithdrawal.objects.get().withdrawn_minor == 30_000
    assert ledger_problems() == []


def test_a_withdrawal_that_waited_for_the_lock_past_midnight_counts_toward_the_new_day(alice_customer):
    account = alice_customer.account
    Account.objects.filter(pk=account.pk).update(daily_withdrawal_limit_minor=30_000)
    day = timezone.localdate() + datetime.timedelta(days=2)  # after the account's funding entry
    late = timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 59, 59)))
    next_day = late + datetime.timedelta(seconds=2)
    with mock.patch("transactions.services.timezone.now", side_effect=[late, late]):
        withdrawal_create(account_id=account.pk, amount_minor=25_000, idempotency_key="w1")
    # Asked at 23:59:59, lock held after midnight: the new day's limit applies, and the entry is dated then.
    with mock.patch("transactions.services.timezone.now", side_effect=[late, next_day]):
        posting = withdrawal_create(account_id=account.pk, amount_minor=10_000, idempotency_key="w2")
    assert posting.entry.created_at == next_day
    assert dict(DailyWithdrawal.objects.values_list("day", "withdrawn_minor")) == {
        day: 25_000, day + datetime.timedelta(days=1): 10_000}
    assert ledger_problems() == []


def test_it_moves_money_once_for_a_repeated_idempotency_key(alice_customer):
    first = withdrawal_create(account_id=alice_customer.account.pk, amount_minor=1_000, idempotency_key="same")
    again = withdrawal_create(account_id=alice_customer.account.pk, amount_minor=1_000, idempotency_key="same")
    assert again.replayed and again.entry.pk == first.entry.pk
    assert _balance(alice_customer.account) == 49_000


def test_it_refuses_a_key_reused_for_another_operation(alice_customer):
    withdrawal_create(account_id=alice_customer.account.pk, amount_minor=1_000, idempotency_key="same")
    with pytest.raises(IdempotencyConflict):
        withdrawal_create(account_id=alice_customer.account.pk, amount_minor=2_000, idempotency_key="same")
    assert _balance(alice_customer.account) == 49_000


def test_it_transfers_with_two_balancing_legs(alice_customer, charlie_customer):
    posting = transfer_create(from_account_id=alice_customer.account.pk,
                              to_account_number=charlie_customer.account.number,
                              amount_minor=12_345, idempotency_key="t1")
    out_leg, in_leg = posting.entries
    assert (out_leg.amount_minor, in_leg.amount_minor) == (-12_345, 12_345)
    assert out_leg.reference == in_leg.reference
    assert (_balance(alice_customer.account), _balance(charlie_customer.account)) == (37_655, 22_345)
    assert transfer_create(from_account_id=alice_customer.account.pk,
                           to_account_number=charlie_customer.account.number,
                           amount_minor=12_345, idempotency_key="t1").replayed
    assert _balance(alice_customer.account) == 37_655
    assert ledger_problems() == []


def test_it_refuses_transfers_to_self_unknown_or_closed_accounts(alice_customer, charlie_customer):
    before = _snapshot()
    with pytest.raises(SameAccountTransfer):
        transfer_create(from_account_id=alice_customer.account.pk, to_account_number=alice_customer.account.number,
                        amount_minor=100, idempotency_key="t1")
    with pytest.raises(AccountNotFound):
        transfer_create(from_account_id=alice_customer.account.pk, to_account_number="NL00ATMB0000000000",
                        amount_minor=100, idempotency_key="t2")
    with pytest.raises(InsufficientFunds):
        transfer_create(from_account_id=charlie_customer.account.pk, to_account_number=alice_customer.account.number,
                        amount_minor=10_001, idempotency_key="t4")
    Account.objects.filter(pk=charlie_customer.account.pk).update(status=Account.Status.CLOSED)
    with pytest.raises(AccountNotFound):
        transfer_create(from_account_id=alice_customer.account.pk, to_account_number=charlie_customer.account.number,
                        amount_minor=100, idempotency_key="t3")
    assert _snapshot()[1] == before[1]
    assert [b for _, b in _snapshot()[0]] == [b for _, b in before[0]]


def test_it_refuses_movements_on_a_frozen_account(alice_customer):
    Account.objects.filter(pk=alice_customer.account.pk).update(status=Account.Status.FROZEN)
    with pytest.raises(AccountNotUsable, match="is frozen"):
        deposit_create(account_id=alice_customer.account.pk, amount_minor=100, idempotency_key="d1")


def test_it_requires_a_reason_for_staff_adjustments(alice_customer, bob_teller):
    with pytest.raises(InvalidAmount, match="A reason is required"):
        adjustment_create(account_id=alice_customer.account.pk, amount_minor=500, staff_user=bob_teller,
                          reason="  ", idempotency_key="a1")
    entry = adjustment_create(account_id=alice_customer.account.pk, amount_minor=-500, staff_user=bob_teller,
                              reason="card fee", idempotency_key="a2").entry
    assert (entry.staff_user, entry.reason, entry.balance_after_minor) == (bob_teller, "card fee", 49_500)


def test_it_corrects_a_mistake_with_a_compensating_entry(alice_customer, bob_teller):
    wrong = deposit_create(account_id=alice_customer.account.pk, amount_minor=7_000, idempotency_key="d1").entry
    fix = reversal_create(entry_id=wrong.pk, staff_user=bob_teller, reason="deposit counted twice",
                          idempotency_key="r1").entry
    assert fix.amount_minor == -7_000 and fix.reverses == wrong
    assert _balance(alice_customer.account) == 50_000
    with pytest.raises(InvalidAmount, match="already been reversed"):
        reversal_create(entry_id=wrong.pk, staff_user=bob_teller, reason="again", idempotency_key="r2")
    assert LedgerEntry.objects.filter(account=alice_customer.account).count() == 3


def test_it_never_updates_or_deletes_ledger_entries(alice_customer):
    entry = LedgerEntry.objects.filter(account=alice_customer.account).first()
    entry.amount_minor = 1
    with pytest.raises(LedgerImmutable):
        entry.save()
    with pytest.raises(LedgerImmutable):
        entry.delete()
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount_minor=1)
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.all().delete()


@pytest.mark.postgres
def test_it_refuses_raw_sql_changes_to_the_ledger_in_the_database(alice_customer):
    from django.db import DatabaseError, connection, transaction

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE transactions_ledgerentry SET amount_minor = 1")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM transactions_ledgerentry")
