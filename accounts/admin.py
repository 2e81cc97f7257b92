"""Back office for customers, accounts and cards: an operator UI over accounts.services.

Money is read-only here: balances change only through the ledger's services, whose admin adds the
money actions (staff adjustments) and the ledger link to the account admin registered here. A card's PAN and
PIN are never stored; they are shown once, in the response to the action that issued the card or
reset the PIN, with caching forbidden, and never put in messages, logs or the admin history.
"""

from __future__ import annotations

import datetime

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms import Form
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.debug import sensitive_variables

from atmsite.lib.admin import (
    HostileInputMixin,
    ObjectActionsMixin,
    ReadOnlyAdminMixin,
    action_page,
    one_time_page,
    only_one,
    submitted,
)

from .admin_forms import (
    AccountChangeForm,
    BlockCardForm,
    ConfirmForm,
    CustomerForm,
    IssueCardForm,
    OpenAccountForm,
)
from .crypto import blind_index
from .exceptions import AccountsError
from .iban import iban_is_valid, normalize_account_number
from .models import Account, Card, Customer, LoginAttempt
from .money import format_minor
from .services import account_open, account_update, card_block, card_issue, card_pin_reset, card_unblock

# Accounts opened in one go at most: selecting every customer by mistake opens nothing.
OPEN_ACCOUNT_BATCH = 50


class AccountNumberSearchMixin:
    """Find objects by an account number typed with or without spaces ("NL12 ATMB 0123 4567 89")."""

    account_number_lookup = "number"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Match a valid IBAN exactly on the account number; search other terms the usual way."""
        number = normalize_account_number(search_term.strip())
        if iban_is_valid(number):
            return queryset.filter(**{self.account_number_lookup: number}), False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]


def customers_with_email(queryset: QuerySet, email: str) -> QuerySet:
    """Return the customers whose email address is `email`, ignoring case, through the blind index.

    Emails are encrypted at rest, so only a whole address can be matched.
    """
    return queryset.filter(email_index=blind_index(email))


class AccountInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Account
    fields = ("number", "kind", "currency", "balance", "status", "daily_limit", "opened_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True

    @admin.display(description="Balance")
    def balance(self, account: Account) -> str:
        return format_minor(account.balance_minor, account.currency)

    @admin.display(description="Daily ATM limit")
    def daily_limit(self, account: Account) -> str:
        return format_minor(account.daily_withdrawal_limit_minor, account.currency)


class CardInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Card
    fields = ("network", "bin", "last4", "expiry", "status", "failed_pin_attempts", "must_change_pin", "issued_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(Customer)
class CustomerAdmin(HostileInputMixin, ObjectActionsMixin, AccountNumberSearchMixin, admin.ModelAdmin):
    form = CustomerForm
    account_number_lookup = "accounts__number"
    list_display = ("last_name", "first_name", "email", "city", "country", "gender", "created_at")
    list_display_links = ("last_name", "first_name")
    # By country, not by city: a bank has hundreds of cities; the search box finds them ("Utrecht").
    list_filter = ("country", "gender", "created_at")
    search_fields = ("first_name", "last_name", "city", "=postal_code", "=accounts__number", "=accounts__cards__last4")
    # No explicit field list: every editable customer field, then these.
    readonly_fields = ("created_at", "cards")
    inlines = [AccountInline]
    actions = ["open_account"]
    object_actions = (("open_account", "Open an account"),)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Match an email address whole; search anything else by name, account number or card last four."""
        term = search_term.strip()
        if "@" in term:
            return customers_with_email(queryset, term), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="Cards")
    def cards(self, customer: Customer) -> str:
        """List the customer's cards, masked, with a link to each."""
        if customer.pk is None:
            return "-"
        cards = Card.objects.filter(account__customer=customer).select_related("account")
        rows = format_html_join("", "<li><a href=\"{}\">{}</a> on {}: {}, expires {}, {} failed PIN attempts</li>", (
            (reverse("admin:accounts_card_change", args=[card.pk]), card.masked_pan, card.account.number,
             card.get_status_display(), card.expiry.strftime("%m/%Y"), card.failed_pin_attempts)
            for card in cards
        ))
        return format_html("<ul>{}</ul>", rows) if rows else "No cards."

    def has_open_account_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.add_account")

    @admin.action(description="Open an account for the selected customers", permissions=["open_account"])
    def open_account(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Open one account of the chosen kind and currency for each selected customer (all or none)."""
        customers = list(queryset[:OPEN_ACCOUNT_BATCH + 1])
        if len(customers) > OPEN_ACCOUNT_BATCH:
            self.message_user(request, f"Select at most {OPEN_ACCOUNT_BATCH} customers at a time.", messages.ERROR)
            return None
        form = OpenAccountForm(submitted(request))
        if form.is_bound and form.is_valid():
            try:
                with transaction.atomic():
                    opened = [self._open(request, customer, form) for customer in customers]
            except AccountsError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, "Opened account " + ", ".join(opened) + ".", messages.SUCCESS)
                return None
        return action_page(self, request, customers, action="open_account", form=form,
                           title="Open an account", submit_label="Open account")

    def _open(self, request: HttpRequest, customer: Customer, form: OpenAccountForm) -> str:
        """Open the account and record it in the admin history; return its description."""
        choice = form.cleaned_data
        account = account_open(customer=customer, kind=choice["kind"], currency=choice["currency"],
                               request_key=form.request_key_for("open-account", customer.pk))
        self.log_addition(request, account, "Opened through the back office.")
        return f"{account.number} for {customer}"


@admin.register(Account)
class AccountAdmin(HostileInputMixin, ObjectActionsMixin, AccountNumberSearchMixin, admin.ModelAdmin):
    form = AccountChangeForm
    list_display = ("number", "customer", "kind", "currency", "balance", "status_badge", "daily_limit", "opened_at")
    list_filter = ("kind", "status", "currency")
    list_select_related = ("customer",)
    search_fields = ("=number", "customer__last_name", "customer__first_name")
    fields = ("number", "customer", "kind", "currency", "balance", "opening_balance", "status",
              "daily_withdrawal_limit_minor", "opened_at")
    readonly_fields = ("number", "customer", "kind", "currency", "balance", "opening_balance", "opened_at")
    inlines = [CardInline]
    actions = ["issue_card"]
    object_actions: tuple[tuple[str, str], ...] = (("issue_card", "Issue a card"),)

    @admin.display(description="Balance", ordering="balance_minor")
    def balance(self, account: Account) -> str:
        return format_minor(account.balance_minor, account.currency)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, account: Account) -> str:
        return format_html('<span class="badge badge--{}">{}</span>', account.status, account.get_status_display())

    @admin.display(description="Opening balance")
    def opening_balance(self, account: Account) -> str:
        return format_minor(account.opening_balance_minor, account.currency)

    @admin.display(description="Daily ATM limit", ordering="daily_withdrawal_limit_minor")
    def daily_limit(self, account: Account) -> str:
        return format_minor(account.daily_withdrawal_limit_minor, account.currency)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Refuse the plain add form: accounts are opened with the customers' "Open an account" action."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Account, form: Form, change: bool) -> None:
        """Write only the editable columns under the row lock, so a balance posted meanwhile is kept."""
        account_update(account_id=obj.pk, status=obj.status,
                       daily_withdrawal_limit_minor=obj.daily_withdrawal_limit_minor)

    def has_issue_card_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.add_card")

    @admin.action(description="Issue a card on the selected account", permissions=["issue_card"])
    def issue_card(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Issue a card of the chosen network, then show its PAN and one-time PIN once."""
        account = only_one(self, request, queryset, "account")
        if account is None:
            return None
        form = IssueCardForm(submitted(request), account=account)
        if form.is_bound and form.is_valid():
            response = self._card_issued_page(request, account, form)
            if response is not None:
                return response
        return action_page(self, request, [account], action="issue_card", form=form,
                           title="Issue a card", submit_label="Issue card")

    @sensitive_variables("issued", "pan_groups")
    def _card_issued_page(self, request: HttpRequest, account: Account, form: IssueCardForm) -> TemplateResponse | None:
        """Issue the card (PIN to be changed at first use) and answer with its PAN and PIN.

        A refusal by the service becomes an error on the form, and the answer is None.
        """
        try:
            issued = card_issue(account=account, network=form.cleaned_data["network"], must_change_pin=True,
                                request_key=form.request_key_for("issue-card", account.pk))
        except AccountsError as exc:
            form.add_error(None, str(exc))
            return None
        self.log_addition(request, issued.card, "Issued through the back office.")
        pan_groups = " ".join(issued.pan[i:i + 4] for i in range(0, len(issued.pan), 4))
        return one_time_page(self, request, "admin/accounts/card/issued.html", title="Card issued",
                             card=issued.card, pan=issued.pan, pan_groups=pan_groups, pin=issued.pin)


class CardExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"
    SOON_DAYS = 90

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("expired", "Expired"), ("soon", f"Expires within {self.SOON_DAYS} days"), ("valid", "Valid longer")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """Keep the cards whose expiry date falls in the chosen window (local date)."""
        today = timezone.localdate()
        soon = today + datetime.timedelta(days=self.SOON_DAYS)
        windows = {
            "expired": {"expiry__lt": today},
            "soon": {"expiry__gte": today, "expiry__lte": soon},
            "valid": {"expiry__gt": soon},
        }
        window = windows.get(self.value() or "")
        return queryset.filter(**window) if window else queryset


@admin.register(Card)
class CardAdmin(HostileInputMixin, ObjectActionsMixin, ReadOnlyAdminMixin, AccountNumberSearchMixin,
                admin.ModelAdmin):
    """Cards are issued with the accounts' "Issue a card" action and change only through the
    block, unblock and PIN reset actions."""

    account_number_lookup = "account__number"
    # Compact enough for 1280 px beside the menu; the network is a filter (and shows in the card number).
    list_display = ("masked_pan", "account", "holder", "expires", "status_badge", "pin_tries",
                    "pin_to_change", "issued")
    list_filter = ("network", "status", CardExpiryFilter)
    list_select_related = ("account__customer",)
    search_fields = ("=last4", "=account__number", "account__customer__last_name")
    fields = ("masked_pan", "account", "holder", "network", "bin", "last4", "expiry", "status",
              "failed_pin_attempts", "must_change_pin", "issued_at", "blocked_at")
    readonly_fields = fields
    actions = ["block_cards", "unblock_cards", "reset_pin"]
    object_actions = (("block_cards", "Block…"), ("unblock_cards", "Unblock"), ("reset_pin", "Reset PIN…"))

    @admin.display(description="Card")
    def masked_pan(self, card: Card) -> str:
        return card.masked_pan

    @admin.display(description="Holder", ordering="account__customer__last_name")
    def holder(self, card: Card) -> Customer:
        return card.account.customer

    def has_manage_card_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.change_card")

    @admin.action(description="Block the selected cards (asks for a reason)…", permissions=["manage_card"])
    def block_cards(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Block every selected card that is not blocked yet, keeping the reason in each card's history."""
        cards = list(queryset.exclude(status=Card.Status.BLOCKED))
        if not cards:
            self.message_user(request, "The selected cards are already blocked.", messages.WARNING)
            return None
        form = BlockCardForm(submitted(request))
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            for card in cards:
                self.log_change(request, card_block(card_id=card.pk), f"Blocked through the back office: {reason}")
            self.message_user(request, f"Blocked {_cards(len(cards))}.", messages.SUCCESS)
            return None
        return action_page(self, request, cards, action="block_cards", form=form, title="Block cards",
                           submit_label="Block", intro="The card stops working at once, at every ATM. Only "
                           "the bank can unblock it.")

    def object_action_allowed(self, obj: Model, name: str) -> bool:
        """Offer blocking for a card that is not blocked, unblocking for one that is."""
        blocked = getattr(obj, "status", None) == Card.Status.BLOCKED
        return {"block_cards": not blocked, "unblock_cards": blocked}.get(name, True)

    @admin.display(description="Expires", ordering="expiry")
    def expires(self, card: Card) -> str:
        return card.expiry.strftime("%m/%Y")

    @admin.display(description="Wrong PINs", ordering="failed_pin_attempts")
    def pin_tries(self, card: Card) -> int:
        return card.failed_pin_attempts

    @admin.display(description="New PIN due", boolean=True, ordering="must_change_pin")
    def pin_to_change(self, card: Card) -> bool:
        return card.must_change_pin

    @admin.display(description="Issued", ordering="issued_at")
    def issued(self, card: Card) -> str:
        return f"{timezone.localtime(card.issued_at):%Y-%m-%d}"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, card: Card) -> str:
        return format_html('<span class="badge badge--{}">{}</span>', card.status, card.get_status_display())

    @admin.action(description="Unblock the selected cards (resets failed PIN attempts)", permissions=["manage_card"])
    def unblock_cards(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Unblock every selected blocked card and reset its failed PIN attempts."""
        cards = list(queryset.filter(status=Card.Status.BLOCKED))
        for card in cards:
            self.log_change(request, card_unblock(card_id=card.pk), "Unblocked through the back office.")
        self.message_user(request, f"Unblocked {_cards(len(cards))}; failed PIN attempts reset.", messages.SUCCESS)

    @admin.action(description="Reset the PIN of the selected card", permissions=["manage_card"])
    def reset_pin(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Give the card a new one-time PIN, shown once, that the customer must change at first use."""
        card = only_one(self, request, queryset, "card")
        if card is None:
            return None
        form = ConfirmForm(submitted(request))
        if form.is_bound and form.is_valid():
            response = self._pin_reset_page(request, card, form)
            if response is not None:
                return response
        intro = "The current PIN stops working. The new one-time PIN is shown once, on the next page."
        return action_page(self, request, [card], action="reset_pin", form=form, intro=intro,
                           title="Reset the PIN", submit_label="Reset PIN")

    @sensitive_variables("pin")
    def _pin_reset_page(self, request: HttpRequest, card: Card, form: ConfirmForm) -> TemplateResponse | None:
        """Reset the PIN and answer with the new one; a refusal becomes an error on the form."""
        try:
            pin = card_pin_reset(card_id=card.pk, request_key=form.request_key_for("reset-pin", card.pk))
        except AccountsError as exc:
            form.add_error(None, str(exc))
            return None
        self.log_change(request, card, "PIN reset through the back office.")
        card.refresh_from_db()
        return one_time_page(self, request, "admin/accounts/card/pin_reset.html", title="PIN reset", card=card, pin=pin)


def _cards(count: int) -> str:
    return f"{count} card" if count == 1 else f"{count} cards"


@admin.register(LoginAttempt)
class LoginAttemptAdmin(HostileInputMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Web ATM login attempts per client address: read-only evidence for the fraud team."""

    list_display = ("created_at", "address", "succeeded")
    list_filter = ("succeeded", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=address",)
    date_hierarchy = "created_at"
