"""Every money movement of the bank goes through this module.

Each function runs in one database transaction, locks the account rows it touches with
SELECT ... FOR UPDATE in ascending pk order (so two transfers in opposite directions cannot
deadlock; on SQLite the IMMEDIATE transaction mode serializes writers instead), checks the rules
against the locked balance (the pure functions of transactions.rules), changes the balance and
appends one ledger entry per account leg.

Idempotency: a request carries an idempotency key. The key is looked up after the account lock
is held, so a repeated request waits for the first one and then returns its entries instead of
moving money again. A key reused for a different operation raises IdempotencyConflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account

from . import rules
from .exceptions import (
    AccountNotFound,
    AccountNotUsable,
    IdempotencyConflict,
    InvalidAmount,
    SameAccountTransfer,
)
from .models import LedgerEntry, Terminal

Kind = LedgerEntry.Kind


@dataclass(frozen=True)
class Posting:
    """The outcome of one operation: its entries (one, or two for a transfer) and whether it is a replay."""

    entries: tuple[LedgerEntry, ...]
    replayed: bool = False

    @property
    def entry(self) -> LedgerEntry:
        return self.entries[0]


def new_reference() -> str:
    """Return a fresh 16-character operation reference shown on receipts."""
    return uuid.uuid4().hex[:16].upper()


def _lock_accounts(*account_ids: int) -> dict[int, Account]:
    """Lock the accounts in ascending pk order and return them by pk."""
    locked = Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk")
    accounts = {account.pk: account for account in locked}
    missing = set(account_ids) - set(accounts)
    if missing:
        raise AccountNotFound()
    return accounts


def _replay(idempotency_key: str, *, account_id: int, kind: str, amount_minor: int) -> Posting | None:
    """Return the earlier outcome for this key, or None; refuse a key reused for something else."""
    first = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
    if first is None:
        return None
    if (first.account_id, first.kind, abs(first.amount_minor)) != (account_id, kind, amount_minor):
        raise IdempotencyConflict()
    entries = [first]
    if kind == Kind.TRANSFER_OUT:
        entries += list(LedgerEntry.objects.filter(idempotency_key=rules.transfer_in_key(idempotency_key)))
    return Posting(entries=tuple(entries), replayed=True)


def _require_open(account: Account) -> None:
    if not account.is_open:
        raise AccountNotUsable(f"Account {account.number} is {account.get_status_display().lower()}.")


def _append(account: Account, *, kind: str, delta: int, **fields: object) -> LedgerEntry:
    """Move `delta` on a locked account and append its ledger entry; refuse a negative balance."""
    new_balance = rules.balance_after(account.balance_minor, delta)
    account.balance_minor = new_balance
    account.save(update_fields=["balance_minor"])
    return LedgerEntry.objects.create(
        account=account, kind=kind, amount_minor=delta, balance_after_minor=new_balance, **fields
    )


def withdrawn_today_minor(account: Account) -> int:
    """Return the sum of today's ATM withdrawals on the account (local day), as a positive number."""
    start = rules.local_day_start(timezone.now())
    total = LedgerEntry.objects.filter(account=account, kind=Kind.WITHDRAWAL, created_at__gte=start).aggregate(
        total=Sum("amount_minor")
    )["total"]
    return -(total or 0)


def _run(operation: Callable[[], Posting], idempotency_key: str) -> Posting:
    """Run `operation` atomically; a concurrent insert of the same key becomes a conflict error."""
    try:
        with transaction.atomic():
            return operation()
    except IntegrityError as exc:
        if "idempotency_key" in str(exc) or "UNIQUE" in str(exc).upper():
            raise IdempotencyConflict() from exc
        raise


def withdrawal_create(
    *, account_id: int, amount_minor: int, idempotency_key: str, note_minor: int | None = None,
    channel: str = LedgerEntry.Channel.ATM, terminal: Terminal | None = None,
) -> Posting:
    """Withdraw cash: amount > 0, a multiple of the smallest note, within balance and the daily limit."""
    rules.amount_check(amount_minor)
    rules.whole_notes_check(amount_minor, note_minor)

    def operation() -> Posting:
        account = _lock_accounts(account_id)[account_id]
        replay = _replay(idempotency_key, account_id=account_id, kind=Kind.WITHDRAWAL, amount_minor=amount_minor)
        if replay:
            return replay
        _require_open(account)
        limit_left = rules.daily_limit_left(daily_limit_minor=account.daily_withdrawal_limit_minor,
                                            withdrawn_today_minor=withdrawn_today_minor(account))
        rules.withdrawal_check(amount_minor=amount_minor, balance_minor=account.balance_minor,
                               limit_left_minor=limit_left, currency=account.currency)
        entry = _append(
            account, kind=Kind.WITHDRAWAL, delta=-amount_minor, channel=channel, terminal=terminal,
            reference=new_reference(), idempotency_key=idempotency_key,
        )
        return Posting(entries=(entry,))

    return _run(operation, idempotency_key)


def deposit_create(
    *, account_id: int, amount_minor: int, idempotency_key: str,
    channel: str = LedgerEntry.Channel.ATM, terminal: Terminal | None = None,
) -> Posting:
    """Deposit money on an open account."""
    rules.amount_check(amount_minor)

    def operation() -> Posting:
        account = _lock_accounts(account_id)[account_id]
        replay = _replay(idempotency_key, account_id=account_id, kind=Kind.DEPOSIT, amount_minor=amount_minor)
        if replay:
            return replay
        _require_open(account)
        entry = _append(
            account, kind=Kind.DEPOSIT, delta=amount_minor, channel=channel, terminal=terminal,
            reference=new_reference(), idempotency_key=idempotency_key,
        )
        return Posting(entries=(entry,))

    return _run(operation, idempotency_key)


def transfer_create(
    *, from_account_id: int, to_account_number: str, amount_minor: int, idempotency_key: str,
    channel: str = LedgerEntry.Channel.ATM, terminal: Terminal | None = None,
) -> Posting:
    """Move money between two different open accounts of the same currency: two legs, one reference."""
    rules.amount_check(amount_minor)
    target_id = Account.objects.filter(number=to_account_number).values_list("pk", flat=True).first()
    if target_id is None:
        raise AccountNotFound()
    if target_id == from_account_id:
        raise SameAccountTransfer()

    def operation() -> Posting:
        accounts = _lock_accounts(from_account_id, target_id)
        source, target = accounts[from_account_id], accounts[target_id]
        replay = _replay(idempotency_key, account_id=source.pk, kind=Kind.TRANSFER_OUT, amount_minor=amount_minor)
        if replay:
            return replay
        _require_open(source)
        if not target.is_open:
            raise AccountNotFound()
        if source.currency != target.currency:
            raise AccountNotUsable("Transfers between different currencies are not supported.")
        common = {"channel": channel, "terminal": terminal, "reference": new_reference()}
        out_leg = _append(
            source, kind=Kind.TRANSFER_OUT, delta=-amount_minor, counterparty=target,
            idempotency_key=idempotency_key, **common,
        )
        in_leg = _append(
            target, kind=Kind.TRANSFER_IN, delta=amount_minor, counterparty=source,
            idempotency_key=rules.transfer_in_key(idempotency_key), **common,
        )
        return Posting(entries=(out_leg, in_leg))

    return _run(operation, idempotency_key)


def adjustment_create(
    *, account_id: int, amount_minor: int, staff_user: AbstractBaseUser, reason: str, idempotency_key: str,
) -> Posting:
    """Post a staff deposit or correction (signed amount) with a mandatory reason."""
    reason = rules.reason_check(reason, "A reason is required for a staff adjustment.")
    if amount_minor == 0:
        raise InvalidAmount("The amount must not be zero.")
    rules.amount_check(abs(amount_minor))

    def operation() -> Posting:
        account = _lock_accounts(account_id)[account_id]
        replay = _replay(idempotency_key, account_id=account_id, kind=Kind.ADJUSTMENT, amount_minor=abs(amount_minor))
        if replay:
            return replay
        if account.status == Account.Status.CLOSED:
            raise AccountNotUsable(f"Account {account.number} is closed.")
        entry = _append(
            account, kind=Kind.ADJUSTMENT, delta=amount_minor, channel=LedgerEntry.Channel.BACK_OFFICE,
            reference=new_reference(), idempotency_key=idempotency_key, staff_user=staff_user, reason=reason,
        )
        return Posting(entries=(entry,))

    return _run(operation, idempotency_key)


REVERSAL_OF_REVERSAL_MESSAGE = "A reversal cannot itself be reversed; post an adjustment instead."
ALREADY_REVERSED_MESSAGE = "This entry has already been reversed."


def reversal_create(
    *, entry_id: int, staff_user: AbstractBaseUser, reason: str, idempotency_key: str,
) -> Posting:
    """Compensate one entry with an entry of the opposite amount on the same account.

    A transfer is reversed leg by leg (each leg is its own entry). An entry can be reversed once.
    """
    reason = rules.reason_check(reason, "A reason is required for a reversal.")
    original = LedgerEntry.objects.filter(pk=entry_id).first()
    if original is None:
        raise InvalidAmount("No such ledger entry.")
    if original.kind == Kind.REVERSAL:
        raise InvalidAmount(REVERSAL_OF_REVERSAL_MESSAGE)

    def operation() -> Posting:
        account = _lock_accounts(original.account_id)[original.account_id]
        replay = _replay(
            idempotency_key, account_id=account.pk, kind=Kind.REVERSAL, amount_minor=abs(original.amount_minor)
        )
        if replay:
            return replay
        if LedgerEntry.objects.filter(reverses=original).exists():
            raise InvalidAmount(ALREADY_REVERSED_MESSAGE)
        entry = _append(
            account, kind=Kind.REVERSAL, delta=-original.amount_minor, channel=LedgerEntry.Channel.BACK_OFFICE,
            reference=original.reference, idempotency_key=idempotency_key, staff_user=staff_user,
            reason=reason, reverses=original,
        )
        return Posting(entries=(entry,))

    return _run(operation, idempotency_key)
