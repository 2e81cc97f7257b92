"""Back office for the ledger and the terminals, and the money actions on accounts.

The ledger is browsable, never editable: entries are added only by transactions.services, and a
mistake is corrected by the "Reverse" action, which posts a compensating entry.

The account admin is registered by `accounts`, which knows nothing of the ledger. This module
registers its ledger-aware subclass in its place: the same admin plus a link to the account's
ledger entries and the "Post a staff deposit or adjustment" action.
"""

from __future__ import annotations

from functools import cached_property

from django.conf import settings
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin import AccountAdmin, AccountNumberSearchMixin
from accounts.iban import iban_is_valid, normalize_account_number
from accounts.models import Account
from accounts.money import format_minor, format_signed_minor
from atmsite.lib.admin import (
    HostileInputMixin,
    ObjectActionsMixin,
    ReadOnlyAdminMixin,
    action_page,
    only_one,
    submitted,
)

from .exceptions import TransactionError
from .forms import AdjustmentForm, RejectionForm, ReversalForm
from .models import LedgerEntry, StaffPosting, Terminal
from .services import (
    Posting,
    adjustment_request,
    reversal_refusal,
    reversal_request,
    staff_posting_approve,
    staff_posting_reject,
)


def report_posting(
    modeladmin: admin.ModelAdmin, request: HttpRequest, posting: Posting | StaffPosting, what: str
) -> None:
    """Tell staff what was posted, that it waits for approval, or that a repeated submit posted nothing new."""
    if isinstance(posting, StaffPosting):
        amount = format_minor(posting.amount_minor, posting.account.currency)
        modeladmin.message_user(request, (
            f"{what} of {amount} on {posting.account.number} is above "
            f"{format_minor(settings.STAFF_APPROVAL_THRESHOLD_MINOR, posting.account.currency)}: request "
            f"#{posting.pk} waits for a second staff member's approval. Nothing is posted until then."
        ), messages.WARNING)
        return
    entry = posting.entry
    if posting.replayed:
        modeladmin.message_user(
            request, f"{what} {entry.reference} was already posted; nothing was posted again.", messages.WARNING
        )
        return
    amount = format_minor(entry.amount_minor, entry.account.currency)
    modeladmin.message_user(
        request, f"{what} {entry.reference} of {amount} posted on {entry.account.number}.", messages.SUCCESS
    )


def has_post_ledger_permission(request: HttpRequest) -> bool:
    """Return True when the user may post to the ledger (adjustments, reversals)."""
    return request.user.has_perm("transactions.add_ledgerentry")


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
class LedgerEntryAdmin(HostileInputMixin, ObjectActionsMixin, ReadOnlyAdminMixin, AccountNumberSearchMixin,
                       admin.ModelAdmin):
    account_number_lookup = "account__number"
    # Compact enough for 1280 px beside the menu: time without words, channel and terminal in one column.
    list_display = ("when", "account", "kind", "signed_amount", "balance_after", "where", "reference", "staff_user")
    list_filter = ("kind", "channel", AmountRangeFilter, "created_at", "terminal")
    # No date_hierarchy: its year/month links come from a DISTINCT over every entry's local date, about
    # 300 ms on the demo ledger under SQLite (benchmarks/admin_pages.py); the created_at filter stays.
    list_select_related = ("account", "terminal", "staff_user")
    # An exact reference, account number or card's last four, or words of the customer's name.
    search_fields = ("=reference", "=account__number", "=account__cards__last4",
                     "account__customer__first_name", "account__customer__last_name")
    search_help_text = "Search by reference, account number, a card's last four digits or the customer's name."
    paginator = EstimatedCountPaginator
    # Both count the whole (filtered) ledger on every page view.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = ("created_at", "account", "kind", "signed_amount", "balance_after", "channel", "terminal",
              "reference", "counterparty", "reverses", "reversed_by", "staff_user", "approved_by", "reason",
              "idempotency_key")
    readonly_fields = fields
    actions = ["reverse_entry"]
    object_actions = (("reverse_entry", "Reverse…"),)

    def object_action_allowed(self, obj: Model, name: str) -> bool:
        """Offer the reversal only for an entry that can be reversed."""
        return not (name == "reverse_entry" and isinstance(obj, LedgerEntry) and reversal_refusal(obj))

    @admin.display(description="Time", ordering="created_at")
    def when(self, entry: LedgerEntry) -> str:
        return f"{timezone.localtime(entry.created_at):%Y-%m-%d %H:%M}"

    @admin.display(description="Channel")
    def where(self, entry: LedgerEntry) -> str:
        channel = entry.get_channel_display()
        return f"{channel} {entry.terminal.code}" if entry.terminal_id else channel

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Match a term that passes the IBAN checksum as an account number or as a reference.

        References are 16 hex characters, and about one in a hundred passes the IBAN checksum too:
        such a term is looked up as both, never as an account number only.
        """
        found, duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if iban_is_valid(normalize_account_number(term)):
            found |= queryset.filter(reference=term.upper())
        return found, duplicates

    @admin.display(description="Amount", ordering="amount_minor")
    def signed_amount(self, entry: LedgerEntry) -> str:
        return format_signed_minor(entry.amount_minor, entry.account.currency)

    @admin.display(description="Balance after")
    def balance_after(self, entry: LedgerEntry) -> str:
        return format_minor(entry.balance_after_minor, entry.account.currency)

    @admin.display(description="Reversed by")
    def reversed_by(self, entry: LedgerEntry) -> str:
        reversal = entry.reversals.first()
        return f"{reversal.get_kind_display()} #{reversal.pk} ({reversal.reason})" if reversal else "-"

    def has_post_ledger_permission(self, request: HttpRequest) -> bool:
        return has_post_ledger_permission(request)

    @admin.action(description="Reverse the selected entry", permissions=["post_ledger"])
    def reverse_entry(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Post a compensating entry for the selected entry, with a reason."""
        entry = only_one(self, request, queryset, "ledger entry")
        if entry is None:
            return None
        refusal = reversal_refusal(entry)
        if refusal and submitted(request) is None:  # offer the form only where a reversal is allowed
            self.message_user(request, f"{entry.reference}: {refusal}", messages.ERROR)
            return None
        form = ReversalForm(submitted(request))
        if form.is_bound and form.is_valid():
            try:
                posting = reversal_request(entry_id=entry.pk, staff_user=request.user,  # type: ignore[arg-type]
                                           reason=form.cleaned_data["reason"], idempotency_key=form.idempotency_key())
            except TransactionError as exc:
                form.add_error(None, str(exc))
            else:
                report_posting(self, request, posting, "Reversal")
                return None
        intro = (
            f"{entry.get_kind_display()} of {self.signed_amount(entry)} on {entry.account.number}, reference "
            f"{entry.reference}. The reversal posts {format_signed_minor(-entry.amount_minor, entry.account.currency)} "
            "on the same account."
        )
        if entry.kind in (LedgerEntry.Kind.TRANSFER_OUT, LedgerEntry.Kind.TRANSFER_IN):
            intro += " A transfer is reversed as a whole: the other leg is reversed too, in the same posting."
        return action_page(self, request, [entry], action="reverse_entry", form=form, intro=intro,
                           title="Reverse a ledger entry", submit_label="Post the reversal")


@admin.register(StaffPosting)
class StaffPostingAdmin(HostileInputMixin, ObjectActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Staff postings above the approval threshold: a second staff member approves or rejects them."""

    list_display = ("created_at", "kind", "account", "signed_amount", "maker", "status_badge", "checker",
                    "decided_at")
    list_filter = ("status", "kind")
    list_select_related = ("account", "maker", "checker")
    fields = ("created_at", "kind", "account", "signed_amount", "reverses", "reason", "maker", "status", "checker",
              "decided_at", "rejection_reason", "entry")
    readonly_fields = fields
    actions = ["approve", "reject"]
    object_actions = (("approve", "Approve and post"), ("reject", "Reject…"))

    def object_action_allowed(self, obj: Model, name: str) -> bool:
        """Offer approval and rejection only while the request waits for a decision."""
        return isinstance(obj, StaffPosting) and obj.status == StaffPosting.Status.PENDING

    @admin.display(description="Amount", ordering="amount_minor")
    def signed_amount(self, staff_posting: StaffPosting) -> str:
        return format_signed_minor(staff_posting.amount_minor, staff_posting.account.currency)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, staff_posting: StaffPosting) -> str:
        return format_html('<span class="badge badge--{}">{}</span>', staff_posting.status,
                           staff_posting.get_status_display())

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("transactions.approve_staffposting")

    @admin.action(description="Approve and post the selected request", permissions=["decide"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Post the selected pending request through the ledger, with this user as the approver."""
        staff_posting = only_one(self, request, queryset, "request")
        if staff_posting is None:
            return
        try:
            posting = staff_posting_approve(posting_id=staff_posting.pk, checker=request.user)  # type: ignore[arg-type]
        except TransactionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        report_posting(self, request, posting, f"Approved request #{staff_posting.pk}:")

    @admin.action(description="Reject the selected request", permissions=["decide"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Reject the selected pending request with a reason; nothing is posted."""
        staff_posting = only_one(self, request, queryset, "request")
        if staff_posting is None:
            return None
        form = RejectionForm(submitted(request))
        if form.is_bound and form.is_valid():
            try:
                staff_posting_reject(posting_id=staff_posting.pk, checker=request.user,  # type: ignore[arg-type]
                                     reason=form.cleaned_data["reason"])
            except TransactionError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Request #{staff_posting.pk} rejected; nothing was posted.",
                                  messages.SUCCESS)
                return None
        return action_page(self, request, [staff_posting], action="reject", form=form,
                           title="Reject a staff posting", submit_label="Reject")


@admin.register(Terminal)
class TerminalAdmin(HostileInputMixin, admin.ModelAdmin):
    list_display = ("code", "kind", "name", "city", "postal_code")
    list_filter = ("kind", "city")
    search_fields = ("code", "name", "city", "postal_code")


admin.site.unregister(Account)


@admin.register(Account)
class LedgerAccountAdmin(AccountAdmin):
    """The accounts app's account admin, plus the ledger: a link to its entries and staff adjustments."""

    fields = (*AccountAdmin.fields, "ledger")
    readonly_fields = (*AccountAdmin.readonly_fields, "ledger")
    actions = [*AccountAdmin.actions, "post_adjustment"]
    object_actions = (*AccountAdmin.object_actions, ("post_adjustment", "Post a deposit or adjustment…"))

    @admin.display(description="Ledger")
    def ledger(self, account: Account) -> str:
        url = reverse("admin:transactions_ledgerentry_changelist") + f"?account__id__exact={account.pk}"
        return format_html('<a href="{}">Ledger entries of this account</a>', url)

    def has_post_ledger_permission(self, request: HttpRequest) -> bool:
        return has_post_ledger_permission(request)

    @admin.action(description="Post a staff deposit or adjustment", permissions=["post_ledger"])
    def post_adjustment(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Credit or debit the selected account through the ledger, with a reason."""
        account = only_one(self, request, queryset, "account")
        if account is None:
            return None
        form = AdjustmentForm(submitted(request))
        if form.is_bound and form.is_valid():
            try:
                posting = adjustment_request(
                    account_id=account.pk, amount_minor=form.signed_amount_minor(), staff_user=request.user,
                    reason=form.cleaned_data["reason"], idempotency_key=form.idempotency_key(),
                )
            except TransactionError as exc:
                form.add_error(None, str(exc))
            else:
                report_posting(self, request, posting, "Adjustment")
                return None
        intro = f"Balance now {format_minor(account.balance_minor, account.currency)}. The reason is kept in the ledger."
        return action_page(self, request, [account], action="post_adjustment", form=form, intro=intro,
                           title="Post a staff deposit or adjustment", submit_label="Post to the ledger")
