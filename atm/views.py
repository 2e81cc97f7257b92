"""Web ATM pages for customers: log in with card and PIN, then see and move money.

Views only orchestrate: a form checks the input, one service call does the work, and success
redirects (POST-redirect-GET) to a receipt. Service refusals become form errors.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.exceptions import AccountsError, AuthenticationFailed, CardBlocked, PinRejected
from accounts.models import Account, Card
from accounts.money import AmountError, parse_amount
from accounts.services import card_change_pin
from transactions.exceptions import TransactionError
from transactions.models import LedgerEntry
from transactions.selectors import ledger_recent_for_account
from transactions.services import Posting, withdrawn_today_minor

from .confirmation import confirmation_issue, confirmation_problem
from .forms import (
    DepositForm,
    LoginForm,
    OperationForm,
    PinChangeForm,
    TransferConfirmForm,
    TransferForm,
    WithdrawalForm,
)
from .session import (
    atm_authenticate,
    atm_deposit,
    atm_login,
    atm_login_required,
    atm_logout,
    atm_transfer,
    atm_transfer_preview,
    atm_withdraw,
    failure_message,
    has_atm_session,
    remember_device,
)

WRONG_PIN_MESSAGE = "The PIN is not correct."
# The withdrawal page's one-tap amounts (20, 50 and 100 in major units), shown when they can be paid out.
QUICK_AMOUNTS_MINOR = (2_000, 5_000, 10_000)
REPLAYED_MESSAGE = "This operation had already been done. Here is its receipt; no money moved again."


def _posted(request: HttpRequest) -> object:
    return request.POST if request.method == "POST" else None


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("card_number", "pin")
@never_cache
def login(request: HttpRequest) -> HttpResponse:
    if has_atm_session(request):
        return redirect("atm:balance")
    form = LoginForm(_posted(request))
    if form.is_bound and form.is_valid():
        try:
            card = atm_authenticate(request, pan=form.cleaned_data["card_number"], pin=form.cleaned_data["pin"])
        except CardBlocked as exc:
            form.add_error(None, str(exc))
            form.forget_card_number()  # the card is kept by the bank: the next person starts afresh
        except AccountsError as exc:
            form.add_error(None, failure_message(exc))  # the card number stays, so only the PIN is typed again
        else:
            atm_login(request, card)
            return remember_device(redirect("atm:balance"), card)
    return render(request, "atm/login.html", {"form": form})


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    return atm_logout(request)


@require_POST
@atm_login_required(pin_change_page=True)
def more_time(request: HttpRequest, card: Card) -> JsonResponse:
    """Count the customer's "More time" as activity (the decorator did) and say how long the session now lasts."""
    return JsonResponse({"idle_seconds": settings.ATM_SESSION_IDLE_SECONDS})


@require_GET
@atm_login_required
def balance(request: HttpRequest, card: Card) -> HttpResponse:
    return render(request, "atm/balance.html", {"card": card, "account": card.account})


def _perform(request: HttpRequest, form: OperationForm, operation: Callable[[], Posting]) -> HttpResponse | None:
    """Run a money operation: return the redirect to its receipt (or a logout), or None after an error."""
    try:
        posting = operation()
    except CardBlocked as exc:
        return atm_logout(request, str(exc))
    except AuthenticationFailed as exc:
        form.add_error("pin", failure_message(AuthenticationFailed(WRONG_PIN_MESSAGE, tries_left=exc.tries_left)))
        return None
    except (TransactionError, AccountsError) as exc:
        form.add_service_error(exc)
        return None
    if posting.replayed:
        messages.info(request, REPLAYED_MESSAGE)
    return redirect("atm:receipt", entry_id=posting.entry.pk)


def _operation_page(
    request: HttpRequest, card: Card, form: OperationForm, template: str, **extra: object
) -> HttpResponse:
    if form.is_bound:
        form.renew_token()  # nothing moved: the next submission is a new operation
    return render(request, template, {"card": card, "account": card.account, "form": form, **extra})


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("pin")
@atm_login_required
def withdraw(request: HttpRequest, card: Card) -> HttpResponse:
    form = WithdrawalForm(_posted(request))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        response = _perform(request, form, lambda: atm_withdraw(
            card=card, pin=data["pin"], amount_minor=data["amount"], idempotency_key=form.idempotency_key(card),
        ))
        if response:
            return response
    elif not form.is_bound:
        form.initial["amount"] = _quick_amount(request)
    note = settings.ATM_SMALLEST_NOTE_MINOR
    available = withdrawable_minor(card.account, note)
    return _operation_page(
        request, card, form, "atm/withdraw.html", available_minor=available, note_minor=note,
        quick_amounts=[amount for amount in QUICK_AMOUNTS_MINOR if amount <= available and amount % note == 0],
    )


def withdrawable_minor(account: Account, note_minor: int) -> int:
    """Return what can be withdrawn now: the rest of today's limit, at most the balance, in whole notes."""
    remaining = max(account.daily_withdrawal_limit_minor - withdrawn_today_minor(account), 0)
    return min(remaining, account.balance_minor) // note_minor * note_minor


def _quick_amount(request: HttpRequest) -> int | None:
    """Return the quick amount a button without JavaScript asked for (?amount=50), if it is one."""
    try:
        amount = parse_amount(request.GET.get("amount", ""))
    except AmountError:
        return None
    return amount if amount in QUICK_AMOUNTS_MINOR else None


@require_http_methods(["GET", "POST"])
@atm_login_required
def deposit(request: HttpRequest, card: Card) -> HttpResponse:
    form = DepositForm(_posted(request))
    if form.is_bound and form.is_valid():
        response = _perform(request, form, lambda: atm_deposit(
            card=card, amount_minor=form.cleaned_data["amount"], idempotency_key=form.idempotency_key(card),
        ))
        if response:
            return response
    return _operation_page(request, card, form, "atm/deposit.html", note_minor=settings.ATM_DEPOSIT_NOTE_MINOR,
                           deposit_max_minor=settings.ATM_DEPOSIT_MAX_MINOR)


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("pin")
@atm_login_required
def transfer(request: HttpRequest, card: Card) -> HttpResponse:
    """Transfer in two steps: payee and amount, then a confirmation page with the payee's masked name and the PIN."""
    if request.method == "POST" and "pin" in request.POST:
        return _transfer_confirm(request, card)
    form = TransferForm(_posted(request))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            payee = atm_transfer_preview(card=card, to_account_number=data["to_account"], amount_minor=data["amount"])
        except (TransactionError, AccountsError) as exc:
            form.add_service_error(exc)
        else:
            confirm = TransferConfirmForm(initial={"to_account": data["to_account"], "amount": data["amount"],
                                                   "token": data["token"]})
            return _transfer_confirm_page(request, card, confirm, payee, to_account=data["to_account"],
                                          amount_minor=data["amount"])
    return _operation_page(request, card, form, "atm/transfer.html")


def _transfer_confirm(request: HttpRequest, card: Card) -> HttpResponse:
    """Move the money once the PIN is right; after a wrong PIN show the confirmation again, else the first step."""
    first = TransferForm(request.POST)
    if not first.is_valid():  # the carried payee, amount or token were changed: start again
        return _operation_page(request, card, first, "atm/transfer.html")
    carried = first.cleaned_data
    problem = confirmation_problem(  # before the PIN: only a transfer the customer saw confirmed may move money
        request, card, request.POST.get("confirmation", ""),
        to_account=carried["to_account"], amount_minor=carried["amount"], token=carried["token"])
    if problem:
        first.add_error(None, problem)
        return _operation_page(request, card, first, "atm/transfer.html")
    form = TransferConfirmForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        response = _perform(request, form, lambda: atm_transfer(
            card=card, pin=data["pin"], to_account_number=data["to_account"], amount_minor=data["amount"],
            idempotency_key=form.idempotency_key(card),
        ))
        if response:
            return response
    if set(form.errors) - {"pin"}:  # refused by the bank's rules: back to the first step, with the reason
        for field, errors in form.errors.items():
            if field != "pin":
                for error in errors:
                    first.add_error(None if field == "__all__" else field, error)
        return _operation_page(request, card, first, "atm/transfer.html")
    form.renew_token()
    try:  # a wrong PIN: the payee is checked again, as the posted number may not be the one confirmed
        payee = atm_transfer_preview(card=card, to_account_number=first.cleaned_data["to_account"],
                                     amount_minor=first.cleaned_data["amount"])
    except (TransactionError, AccountsError) as exc:
        first.add_service_error(exc)
        return _operation_page(request, card, first, "atm/transfer.html")
    return _transfer_confirm_page(request, card, form, payee, to_account=carried["to_account"],
                                  amount_minor=carried["amount"])


def _transfer_confirm_page(
    request: HttpRequest, card: Card, form: TransferConfirmForm, payee: Account, *,
    to_account: str, amount_minor: int,
) -> HttpResponse:
    """Render the confirmation page with a signed confirmation of exactly this payee, amount and the page's token."""
    confirmation = confirmation_issue(request, card, to_account=to_account, amount_minor=amount_minor,
                                      token=str(form["token"].value()))
    if form.is_bound:
        form.data["confirmation"] = confirmation  # renew_token copied the data: it may be changed
    else:
        form.initial["confirmation"] = confirmation
    return render(request, "atm/transfer_confirm.html", {
        "card": card, "account": card.account, "form": form, "payee": payee, "amount_minor": amount_minor,
    })


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("old_pin", "new_pin", "new_pin_again")
@atm_login_required(pin_change_page=True)
def change_pin(request: HttpRequest, card: Card) -> HttpResponse:
    form = PinChangeForm(_posted(request))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            card_change_pin(card_id=card.pk, old_pin=data["old_pin"], new_pin=data["new_pin"])
        except CardBlocked as exc:
            return atm_logout(request, str(exc))
        except AuthenticationFailed:
            form.add_error("old_pin", "The current PIN is not correct.")
        except PinRejected as exc:
            form.add_error("new_pin", str(exc))
        else:
            messages.success(request, "Your PIN has been changed.")
            return redirect("atm:balance")
    return render(request, "atm/pin.html", {"card": card, "form": form})


@require_GET
@atm_login_required
def statement(request: HttpRequest, card: Card) -> HttpResponse:
    entries = ledger_recent_for_account(account=card.account)
    return render(request, "atm/statement.html", {"card": card, "account": card.account, "entries": entries})


@require_GET
@atm_login_required
def receipt(request: HttpRequest, card: Card, entry_id: int) -> HttpResponse:
    """Show one ledger entry of the session's own account; any other entry does not exist here."""
    entry = get_object_or_404(
        LedgerEntry.objects.select_related("counterparty"), pk=entry_id, account_id=card.account_id
    )
    return render(request, "atm/receipt.html", {"card": card, "account": card.account, "entry": entry})
