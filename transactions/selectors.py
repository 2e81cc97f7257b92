"""Read paths over the ledger."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Account

from .models import DailyWithdrawal, LedgerEntry

MINI_STATEMENT_LENGTH = 10


def ledger_recent_for_account(*, account: Account, limit: int = MINI_STATEMENT_LENGTH) -> list[LedgerEntry]:
    """Return the account's latest entries, newest first (the mini-statement)."""
    return list(LedgerEntry.objects.filter(account=account).select_related("counterparty").order_by("-created_at", "-pk")[:limit])


@dataclass(frozen=True)
class LedgerProblem:
    """One difference verify_ledger found; `subject` names the account or the transfer reference."""

    subject: str
    message: str


def _balance_problems() -> list[LedgerProblem]:
    """Every account: balance == opening + sum(amounts), and the last entry's balance_after == balance."""
    problems = []
    sums = Account.objects.annotate(total=Sum("entries__amount_minor")).values_list(
        "pk", "number", "balance_minor", "opening_balance_minor", "total"
    )
    for pk, number, balance, opening, total in sums.iterator(chunk_size=2000):
        expected = opening + (total or 0)
        if expected != balance:
            problems.append(LedgerProblem(number, f"balance {balance} != opening {opening} + entries {total or 0} = {expected}"))
            continue
        last = LedgerEntry.objects.filter(account_id=pk).order_by("-created_at", "-pk").values_list(
            "balance_after_minor", flat=True
        ).first()
        if last is not None and last != balance:
            problems.append(LedgerProblem(number, f"last entry's balance_after {last} != balance {balance}"))
    return problems


def _transfer_problems() -> list[LedgerProblem]:
    """Every transfer reference: exactly one out leg and one in leg whose amounts sum to zero."""
    legs = (
        LedgerEntry.objects.filter(kind__in=[LedgerEntry.Kind.TRANSFER_OUT, LedgerEntry.Kind.TRANSFER_IN])
        .values("reference")
        .annotate(
            total=Sum("amount_minor"),
            outs=Count("pk", filter=Q(kind=LedgerEntry.Kind.TRANSFER_OUT)),
            ins=Count("pk", filter=Q(kind=LedgerEntry.Kind.TRANSFER_IN)),
        )
        .exclude(total=0, outs=1, ins=1)
    )
    return [
        LedgerProblem(row["reference"], f"transfer legs out={row['outs']} in={row['ins']} sum to {row['total']}, not 0")
        for row in legs
    ]


def _reversal_problems() -> list[LedgerProblem]:
    """Every reversal cancels exactly its original, on the same account, and an entry is reversed at most once."""
    Kind = LedgerEntry.Kind
    reversals = LedgerEntry.objects.filter(kind=Kind.REVERSAL)
    problems = [
        LedgerProblem(reference, f"reversal #{pk} reverses no entry")
        for pk, reference in reversals.filter(reverses__isnull=True).values_list("pk", "reference")
    ]
    mismatched = reversals.exclude(reverses__isnull=True).exclude(
        amount_minor=-F("reverses__amount_minor"), account_id=F("reverses__account_id")
    )
    problems += [
        LedgerProblem(reference, f"reversal #{pk} of entry #{original} does not cancel it (same account, sum 0)")
        for pk, reference, original in mismatched.values_list("pk", "reference", "reverses_id")
    ]
    twice = reversals.values("reverses_id").annotate(n=Count("pk")).filter(reverses__isnull=False, n__gt=1)
    problems += [LedgerProblem(f"#{row['reverses_id']}", f"entry reversed {row['n']} times") for row in twice]
    return problems


def _transfer_reversal_problems() -> list[LedgerProblem]:
    """Every transfer is reversed as a whole: both legs or neither, so the reversals sum to zero too."""
    Kind = LedgerEntry.Kind
    half = (
        LedgerEntry.objects.filter(kind__in=[Kind.TRANSFER_OUT, Kind.TRANSFER_IN])
        .values("reference")
        .annotate(reversed_legs=Count("reversals"))
        .exclude(reversed_legs__in=[0, 2])
    )
    return [
        LedgerProblem(row["reference"], f"only {row['reversed_legs']} of the transfer's 2 legs reversed")
        for row in half
    ]


def _daily_withdrawal_problems() -> list[LedgerProblem]:
    """Every day's withdrawn total the daily limit is checked against equals that day's withdrawal entries."""
    kept = {(account, day): total for account, day, total in
            DailyWithdrawal.objects.values_list("account__number", "day", "withdrawn_minor")}
    if not kept:
        return []
    first_day = min(day for _account, day in kept)
    since = timezone.make_aware(datetime.datetime.combine(first_day, datetime.time()))
    sums = (
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.WITHDRAWAL, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values_list("account__number", "day")
        .annotate(total=Sum("amount_minor"))
    )
    ledger = {(account, day): -total for account, day, total in sums}
    return [
        LedgerProblem(account, f"withdrawn on {day} kept as {total}, the ledger's withdrawals sum to {ledger.get((account, day), 0)}")
        for (account, day), total in sorted(kept.items()) if ledger.get((account, day), 0) != total
    ]


def ledger_problems() -> list[LedgerProblem]:
    """Return every inconsistency of the books (empty when they balance and money is conserved).

    Balances: each account's balance is its opening balance plus its entries. Conservation: each
    transfer's legs sum to zero, each reversal cancels its original, and a transfer is reversed
    on both legs or not at all. Daily limits: each account's withdrawn total per day, kept for the
    withdrawal limit, equals that day's withdrawal entries.
    """
    return (_balance_problems() + _transfer_problems() + _reversal_problems() + _transfer_reversal_problems()
            + _daily_withdrawal_problems())
