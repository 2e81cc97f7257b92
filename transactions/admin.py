"""Back office for the ledger and the terminals.

The ledger is browsable, never editable: entries are added only by transactions.services, and a
mistake is corrected by the "Reverse" action, which posts a compensating entry.
"""

from __future__ import annotations

from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.admin import (
    AccountNumberSearchMixin,
    HostileInputMixin,
    ReadOnlyAdminMixin,
    action_page,
    only_one,
    report_posting,
    submitted,
)
from accounts.admin_forms import ReversalForm

from .exceptions import TransactionError
from .models import LedgerEntry, Terminal
from .money import format_minor
from .services import reversal_create


def signed_money(minor: int, currency: str) -> str:
    """Return "+20.00 EUR" for a credit and "-20.00 EUR" for a debit."""
    return ("+" if minor > 0 else "") + format_minor(minor, currency)


class EstimatedCountPaginator(Paginator):
    """Count an unfiltered PostgreSQL table from the planner's estimate instead of scanning it.

    COUNT(*) reads every row of the ledger; pg_class.reltuples is kept up to date by autovacuum.
    Filtered lists, small tables and other databases get the exact count.
    """

    exact_below = 100_000

    @cached_property
    def count(self) -> int:
        estimate = self._estimate()
        if estimate is not None and estimate >= self.exact_below:
            return estimate
        return super().count

    def _estimate(self) -> int | None:
        """Return the planner's row estimate of an unfiltered queryset's table, or None."""
        queryset = self.object_list
        if not isinstance(queryset, QuerySet) or queryset.query.where:
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [queryset.model._meta.db_table])
            row = cursor.fetchone()
        # reltuples is -1 for a table never vacuumed or analyzed.
        return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


class AmountRangeFilter(admin.SimpleListFilter):
    """Filter entries by the size of the amount, credits and debits alike."""

    title = "amount"
    parameter_name = "amount"
    # key: (label, lowest minor amount included, highest minor amount excluded or None)
    BUCKETS: dict[str, tuple[str, int, int | None]] = {
        "under-20": ("under 20.00", 0, 2_000),
        "20-100": ("20.00 to 100.00", 2_000, 10_000),
        "100-500": ("100.00 to 500.00", 10_000, 50_000),
        "500-1000": ("500.00 to 1,000.00", 50_000, 100_000),
        "1000-10000": ("1,000.00 to 10,000.00", 100_000, 1_000_000),
        "10000-up": ("10,000.00 and more", 1_000_000, None),
    }

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _low, _high) in self.BUCKETS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """Keep the entries whose absolute amount lies in the chosen bucket."""
        bucket = self.BUCKETS.get(self.value() or "")
        if bucket is None:
            return queryset
        _label, low, high = bucket
        credits, debits = Q(amount_minor__gte=low), Q(amount_minor__lte=-low)
        if high is not None:
            credits &= Q(amount_minor__lt=high)
            debits &= Q(amount_minor__gt=-high)
        return queryset.filter(credits | debits)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(HostileInputMixin, ReadOnlyAdminMixin, AccountNumberSearchMixin, admin.ModelAdmin):
    account_number_lookup = "account__number"
    list_display = ("created_at", "account", "kind", "signed_amount", "balance_after", "channel", "terminal",
                    "reference", "staff_user")
    list_filter = ("kind", "channel", AmountRangeFilter, "created_at", "terminal")
    date_hierarchy = "created_at"
    list_select_related = ("account", "terminal", "staff_user")
    search_fields = ("=account__number", "=reference")
    paginator = EstimatedCountPaginator
    # Both count the whole (filtered) ledger on every page view.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = ("created_at", "account", "kind", "signed_amount", "balance_after", "channel", "terminal",
              "reference", "counterparty", "reverses", "reversed_by", "staff_user", "reason", "idempotency_key")
    readonly_fields = fields
    actions = ["reverse_entry"]

    @admin.display(description="Amount", ordering="amount_minor")
    def signed_amount(self, entry: LedgerEntry) -> str:
        return signed_money(entry.amount_minor, entry.account.currency)

    @admin.display(description="Balance after")
    def balance_after(self, entry: LedgerEntry) -> str:
        return format_minor(entry.balance_after_minor, entry.account.currency)

    @admin.display(description="Reversed by")
    def reversed_by(self, entry: LedgerEntry) -> str:
        reversal = entry.reversals.first()
        return f"{reversal.get_kind_display()} #{reversal.pk} ({reversal.reason})" if reversal else "-"

    def has_post_ledger_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("transactions.add_ledgerentry")

    @admin.action(description="Reverse the selected entry", permissions=["post_ledger"])
    def reverse_entry(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Post a compensating entry for the selected entry, with a reason."""
        entry = only_one(self, request, queryset, "ledger entry")
        if entry is None:
            return None
        form = ReversalForm(submitted(request))
        if form.is_bound and form.is_valid():
            try:
                posting = reversal_create(entry_id=entry.pk, staff_user=request.user,
                                          reason=form.cleaned_data["reason"], idempotency_key=form.idempotency_key())
            except TransactionError as exc:
                form.add_error(None, str(exc))
            else:
                report_posting(self, request, posting, "Reversal")
                return None
        intro = (
            f"{entry.get_kind_display()} of {self.signed_amount(entry)} on {entry.account.number}, reference "
            f"{entry.reference}. The reversal posts {signed_money(-entry.amount_minor, entry.account.currency)} "
            "on the same account."
        )
        return action_page(self, request, [entry], action="reverse_entry", form=form, intro=intro,
                           title="Reverse a ledger entry", submit_label="Post the reversal")


@admin.register(Terminal)
class TerminalAdmin(HostileInputMixin, admin.ModelAdmin):
    list_display = ("code", "kind", "name", "city", "postal_code")
    list_filter = ("kind", "city")
    search_fields = ("code", "name", "city", "postal_code")
