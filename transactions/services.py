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

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account

from . import postings, rules
from .exceptions import (
    AccountNotFound,
    AccountNotUsable,
    ApprovalError,
    IdempotencyConflict,
    InvalidAmount,
    SameAccountTransfer,
)
from .models import LedgerEntry, StaffPosting, Terminal

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
    if kind in (Kind.TRANSFER_OUT, Kind.REVERSAL):
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


def _left_today(account: Account, kind: str, daily_limit_minor: int) -> int:
    """Return what is left of the ATM's daily limit on entries of `kind` (ATM channel, local day) on an account."""
    used = postings.atm_total_on_minor(account.pk, kind, timezone.now())
    return rules.daily_limit_left(daily_limit_minor=daily_limit_minor, withdrawn_today_minor=used)


@dataclass(frozen=True)
class DepositLimits:
    """The ATM's cash-in rules: whole notes of `note_minor`, at most `max_minor` a deposit and `daily_minor` a day."""

    note_minor: int
    max_minor: int
    daily_minor: int


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
    channel: str = LedgerEntry.Channel.ATM, terminal: Terminal | None = None, limits: DepositLimits | None = None,
) -> Posting:
    """Deposit money on an open account; with `limits` (cash at an ATM), whole notes within the caps."""
    rules.amount_check(amount_minor)

    def operation() -> Posting:
        account = _lock_accounts(account_id)[account_id]
        replay = _replay(idempotency_key, account_id=account_id, kind=Kind.DEPOSIT, amount_minor=amount_minor)
        if replay:
            return replay
        _require_open(account)
        if limits is not None:
            rules.deposit_check(
                amount_minor=amount_minor, note_minor=limits.note_minor, max_minor=limits.max_minor,
                limit_left_minor=_left_today(account, Kind.DEPOSIT, limits.daily_minor), currency=account.currency,
            )
        entry = _append(
            account, kind=Kind.DEPOSIT, delta=amount_minor, channel=channel, terminal=terminal,
            reference=new_reference(), idempotency_key=idempotency_key,
        )
        return Posting(entries=(entry,))

    return _run(operation, idempotency_key)


def transfer_preview(
    *, from_account_id: int, to_account_number: str, amount_minor: int, daily_limit_minor: int | None = None,
) -> Account:
    """Return the account a transfer would pay, checking now what transfer_create checks again under lock.

    Read-only: shown on the confirmation page before any money moves. An unknown, closed or
    other-currency payee is refused alike.
    """
    rules.amount_check(amount_minor)
    target = Account.objects.select_related("customer").filter(number=to_account_number).first()
    if target is None:
        raise AccountNotFound()
    if target.pk == from_account_id:
        raise SameAccountTransfer()
    source = Account.objects.get(pk=from_account_id)
    _require_open(source)
    if not target.is_open or target.currency != source.currency:
        raise AccountNotFound()
    rules.balance_after(source.balance_minor, -amount_minor)
    if daily_limit_minor is not None:
        rules.transfer_check(amount_minor=amount_minor, currency=source.currency,
                             limit_left_minor=_left_today(source, Kind.TRANSFER_OUT, daily_limit_minor))
    return target


def transfer_create(
    *, from_account_id: int, to_account_number: str, amount_minor: int, idempotency_key: str,
    channel: str = LedgerEntry.Channel.ATM, terminal: Terminal | None = None, daily_limit_minor: int | None = None,
) -> Posting:
    """Move money between two different open accounts of the same currency: two legs, one reference.

    With `daily_limit_minor`, today's outgoing transfers from the account stay within it.
    """
    rules.amount_check(amount_minor)

    def operation() -> Posting:
        # One round trip: both rows locked in pk order (the target found by its number), then the key
        # (and, with a daily limit, today's ATM transfers out of the source).
        asked = timezone.now()
        locked = postings.lock_and_read(
            [from_account_id], numbers=[to_account_number], idempotency_key=idempotency_key, now=asked,
            atm_total_of=(from_account_id, Kind.TRANSFER_OUT) if daily_limit_minor is not None else None,
        )
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
        # A payee in another currency gets the unknown account's answer: neither tells what exists.
        if source.currency != target.currency:
            raise AccountNotFound()
        now = timezone.now()  # dated once the lock is held, like a withdrawal
        if daily_limit_minor is not None:
            sent = locked.atm_total_minor
            if rules.local_day(now) != rules.local_day(asked):  # midnight passed while waiting for the lock
                sent = postings.atm_total_on_minor(source.pk, Kind.TRANSFER_OUT, now)
            rules.transfer_check(amount_minor=amount_minor, currency=source.currency,
                                 limit_left_minor=rules.daily_limit_left(daily_limit_minor=daily_limit_minor,
                                                                         withdrawn_today_minor=sent))
        common: dict[str, Any] = {"channel": channel, "terminal": terminal, "reference": new_reference(),
                                  "created_at": now}
        # Both legs in one statement: both balances written, both entries appended.
        out_leg, in_leg = postings.append(
            _leg(source, kind=Kind.TRANSFER_OUT, delta=-amount_minor, counterparty=target,
                 idempotency_key=idempotency_key, **common),
            _leg(target, kind=Kind.TRANSFER_IN, delta=amount_minor, counterparty=source,
                 idempotency_key=rules.transfer_in_key(idempotency_key), **common),
        )
        return Posting(entries=(out_leg, in_leg))

    return _run(operation, idempotency_key)


def _four_eyes_check(amount_minor: int, staff_user: AbstractBaseUser | None, approved_by: AbstractBaseUser | None) -> None:
    """Refuse a staff posting above the threshold without a second staff member's approval."""
    if approved_by is not None and staff_user is not None and approved_by.pk == staff_user.pk:
        raise ApprovalError(SELF_APPROVAL_MESSAGE)
    if approved_by is None and rules.needs_second_approval(amount_minor, settings.STAFF_APPROVAL_THRESHOLD_MINOR):
        raise ApprovalError("This amount needs a second staff member's approval: request it instead.")


def adjustment_create(
    *, account_id: int, amount_minor: int, staff_user: AbstractBaseUser | None, reason: str, idempotency_key: str,
    approved_by: AbstractBaseUser | None = None,
) -> Posting:
    """Post a staff deposit or correction (signed amount) with a mandatory reason.

    Above STAFF_APPROVAL_THRESHOLD_MINOR it needs `approved_by`, another staff member (see staff_posting_approve).
    """
    reason = rules.reason_check(reason, "A reason is required for a staff adjustment.")
    if amount_minor == 0:
        raise InvalidAmount("The amount must not be zero.")
    rules.amount_check(abs(amount_minor))
    _four_eyes_check(amount_minor, staff_user, approved_by)

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
            approved_by=approved_by,
        )
        return Posting(entries=(entry,))

    return _run(operation, idempotency_key)


REVERSAL_OF_REVERSAL_MESSAGE = "A reversal cannot itself be reversed; post an adjustment instead."
ALREADY_REVERSED_MESSAGE = "This entry has already been reversed."


def _reversal_targets(original: LedgerEntry) -> list[LedgerEntry]:
    """Return the entries a reversal of `original` compensates: the entry, and a transfer's other leg."""
    if original.kind not in (Kind.TRANSFER_OUT, Kind.TRANSFER_IN):
        return [original]
    other_kind = Kind.TRANSFER_IN if original.kind == Kind.TRANSFER_OUT else Kind.TRANSFER_OUT
    other = LedgerEntry.objects.filter(reference=original.reference, kind=other_kind).first()
    if other is None:
        raise InvalidAmount("The other leg of this transfer is missing; the transfer cannot be reversed.")
    return [original, other]


def reversal_refusal(original: LedgerEntry) -> str | None:
    """Return why `original` cannot be reversed (the services' own message), or None when it can.

    A reversal is not reversed; a transfer is reversed as a whole, so once either leg is reversed
    neither can be again. Screens use this to offer a reversal only where the services take it.
    """
    if original.kind == Kind.REVERSAL:
        return REVERSAL_OF_REVERSAL_MESSAGE
    try:
        targets = _reversal_targets(original)
    except InvalidAmount as exc:
        return str(exc)
    if LedgerEntry.objects.filter(reverses__in=targets).exists():
        return ALREADY_REVERSED_MESSAGE
    return None


def reversal_create(
    *, entry_id: int, staff_user: AbstractBaseUser | None, reason: str, idempotency_key: str,
    approved_by: AbstractBaseUser | None = None,
) -> Posting:
    """Compensate one entry with an entry of the opposite amount on the same account.

    Above STAFF_APPROVAL_THRESHOLD_MINOR it needs `approved_by`, another staff member.
    A transfer is reversed as a whole: both legs get their compensating entry in the same
    transaction (the selected leg under `idempotency_key`, the other under its derived key), or
    neither does. Reversing one leg alone would create or destroy money. An entry can be reversed once.
    """
    reason = rules.reason_check(reason, "A reason is required for a reversal.")
    original = LedgerEntry.objects.filter(pk=entry_id).first()
    if original is None:
        raise InvalidAmount("No such ledger entry.")
    if original.kind == Kind.REVERSAL:
        raise InvalidAmount(REVERSAL_OF_REVERSAL_MESSAGE)
    targets = _reversal_targets(original)
    _four_eyes_check(original.amount_minor, staff_user, approved_by)

    def operation() -> Posting:
        accounts = _lock_accounts(*{target.account_id for target in targets})
        replay = _replay(
            idempotency_key, account_id=original.account_id, kind=Kind.REVERSAL, amount_minor=abs(original.amount_minor)
        )
        if replay:
            return replay
        if LedgerEntry.objects.filter(reverses__in=targets).exists():
            raise InvalidAmount(ALREADY_REVERSED_MESSAGE)
        keys = [idempotency_key, rules.transfer_in_key(idempotency_key)]
        # Both legs of a transfer in one statement (transactions.postings), or neither. A reversed
        # withdrawal still counts toward its day's withdrawal limit: DailyWithdrawal is left as it is.
        entries = postings.append(*(
            _leg(
                accounts[target.account_id], kind=Kind.REVERSAL, delta=-target.amount_minor,
                channel=LedgerEntry.Channel.BACK_OFFICE, reference=target.reference, idempotency_key=key,
                staff_user=staff_user, approved_by=approved_by, reason=reason, reverses=target,
            )
            for target, key in zip(targets, keys, strict=False)
        ))
        return Posting(entries=entries)

    return _run(operation, idempotency_key)


# --- Four eyes: staff postings above the threshold wait for a second staff member ------------------

SELF_APPROVAL_MESSAGE = "A second staff member must decide: you made this request."


def _staff_posting_create(
    *, kind: str, account_id: int, amount_minor: int, maker: AbstractBaseUser, reason: str, request_key: str,
    reverses: LedgerEntry | None = None,
) -> StaffPosting:
    """Record a pending request (once per request key: a double submit finds the first)."""
    if not Account.objects.filter(pk=account_id).exclude(status=Account.Status.CLOSED).exists():
        raise AccountNotUsable("This account is closed.")
    posting, _ = StaffPosting.objects.get_or_create(request_key=request_key, defaults={
        "kind": kind, "account_id": account_id, "amount_minor": amount_minor, "reverses": reverses,
        "reason": reason, "maker": maker,
    })
    return posting


def adjustment_request(
    *, account_id: int, amount_minor: int, staff_user: AbstractBaseUser, reason: str, idempotency_key: str,
) -> Posting | StaffPosting:
    """Post a staff adjustment now, or above the threshold record it pending a second staff member's approval."""
    if not rules.needs_second_approval(amount_minor, settings.STAFF_APPROVAL_THRESHOLD_MINOR):
        return adjustment_create(account_id=account_id, amount_minor=amount_minor, staff_user=staff_user,
                                 reason=reason, idempotency_key=idempotency_key)
    reason = rules.reason_check(reason, "A reason is required for a staff adjustment.")
    rules.amount_check(abs(amount_minor))
    return _staff_posting_create(kind=StaffPosting.Kind.ADJUSTMENT, account_id=account_id, amount_minor=amount_minor,
                                 maker=staff_user, reason=reason, request_key=idempotency_key)


def reversal_request(
    *, entry_id: int, staff_user: AbstractBaseUser, reason: str, idempotency_key: str,
) -> Posting | StaffPosting:
    """Reverse an entry now, or above the threshold record the reversal pending a second staff member's approval."""
    original = LedgerEntry.objects.filter(pk=entry_id).first()
    if original is None or not rules.needs_second_approval(original.amount_minor, settings.STAFF_APPROVAL_THRESHOLD_MINOR):
        return reversal_create(entry_id=entry_id, staff_user=staff_user, reason=reason, idempotency_key=idempotency_key)
    reason = rules.reason_check(reason, "A reason is required for a reversal.")
    refusal = reversal_refusal(original)
    if refusal:
        raise InvalidAmount(refusal)
    return _staff_posting_create(kind=StaffPosting.Kind.REVERSAL, account_id=original.account_id,
                                 amount_minor=-original.amount_minor, maker=staff_user, reason=reason,
                                 request_key=idempotency_key, reverses=original)


def _pending_for_decision(posting_id: int, checker: AbstractBaseUser) -> StaffPosting:
    """Lock a pending request that `checker` may decide; refuse a decided one or the maker's own."""
    staff_posting = StaffPosting.objects.select_for_update().filter(pk=posting_id).first()
    if staff_posting is None:
        raise ApprovalError("No such request.")
    if staff_posting.status != StaffPosting.Status.PENDING:
        raise ApprovalError(f"This request is already {staff_posting.get_status_display().lower()}.")
    if staff_posting.maker_id == checker.pk:
        raise ApprovalError(SELF_APPROVAL_MESSAGE)
    return staff_posting


def staff_posting_approve(*, posting_id: int, checker: AbstractBaseUser) -> Posting:
    """Approve a pending request: post it through the ledger service, maker and approver on the entry."""
    with transaction.atomic():
        request = _pending_for_decision(posting_id, checker)
        common = {"staff_user": request.maker, "reason": request.reason, "approved_by": checker,
                  "idempotency_key": f"approval:{request.pk}"}
        if request.kind == StaffPosting.Kind.REVERSAL:
            assert request.reverses_id is not None
            posting = reversal_create(entry_id=request.reverses_id, **common)  # type: ignore[arg-type]
        else:
            posting = adjustment_create(account_id=request.account_id, amount_minor=request.amount_minor,
                                        **common)  # type: ignore[arg-type]
        request.status, request.checker_id, request.decided_at = StaffPosting.Status.APPROVED, checker.pk, timezone.now()
        request.entry = posting.entry
        request.save(update_fields=["status", "checker", "decided_at", "entry"])
    return posting


def staff_posting_reject(*, posting_id: int, checker: AbstractBaseUser, reason: str) -> StaffPosting:
    """Reject a pending request with a reason; nothing is posted."""
    reason = rules.reason_check(reason, "A reason is required to reject a request.")
    with transaction.atomic():
        request = _pending_for_decision(posting_id, checker)
        request.status, request.checker_id, request.decided_at = StaffPosting.Status.REJECTED, checker.pk, timezone.now()
        request.rejection_reason = reason
        request.save(update_fields=["status", "checker", "decided_at", "rejection_reason"])
    return request
