"""Web ATM sessions: the person at the ATM is a card, not a Django user.

The session holds only the card's id and the time of the last request. Every ATM page runs
through `atm_login_required`, which ends the session after ATM_SESSION_IDLE_SECONDS without a
request, logs out a card that has been blocked or has expired since login, and sends a card
with a staff-issued PIN to the change-PIN page until the PIN is changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache

from accounts.exceptions import AccountsError, CardBlocked
from accounts.models import Account, Card
from accounts.services import card_authenticate, card_check_pin, card_id_for_pan, card_number_untried
from atmsite.lib.network import client_address
from transactions.services import (
    DepositLimits,
    Posting,
    deposit_create,
    transfer_create,
    transfer_preview,
    withdrawal_create,
)

from .throttle import login_attempt_begin, login_attempt_succeeded

SESSION_CARD_KEY = "atm_card_id"
SESSION_ACTIVITY_KEY = "atm_last_activity"
DEVICE_COOKIE = "atm_device"
DEVICE_COOKIE_SALT = "atm.session.device"
EXPIRED_MESSAGE = "This card has expired. Please contact your bank."
LOGGED_OUT_MESSAGE = "You are logged out. Take your card."

AtmView = Callable[..., HttpResponse]


def idle_message() -> str:
    """Return the notice shown when a session ended for inactivity, in the configured time span."""
    seconds = settings.ATM_SESSION_IDLE_SECONDS
    if seconds % 60:
        span = f"{seconds} seconds"
    else:
        span = f"{seconds // 60} minute{'' if seconds == 60 else 's'}"
    return f"Your session ended after {span} without activity. Please log in again."


def atm_login(request: HttpRequest, card: Card) -> None:
    """Start an ATM session for `card` under a new session key and CSRF token (no fixation of either)."""
    request.session.cycle_key()
    rotate_token(request)
    request.session[SESSION_CARD_KEY] = card.pk
    request.session[SESSION_ACTIVITY_KEY] = time.time()


def atm_authenticate(request: HttpRequest, *, pan: str, pin: str) -> Card:
    """Return the card for a login, under the throttle by address, network and overall.

    Raises LoginThrottled before any PIN is checked, else what card_authenticate raises. A browser
    whose device cookie names this card is let through a throttled source, and so is a number with
    no wrong PIN on record, once per window from a throttled address or network (atm.throttle).
    """
    known = _device_card_id(request)
    known_device = known is not None and known == card_id_for_pan(pan)
    attempt = login_attempt_begin(address=client_address(request), known_device=known_device,
                                  untried_number=card_number_untried(pan))
    card = card_authenticate(pan=pan, pin=pin)
    login_attempt_succeeded(attempt)
    return card


def _device_card_id(request: HttpRequest) -> int | None:
    """Return the card this browser logged in with before (signed device cookie), or None."""
    value = request.get_signed_cookie(
        DEVICE_COOKIE, default=None, salt=DEVICE_COOKIE_SALT, max_age=settings.ATM_KNOWN_DEVICE_DAYS * 86_400
    )
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


def remember_device(response: HttpResponse, card: Card) -> HttpResponse:
    """Mark this browser as one that logged in with `card`: a throttled address still lets it log in."""
    response.set_signed_cookie(
        DEVICE_COOKIE, str(card.pk), salt=DEVICE_COOKIE_SALT, max_age=settings.ATM_KNOWN_DEVICE_DAYS * 86_400,
        httponly=True, secure=settings.SESSION_COOKIE_SECURE, samesite="Lax",
    )
    return response


def failure_message(exc: AccountsError) -> str:
    """Return a refused PIN's message, with the tries left before the card is blocked when there are some."""
    tries_left = getattr(exc, "tries_left", None)
    if not tries_left:
        return str(exc)
    return f"{exc} {tries_left} {'try' if tries_left == 1 else 'tries'} left before the card is blocked."


def atm_withdraw(*, card: Card, pin: str, amount_minor: int, idempotency_key: str) -> Posting:
    """Check the PIN again (a wrong one counts toward the lockout), then pay out whole notes."""
    card_check_pin(card_id=card.pk, pin=pin)
    return withdrawal_create(
        account_id=card.account_id, amount_minor=amount_minor, idempotency_key=idempotency_key,
        note_minor=settings.ATM_SMALLEST_NOTE_MINOR,
    )


def atm_deposit(*, card: Card, amount_minor: int, idempotency_key: str) -> Posting:
    """Take cash in: whole notes, within the per-deposit and daily caps."""
    limits = DepositLimits(note_minor=settings.ATM_DEPOSIT_NOTE_MINOR, max_minor=settings.ATM_DEPOSIT_MAX_MINOR,
                           daily_minor=settings.ATM_DEPOSIT_DAILY_LIMIT_MINOR)
    return deposit_create(account_id=card.account_id, amount_minor=amount_minor, idempotency_key=idempotency_key,
                          limits=limits)


def atm_transfer(*, card: Card, pin: str, to_account_number: str, amount_minor: int, idempotency_key: str) -> Posting:
    """Check the PIN again (a wrong one counts toward the lockout), then transfer within the daily limit."""
    card_check_pin(card_id=card.pk, pin=pin)
    return transfer_create(
        from_account_id=card.account_id, to_account_number=to_account_number, amount_minor=amount_minor,
        idempotency_key=idempotency_key, daily_limit_minor=settings.ATM_TRANSFER_DAILY_LIMIT_MINOR,
    )


def atm_transfer_preview(*, card: Card, to_account_number: str, amount_minor: int) -> Account:
    """Return the payee of a transfer the card may make now (checked again when it is confirmed)."""
    return transfer_preview(from_account_id=card.account_id, to_account_number=to_account_number,
                            amount_minor=amount_minor, daily_limit_minor=settings.ATM_TRANSFER_DAILY_LIMIT_MINOR)


def atm_logout(request: HttpRequest, message: str = LOGGED_OUT_MESSAGE) -> HttpResponse:
    """End the ATM session, delete its data and send the browser to the login page with `message`."""
    request.session.flush()
    messages.info(request, message)
    return redirect("atm:login")


def card_problem(card: Card) -> str | None:
    """Return why this card may not be used at the ATM any more, or None."""
    if card.status == Card.Status.BLOCKED:
        return str(CardBlocked())
    if card.status == Card.Status.EXPIRED or card.is_expired():
        return EXPIRED_MESSAGE
    return None


def has_atm_session(request: HttpRequest) -> bool:
    """Return True when this browser session belongs to a logged-in card."""
    return SESSION_CARD_KEY in request.session


def _session_card(request: HttpRequest) -> Card | str | None:
    """Return the session's usable card, a message saying why the session ends, or None (no session)."""
    card_id = request.session.get(SESSION_CARD_KEY)
    if card_id is None:
        return None
    last_activity = request.session.get(SESSION_ACTIVITY_KEY)
    now = time.time()
    if not isinstance(last_activity, int | float) or now - last_activity > settings.ATM_SESSION_IDLE_SECONDS:
        return idle_message()
    card = Card.objects.select_related("account").filter(pk=card_id).first()
    if card is None:
        return None
    problem = card_problem(card)
    if problem:
        return problem
    request.session[SESSION_ACTIVITY_KEY] = now
    return card


def atm_login_required(view: AtmView | None = None, *, pin_change_page: bool = False):  # type: ignore[no-untyped-def]
    """Call the view as view(request, card, ...) for a live ATM session; end or redirect otherwise.

    Responses are never cached: ATM pages show balances and account numbers. Only the change-PIN
    page itself (`pin_change_page=True`) is reachable while the card must change its PIN.
    """

    def decorator(view_func: AtmView) -> AtmView:
        @wraps(view_func)
        @never_cache
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            card = _session_card(request)
            if card is None:
                request.session.flush()
                return redirect("atm:login")
            if isinstance(card, str):
                return atm_logout(request, card)
            if card.must_change_pin and not pin_change_page:
                return redirect("atm:pin")
            return view_func(request, card, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator
