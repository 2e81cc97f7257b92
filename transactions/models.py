"""The append-only ledger and the places money moves at.

Invariant: for every account, balance_minor == opening_balance_minor + sum(entry.amount_minor),
and each entry's balance_after_minor is the balance right after it. Entries are never updated or
deleted (the model and its queryset refuse, and PostgreSQL has a trigger): a mistake is fixed by
a compensating entry (kind=reversal or adjustment).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from accounts.money import format_minor

from .exceptions import LedgerImmutable


class Terminal(models.Model):
    """An ATM or a branch counter, with its location (released only generalized)."""

    class Kind(models.TextChoices):
        ATM = "atm", "ATM"
        BRANCH = "branch", "Branch"

    code = models.CharField(max_length=16, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=120)
    city = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=12)
    latitude = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)
    longitude = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class LedgerEntryQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise LedgerImmutable()

    def delete(self) -> tuple[int, dict[str, int]]:
        raise LedgerImmutable()


class LedgerEntry(models.Model):
    class Kind(models.TextChoices):
        WITHDRAWAL = "withdrawal", "Withdrawal"
        DEPOSIT = "deposit", "Deposit"
        TRANSFER_OUT = "transfer_out", "Transfer out"
        TRANSFER_IN = "transfer_in", "Transfer in"
        ADJUSTMENT = "adjustment", "Staff adjustment"
        REVERSAL = "reversal", "Reversal"

    class Channel(models.TextChoices):
        ATM = "atm", "ATM"
        BRANCH = "branch", "Branch"
        ONLINE = "online", "Online"
        BACK_OFFICE = "back_office", "Back office"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount_minor = models.BigIntegerField(help_text="Signed: credits positive, debits negative.")
    balance_after_minor = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    terminal = models.ForeignKey(Terminal, on_delete=models.PROTECT, null=True, blank=True, related_name="entries")
    # Shared by the two legs of a transfer and by an entry and its reversal's target.
    reference = models.CharField(max_length=32, db_index=True)
    idempotency_key = models.CharField(max_length=80, unique=True)
    counterparty = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The other account of a transfer.",
    )
    reverses = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversals")
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    # The second staff member who approved a posting above STAFF_APPROVAL_THRESHOLD_MINOR (staff_user made it).
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "created_at"]), models.Index(fields=["kind", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_minor=0), name="entry_amount_not_zero"),
            models.CheckConstraint(condition=Q(balance_after_minor__gte=0), name="entry_balance_not_negative"),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["withdrawal", "transfer_out"], amount_minor__lt=0)
                    | Q(kind__in=["deposit", "transfer_in"], amount_minor__gt=0)
                    | Q(kind__in=["adjustment", "reversal"])
                ),
                name="entry_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {format_minor(self.amount_minor)} on {self.account.number} ({self.reference})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise LedgerImmutable()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise LedgerImmutable()


class StaffPosting(models.Model):
    """A staff adjustment or reversal above STAFF_APPROVAL_THRESHOLD_MINOR, waiting for a second staff member.

    Four eyes: the maker asks, another staff member approves (the money moves then, through
    transactions.services, and the entry records both) or rejects with a reason. Nothing moves
    while it is pending. Decided rows are kept as the record of who asked and who decided.
    """

    class Kind(models.TextChoices):
        ADJUSTMENT = "adjustment", "Staff adjustment"
        REVERSAL = "reversal", "Reversal"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        APPROVED = "approved", "Approved and posted"
        REJECTED = "rejected", "Rejected"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    amount_minor = models.BigIntegerField(help_text="Signed, as it will be posted (a reversal: its first entry's).")
    reverses = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=500)
    request_key = models.CharField(max_length=80, unique=True)
    maker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    checker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=500, blank=True)
    entry = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The ledger entry posted at approval.",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("approve_staffposting", "Can approve or reject staff postings of another staff member")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_minor=0), name="staff_posting_amount_not_zero"),
            models.CheckConstraint(condition=~Q(checker=models.F("maker")), name="staff_posting_four_eyes"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {format_minor(self.amount_minor)} on {self.account.number} ({self.status})"


class DailyWithdrawal(models.Model):
    """One account's ATM withdrawals on one local day, summed: what the daily limit is checked against.

    Kept by transactions.services under the account's row lock, in the same statement that appends
    the withdrawal, so checking the limit reads one row instead of summing the day's entries. A day
    without a row is summed from the ledger by the first withdrawal of that day (entries written
    outside the services, such as demo data, are counted that way). verify_ledger checks every row
    against the ledger.
    """

    # No index of its own: the unique (account, day) constraint's index serves every lookup.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    withdrawn_minor = models.BigIntegerField(help_text="Positive: the day's withdrawals summed.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="daily_withdrawal_one_row_per_day"),
            models.CheckConstraint(condition=Q(withdrawn_minor__gte=0), name="daily_withdrawal_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}: {format_minor(self.withdrawn_minor)}"
