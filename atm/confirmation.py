"""Transfer confirmations: money moves only after the customer saw the confirmation page of that transfer.

The confirmation page carries a signed, timestamped value (django.core.signing) naming the card,
the payee's account number, the amount and the form's one-time token; the session key is part of
the signing salt, so the value is worthless in another session. The final POST must carry it,
unchanged, within ATM_TRANSFER_CONFIRM_SECONDS, for exactly the posted payee, amount and token.
It cannot be used twice: the ledger's idempotency key is made of the same form token, so a
replayed confirmation shows the first transfer's receipt and moves nothing, and pairing it with a
fresh token breaks the match.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest

from accounts.models import Card

SALT = "atm.transfer.confirmation"
MAX_LENGTH = 512
NOT_CONFIRMED_MESSAGE = "Please check the transfer on its confirmation page first. No money has moved."
EXPIRED_MESSAGE = "The confirmation has expired. Check the transfer and confirm it again. No money has moved."
CHANGED_MESSAGE = "This is not the transfer you confirmed. Check it and confirm it again. No money has moved."


def _salt(request: HttpRequest) -> str:
    return f"{SALT}:{request.session.session_key or ''}"


def _terms(card: Card, to_account: str, amount_minor: int, token: str) -> list[object]:
    return [card.pk, to_account, amount_minor, token]


def confirmation_issue(request: HttpRequest, card: Card, *, to_account: str, amount_minor: int, token: str) -> str:
    """Return the signed confirmation the confirmation page hands out for this exact transfer."""
    return signing.dumps(_terms(card, to_account, amount_minor, token), salt=_salt(request))


def confirmation_problem(
    request: HttpRequest, card: Card, confirmation: str, *, to_account: str, amount_minor: int, token: str
) -> str | None:
    """Return why `confirmation` does not allow this transfer (None when it does): missing, expired or changed."""
    if not confirmation or len(confirmation) > MAX_LENGTH:
        return NOT_CONFIRMED_MESSAGE
    try:
        terms = signing.loads(confirmation, salt=_salt(request), max_age=settings.ATM_TRANSFER_CONFIRM_SECONDS)
    except signing.SignatureExpired:
        return EXPIRED_MESSAGE
    except (signing.BadSignature, ValueError):
        return NOT_CONFIRMED_MESSAGE
    if terms != _terms(card, to_account, amount_minor, token):
        return CHANGED_MESSAGE
    return None
