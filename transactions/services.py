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

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account

from . import postings, rules
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
    return _all_found({account.pk: account for account in locked}, account_ids)


def _all_found(accounts: dict[int, Account], account_ids: tuple[int, ...]) -> dict[int, Account]:
    if set(account_ids) - set(accounts):
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


def _leg(account: Account, *, kind: str, delta: int, withdrawn: tuple[datetime.date, int] | None = None,
         **fields: object) -> postings.Leg:
    """Return one account's leg of a movement; refuse a negative balance (rules.balance_after)."""
    return postings.Leg(account, kind, delta, rules.balance_after(account.balance_minor, delta), fields, withdrawn)


def _append(account: Account, *, kind: str, delta: int, withdrawn: tuple[datetime.date, int] | None = None,
            **fields: object) -> LedgerEntry:
    """Move `delta` on a locked account and append its ledger entry; refuse a negative balance."""
    return postings.append(_leg(account, kind=kind, delta=delta, withdrawn=withdrawn, **fields))[0]


def withdrawn_today_minor(account: Account) -> int:
    """Return the sum of today's ATM withdrawals on the account (local day), as a positive number."""
    return postings.withdrawn_on_minor(account.pk, timezone.now())


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
        # One round trip: the lock, then (after it) the key and today's withdrawals (transactions.postings).
        asked = timezone.now()
        locked = postings.lock_and_read([account_id], idempotency_key=idempotency_key, withdrawals_of=account_id,
                                        now=asked)
        account = _all_found(locked.accounts, (account_id,))[account_id]
        if locked.key_used and (replay := _replay(
                idempotency_key, account_id=account_id, kind=Kind.WITHDRAWAL, amount_minor=amount_minor)):
            return replay
        _require_open(account)
        # Dated once the lock is held, so an account's entries are dated in the order they were made.
        now, withdrawn = timezone.now(), locked.withdrawn_minor
        if rules.local_day(now) != rules.local_day(asked):  # midnight passed while waiting for the lock
            withdrawn = postings.withdrawn_on_minor(account_id, now)
        limit_left = rules.daily_limit_left(daily_limit_minor=account.daily_withdrawal_limit_minor,
                                            withdrawn_today_minor=withdrawn)
        rules.withdrawal_check(amount_minor=amount_minor, balance_minor=account.balance_minor,
                               limit_left_minor=limit_left, currency=account.currency)
        entry = _append(
            account, kind=Kind.WITHDRAWAL, delta=-amount_minor, channel=channel, terminal=terminal,
            reference=new_reference(), idempotency_key=idempotency_key, created_at=now,
            withdrawn=(rules.local_day(now), withdrawn + amount_minor),
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

    def operation() -> Posting:
        # One round trip: both rows locked in pk order (the target found by its number), then the key.
        locked = postings.lock_and_read([from_account_id], numbers=[to_account_number], idempotency_key=idempotency_key)
        source = locked.accounts.get(from_account_id)
        target = next((a for a in locked.accounts.values() if a.number == to_account_number), None)
        if source is None or target is None:
            raise AccountNotFound()
        if target.pk == source.pk:
            raise SameAccountTransfer()
        if locked.key_used and (replay := _replay(
                idempotency_key, account_id=source.pk, kind=Kind.TRANSFER_OUT, amount_minor=amount_minor)):
            return replay
        _require_open(source)
        if not target.is_open:
            raise AccountNotFound()
        if source.currency != target.currency:
            raise AccountNotUsable("Transfers between different currencies are not supported.")
        common: dict[str, Any] = {"channel": channel, "terminal": terminal, "reference": new_reference()}
        # Both legs in one statement: both balances written, both entries appended.
        out_leg, in_leg = postings.append(
            _leg(source, kind=Kind.TRANSFER_OUT, delta=-amount_minor, counterparty=target,
                 idempotency_key=idempotency_key, **common),
            _leg(target, kind=Kind.TRANSFER_IN, delta=amount_minor, counterparty=source,
                 idempotency_key=rules.transfer_in_key(idempotency_key), **common),
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
        raise InvalidAmount("A reversal cannot itself be reversed; post an adjustment instead.")

    def operation() -> Posting:
        account = _lock_accounts(original.account_id)[original.account_id]
        replay = _replay(
            idempotency_key, account_id=account.pk, kind=Kind.REVERSAL, amount_minor=abs(original.amount_minor)
        )
        if replay:
            return replay
        if LedgerEntry.objects.filter(reverses=original).exists():
            raise InvalidAmount("This entry has already been reversed.")
        entry = _append(
            account, kind=Kind.REVERSAL, delta=-original.amount_minor, channel=LedgerEntry.Channel.BACK_OFFICE,
            reference=original.reference, idempotency_key=idempotency_key, staff_user=staff_user,
            reason=reason, reverses=original,
        )
        return Posting(entries=(entry,))

    return _run(operation, idempotency_key)
