"""Write operations on customers, accounts and cards.

Card state changes (failed PIN attempts, blocking) run in a transaction with the card row locked,
so concurrent wrong PINs can never add up to more than ATM_MAX_PIN_ATTEMPTS tries. Wrong PINs for
a number with no usable card are counted the same way on its CardNumberTries row (card row first,
then the number's row, whenever both are locked).
"""

from __future__ import annotations

import datetime
import random
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from atmsite.lib.commits import commit_without_disk_flush

from .cards import generate_pan, network_for_pan, pan_fingerprint
from .exceptions import AccountsError, AuthenticationFailed, CardBlocked, CardJustBlocked, PinRejected
from .iban import random_iban
from .models import Account, Card, CardNumberTries, Customer, ProcessedRequest
from .money import currency_problem
from .pins import hash_pin, pin_hash_outdated, pin_problem, verify_pin

CARD_VALIDITY_YEARS = 4
ALREADY_DONE_MESSAGE = "This request was already carried out (the form was sent twice); nothing was done again."
CLOSE_WITH_BALANCE_MESSAGE = "Pay out the balance before closing the account."


def request_claim(key: str | None) -> None:
    """Record a staff request key inside the caller's transaction; refuse a key seen before."""
    if key is None:
        return
    try:
        with transaction.atomic():
            ProcessedRequest.objects.create(key=key)
    except IntegrityError as exc:
        raise AccountsError(ALREADY_DONE_MESSAGE) from exc


@dataclass(frozen=True)
class IssuedCard:
    """A new card with its PAN and one-time PIN: shown once to staff, never stored."""

    card: Card
    pan: str
    pin: str


def account_open(
    *, customer: Customer, kind: str = Account.Kind.CHECKING, currency: str | None = None,
    daily_withdrawal_limit_minor: int | None = None, rng: random.Random | None = None,
    request_key: str | None = None,
) -> Account:
    """Open an account with a fresh unique IBAN and a zero balance (once per request key).

    The currency must be one of settings.ATM_CURRENCIES (default: settings.ATM_CURRENCY).
    """
    currency = currency or settings.ATM_CURRENCY
    problem = currency_problem(currency)
    if problem:
        raise AccountsError(problem)
    for _attempt in range(20):
        try:
            with transaction.atomic():
                request_claim(request_key)
                return Account.objects.create(
                    customer=customer, number=random_iban(rng), kind=kind,
                    currency=currency,
                    daily_withdrawal_limit_minor=(
                        settings.ATM_DEFAULT_DAILY_LIMIT_MINOR
                        if daily_withdrawal_limit_minor is None else daily_withdrawal_limit_minor
                    ),
                )
        except IntegrityError:
            continue  # number collision: draw another
    raise RuntimeError("Could not draw a unique account number in 20 attempts.")


def _expiry_from(today: datetime.date) -> datetime.date:
    """Return the last day of the month CARD_VALIDITY_YEARS from today."""
    first_next = datetime.date(today.year + CARD_VALIDITY_YEARS, today.month, 1) + datetime.timedelta(days=32)
    return first_next.replace(day=1) - datetime.timedelta(days=1)


def one_time_pin(rng: random.Random | None = None) -> str:
    """Return a random 4-digit PIN that passes the PIN rules."""
    rng = rng or secrets.SystemRandom()
    while True:
        pin = f"{rng.randrange(10_000):04d}"
        if pin_problem(pin) is None:
            return pin


def card_issue(
    *, account: Account, network: str = "visa", pin: str | None = None,
    must_change_pin: bool = True, rng: random.Random | None = None, request_key: str | None = None,
) -> IssuedCard:
    """Issue a card on `account`; return it with the PAN and PIN, which are not stored.

    With a request key, a second call with the same key is refused: the first card's PAN was
    shown once and cannot be shown again.
    """
    rng = rng or secrets.SystemRandom()
    pin = pin if pin is not None else one_time_pin(rng)
    for _attempt in range(20):
        pan = generate_pan(network, rng)
        try:
            with transaction.atomic():
                request_claim(request_key)
                card = Card.objects.create(
                    account=account, pan_hmac=pan_fingerprint(pan), bin=pan[:6], last4=pan[-4:],
                    network=network_for_pan(pan), expiry=_expiry_from(timezone.localdate()),
                    pin_hash=hash_pin(pin), must_change_pin=must_change_pin,
                )
            return IssuedCard(card=card, pan=pan, pin=pin)
        except IntegrityError:
            continue  # PAN collision: draw another
    raise RuntimeError("Could not draw a unique PAN in 20 attempts.")


def account_update(*, account_id: int, status: str, daily_withdrawal_limit_minor: int) -> Account:
    """Change an account's status and daily limit under its row lock; refuse closing a funded account."""
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        if status == Account.Status.CLOSED and account.balance_minor > 0:
            raise AccountsError(CLOSE_WITH_BALANCE_MESSAGE)
        account.status, account.daily_withdrawal_limit_minor = status, daily_withdrawal_limit_minor
        account.save(update_fields=["status", "daily_withdrawal_limit_minor"])
    return account


def card_block(*, card_id: int) -> Card:
    """Block a card (staff action); its number goes on answering from the tries it had."""
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=card_id)
        card.status = Card.Status.BLOCKED
        card.blocked_at = timezone.now()
        card.save(update_fields=["status", "blocked_at"])
        _number_tries_remember(card.pan_hmac, card.failed_pin_attempts)
    return card


def card_unblock(*, card_id: int) -> Card:
    """Unblock a card and reset its failed PIN attempts, the card's and its number's (staff only)."""
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=card_id)
        card.status = Card.Status.ACTIVE
        card.failed_pin_attempts = 0
        card.blocked_at = None
        card.save(update_fields=["status", "failed_pin_attempts", "blocked_at"])
        CardNumberTries.objects.filter(pan_hmac=card.pan_hmac).delete()
    return card


def card_pin_reset(*, card_id: int, rng: random.Random | None = None, request_key: str | None = None) -> str:
    """Give a card a new one-time PIN that must be changed at first use; return it (shown once)."""
    pin = one_time_pin(rng)
    with transaction.atomic():
        request_claim(request_key)
        card = Card.objects.select_for_update().get(pk=card_id)
        card.pin_hash = hash_pin(pin)
        card.must_change_pin = True
        card.failed_pin_attempts = 0
        card.save(update_fields=["pin_hash", "must_change_pin", "failed_pin_attempts"])
    return pin


def _live_card_try(card: Card, pin: str) -> AccountsError | None:
    """Check a PIN against a usable card the caller has locked; return the failure to raise, or None.

    A wrong PIN is counted and the third blocks the card; a right one resets the count. The caller
    raises after its transaction commits, so the count is kept.
    """
    if verify_pin(pin, card.pin_hash):
        if card.failed_pin_attempts:
            card.failed_pin_attempts = 0
            card.save(update_fields=["failed_pin_attempts"])
        return None
    card.failed_pin_attempts += 1
    fields = ["failed_pin_attempts"]
    if card.failed_pin_attempts >= settings.ATM_MAX_PIN_ATTEMPTS:
        card.status, card.blocked_at = Card.Status.BLOCKED, timezone.now()
        fields += ["status", "blocked_at"]
    card.save(update_fields=fields)
    if card.status == Card.Status.BLOCKED:
        _number_tries_remember(card.pan_hmac, card.failed_pin_attempts)
        return CardJustBlocked()
    return AuthenticationFailed(tries_left=settings.ATM_MAX_PIN_ATTEMPTS - card.failed_pin_attempts)


def card_check_pin(*, card_id: int, pin: str) -> Card:
    """Check a PIN against a card under its row lock; count failures and block at the limit.

    Raises CardBlocked when the card is (or just became) blocked, AuthenticationFailed on a wrong PIN
    (or for an expired card). A correct PIN resets the failure count.
    """
    outermost = not transaction.get_connection().in_atomic_block
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=card_id)
        if card.is_usable:
            counted = card.failed_pin_attempts
            failure = _live_card_try(card, pin)
            if failure is None and not counted and outermost:
                # The right PIN with no count to reset: the transaction wrote nothing but its row lock,
                # so its commit need not wait for the disk (the money movement after it does).
                commit_without_disk_flush()
        else:
            # The same argon2 work as a live card, so the answer's timing does not tell a blocked card apart.
            verify_pin(pin, card.pin_hash)
            failure = CardBlocked() if card.status == Card.Status.BLOCKED else AuthenticationFailed()
    if failure is not None:
        raise failure
    return card


def card_id_for_pan(pan: str) -> int | None:
    """Return the id of the card with this PAN, or None."""
    return Card.objects.filter(pan_hmac=pan_fingerprint(pan)).values_list("pk", flat=True).first()


def card_number_untried(pan: str) -> str | None:
    """Return the number's fingerprint when no wrong PIN is on record for it, else None.

    No wrong PIN on record: its card (if any) counts none and CardNumberTries has none. Unknown,
    blocked and live numbers are read alike (both lookups every time), so the answer tells
    nothing of whether a card exists, only whether the number had a wrong PIN.
    """
    pan_hmac = pan_fingerprint(pan)
    card_tries = Card.objects.filter(pan_hmac=pan_hmac).values_list("failed_pin_attempts", flat=True).first()
    number_tries = CardNumberTries.objects.filter(pan_hmac=pan_hmac).values_list("failed_pin_attempts", flat=True).first()
    return pan_hmac if not card_tries and not number_tries else None


def card_authenticate(*, pan: str, pin: str) -> Card:
    """Return the card with this PAN when the PIN is right; count a wrong try on the card or its number.

    A live card counts wrong PINs itself. A number with no usable card (unknown, blocked or expired)
    has them counted by its fingerprint in CardNumberTries, carrying on from the card's own count,
    and answers as a live card would: tries left, then "now blocked" at the third, then "This card
    is blocked" for good. Every case does the same argon2 work, so neither the answer nor its time
    tells which card numbers exist, whatever browser or session the tries come from.
    """
    pan_hmac = pan_fingerprint(pan)
    with transaction.atomic():
        card = Card.objects.select_for_update().filter(pan_hmac=pan_hmac).first()
        if card is not None and card.is_usable:
            failure = _live_card_try(card, pin)
            if failure is None:
                _pin_rehash_if_outdated(card, pin)
                return card
        else:
            verify_pin(pin, card.pin_hash if card is not None else _dummy_hash())
            failure = _number_try(pan_hmac, seen=card.failed_pin_attempts if card is not None else 0)
    raise failure  # after the commit: the count stays


def _pin_rehash_if_outdated(card: Card, pin: str) -> None:
    """Re-hash the right PIN of a locked card whose hash has other argon2 parameters than the configured ones."""
    if pin_hash_outdated(card.pin_hash):
        card.pin_hash = hash_pin(pin)
        card.save(update_fields=["pin_hash"])


def _number_tries_locked(pan_hmac: str) -> CardNumberTries:
    """Return the number's tries row, created when missing, locked until the transaction ends.

    A concurrent first try of the same number loses the unique-key race inside get_or_create,
    which then reads the winner's row; the lock makes the two counts follow one another.
    """
    CardNumberTries.objects.get_or_create(pan_hmac=pan_hmac)
    return CardNumberTries.objects.select_for_update().get(pan_hmac=pan_hmac)


def _number_tries_remember(pan_hmac: str, used: int) -> None:
    """Record that the number has had at least `used` wrong PINs, before its card stops answering for itself."""
    if used:
        tries = _number_tries_locked(pan_hmac)
        if used > tries.failed_pin_attempts:
            tries.failed_pin_attempts = min(used, settings.ATM_MAX_PIN_ATTEMPTS)
            tries.save(update_fields=["failed_pin_attempts"])


def _number_try(pan_hmac: str, *, seen: int) -> AccountsError:
    """Count a wrong try of a number with no usable card (`seen`: its card's own count); return the answer."""
    limit = settings.ATM_MAX_PIN_ATTEMPTS
    tries = _number_tries_locked(pan_hmac)
    used = max(tries.failed_pin_attempts, seen) + 1
    tries.failed_pin_attempts, tries.last_failed_at = min(used, limit), timezone.now()
    tries.save(update_fields=["failed_pin_attempts", "last_failed_at"])
    if used > limit:
        return CardBlocked()
    return CardJustBlocked() if used == limit else AuthenticationFailed(tries_left=limit - used)


_DUMMY: dict[str, str] = {}


def _dummy_hash() -> str:
    if "hash" not in _DUMMY:
        _DUMMY["hash"] = hash_pin(secrets.token_hex(8))
    return _DUMMY["hash"]


def card_change_pin(*, card_id: int, old_pin: str, new_pin: str) -> Card:
    """Replace the PIN after checking the old one; clears the must-change flag."""
    problem = pin_problem(new_pin, old_pin)
    if problem:
        raise PinRejected(problem)
    card = card_check_pin(card_id=card_id, pin=old_pin)
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=card.pk)
        card.pin_hash = hash_pin(new_pin)
        card.must_change_pin = False
        card.save(update_fields=["pin_hash", "must_change_pin"])
    return card
