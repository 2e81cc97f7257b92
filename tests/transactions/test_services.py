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
    DepositLimits,
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
    Account.objects.filter(pk=charlie_customer.account.pk).update(currency="USD")
    with pytest.raises(AccountNotFound, match=r"^Money cannot be transferred to this account number\."):
        transfer_create(from_account_id=alice_customer.account.pk, to_account_number=charlie_customer.account.number,
                        amount_minor=100, idempotency_key="t5")
    Account.objects.filter(pk=charlie_customer.account.pk).update(currency="EUR", status=Account.Status.CLOSED)
    with pytest.raises(AccountNotFound, match=r"^Money cannot be transferred to this account number\."):
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


def _transfer(alice_customer, charlie_customer, amount=10_000):
    return transfer_create(from_account_id=alice_customer.account.pk, amount_minor=amount, idempotency_key="t1",
                           to_account_number=charlie_customer.account.number)


@pytest.mark.parametrize("leg", [0, 1], ids=["out-leg", "in-leg"])
def test_it_reverses_a_transfer_as_a_whole_from_either_leg(alice_customer, charlie_customer, bob_teller, leg):
    transfer = _transfer(alice_customer, charlie_customer)
    posting = reversal_create(entry_id=transfer.entries[leg].pk, staff_user=bob_teller, reason="sent by mistake",
                              idempotency_key="r1")
    assert {(entry.reverses_id, entry.amount_minor) for entry in posting.entries} == {
        (transfer.entries[0].pk, 10_000), (transfer.entries[1].pk, -10_000)
    }
    assert (_balance(alice_customer.account), _balance(charlie_customer.account)) == (50_000, 10_000)
    assert ledger_problems() == []
    again = reversal_create(entry_id=transfer.entries[leg].pk, staff_user=bob_teller, reason="sent by mistake",
                            idempotency_key="r1")
    assert again.replayed and {e.pk for e in again.entries} == {e.pk for e in posting.entries}
    with pytest.raises(InvalidAmount, match="already been reversed"):
        reversal_create(entry_id=transfer.entries[1 - leg].pk, staff_user=bob_teller, reason="again",
                        idempotency_key="r2")


def test_it_reverses_no_leg_when_the_payee_has_spent_the_money(alice_customer, charlie_customer, bob_teller):
    transfer = _transfer(alice_customer, charlie_customer)
    withdrawal_create(account_id=charlie_customer.account.pk, amount_minor=20_000, idempotency_key="w1")
    before = _snapshot()
    with pytest.raises(InsufficientFunds):
        reversal_create(entry_id=transfer.entries[0].pk, staff_user=bob_teller, reason="sent by mistake",
                        idempotency_key="r1")
    assert _snapshot() == before


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


ATM_CASH_IN = DepositLimits(note_minor=500, max_minor=300_000, daily_minor=500_000)


@pytest.mark.parametrize(("amount", "error", "message"), [
    (1_250, InvalidAmount, "The ATM takes whole notes: deposit a multiple of 5.00 EUR."),
    (300_500, InvalidAmount, "The ATM takes at most 3,000.00 EUR in one deposit."),
])
def test_it_takes_atm_cash_in_whole_notes_up_to_the_cap(alice_customer, amount, error, message):
    before = _snapshot()
    with pytest.raises(error, match=f"^{message}$"):
        deposit_create(account_id=alice_customer.account.pk, amount_minor=amount, idempotency_key="d1",
                       limits=ATM_CASH_IN)
    assert _snapshot() == before


def test_it_caps_atm_cash_in_per_day_but_not_branch_deposits(alice_customer):
    account = alice_customer.account.pk
    for n in range(2):
        deposit_create(account_id=account, amount_minor=250_000, idempotency_key=f"d{n}", limits=ATM_CASH_IN)
    with pytest.raises(DailyLimitExceeded, match="daily deposit limit: 0.00 EUR left today"):
        deposit_create(account_id=account, amount_minor=500, idempotency_key="d3", limits=ATM_CASH_IN)
    deposit_create(account_id=account, amount_minor=1_000_000, idempotency_key="b1", channel="branch")
    assert _balance(alice_customer.account) == 50_000 + 500_000 + 1_000_000


def test_it_limits_transfers_per_day(alice_customer, charlie_customer):
    common = {"from_account_id": alice_customer.account.pk, "to_account_number": charlie_customer.account.number,
              "daily_limit_minor": 10_000}
    for n in range(2):
        transfer_create(amount_minor=5_000, idempotency_key=f"t{n}", **common)
    before = _snapshot()
    with pytest.raises(DailyLimitExceeded, match="daily transfer limit: 0.00 EUR left today"):
        transfer_create(amount_minor=100, idempotency_key="t3", **common)
    assert _snapshot() == before


def test_a_transfer_that_waited_for_the_lock_past_midnight_counts_toward_the_new_day(alice_customer, charlie_customer):
    common = {"from_account_id": alice_customer.account.pk, "to_account_number": charlie_customer.account.number,
              "daily_limit_minor": 10_000}
    day = timezone.localdate() + datetime.timedelta(days=2)
    late = timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 59, 59)))
    next_day = late + datetime.timedelta(seconds=2)
    with mock.patch("transactions.services.timezone.now", side_effect=[late, late]):
        transfer_create(amount_minor=10_000, idempotency_key="t1", **common)
    # Asked at 23:59:59 with the day's limit used up, lock held after midnight: the new day's limit applies.
    with mock.patch("transactions.services.timezone.now", side_effect=[late, next_day]):
        posting = transfer_create(amount_minor=5_000, idempotency_key="t2", **common)
    assert posting.entry.created_at == next_day
    assert _balance(alice_customer.account) == 35_000


def test_a_reversed_withdrawal_still_counts_toward_its_days_limit_and_the_books_agree(alice_customer, bob_teller):
    account = alice_customer.account
    Account.objects.filter(pk=account.pk).update(daily_withdrawal_limit_minor=20_000)
    first = withdrawal_create(account_id=account.pk, amount_minor=20_000, idempotency_key="w1")
    reversal_create(entry_id=first.entry.pk, staff_user=bob_teller, reason="cash not dispensed", idempotency_key="r1")
    assert _balance(account) == 50_000
    assert DailyWithdrawal.objects.get(account=account).withdrawn_minor == 20_000
    assert ledger_problems() == []
    with pytest.raises(DailyLimitExceeded):
        withdrawal_create(account_id=account.pk, amount_minor=1_000, idempotency_key="w2")


def test_it_refuses_a_large_staff_posting_without_a_second_staff_member(alice_customer, bob_teller):
    from transactions.exceptions import ApprovalError

    before = _snapshot()
    with pytest.raises(ApprovalError, match="needs a second staff member's approval"):
        adjustment_create(account_id=alice_customer.account.pk, amount_minor=-100_001, staff_user=bob_teller,
                          reason="fraud refund", idempotency_key="a1")
    with pytest.raises(ApprovalError, match="you made this request"):
        adjustment_create(account_id=alice_customer.account.pk, amount_minor=100_001, staff_user=bob_teller,
                          reason="fraud refund", idempotency_key="a1", approved_by=bob_teller)
    assert _snapshot() == before
    small = adjustment_create(account_id=alice_customer.account.pk, amount_minor=100_000, staff_user=bob_teller,
                              reason="at the threshold", idempotency_key="a2").entry
    assert small.approved_by is None


def test_it_posts_an_approved_request_once_through_the_service(alice_customer, bob_teller, admin_user):
    from transactions.exceptions import ApprovalError
    from transactions.models import StaffPosting
    from transactions.services import adjustment_request, staff_posting_approve, staff_posting_reject

    request = adjustment_request(account_id=alice_customer.account.pk, amount_minor=200_000, staff_user=bob_teller,
                                 reason="cash count", idempotency_key="k1")
    assert isinstance(request, StaffPosting) and request.status == "pending"
    assert adjustment_request(account_id=alice_customer.account.pk, amount_minor=200_000, staff_user=bob_teller,
                              reason="cash count", idempotency_key="k1") == request
    with pytest.raises(ApprovalError, match="you made this request"):
        staff_posting_reject(posting_id=request.pk, checker=bob_teller, reason="no")
    posting = staff_posting_approve(posting_id=request.pk, checker=admin_user)
    assert (posting.entry.staff_user, posting.entry.approved_by, posting.entry.amount_minor) == (
        bob_teller, admin_user, 200_000)
    assert _balance(alice_customer.account) == 250_000 and ledger_problems() == []
