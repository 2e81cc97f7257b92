"""Helpers for the web ATM tests: a logged-in browser and a snapshot of all money state."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from tests.factories import CardHolder
from transactions.models import LedgerEntry


def atm_login(client: Client, holder: CardHolder, **extra: str):  # type: ignore[no-untyped-def]
    """Log `client` in to the web ATM with the holder's card and return the response."""
    return client.post(reverse("atm:login"), {"card_number": holder.pan, "pin": holder.pin}, **extra)


def login_post(client: Client, card_number: str, pin: str, **extra: str):  # type: ignore[no-untyped-def]
    """POST the ATM login form as typed, whatever the card."""
    return client.post(reverse("atm:login"), {"card_number": card_number, "pin": pin}, **extra)


def form_errors(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """The login form's errors, by field."""
    return response.context["form"].errors


# The login page's messages, as customers read them.
GENERIC = "Card number or PIN is not correct."
TWO_LEFT = f"{GENERIC} 2 tries left before the card is blocked."
ONE_LEFT = f"{GENERIC} 1 try left before the card is blocked."
JUST_BLOCKED = "Wrong PIN entered three times: this card is now blocked. Please contact your bank."
BLOCKED = "This card is blocked. Please contact your bank."
UNKNOWN_PAN = "4000000000000002"  # Luhn-valid, issued to nobody


def money_snapshot() -> tuple[list[tuple[int, int]], list[int]]:
    """Return every account's balance and every ledger entry id: equal snapshots mean nothing moved."""
    balances = list(Account.objects.order_by("pk").values_list("pk", "balance_minor"))
    return balances, list(LedgerEntry.objects.order_by("pk").values_list("pk", flat=True))


def form_token(response) -> str:  # type: ignore[no-untyped-def]
    """Return the one-time token of the operation form on a rendered page."""
    return response.context["form"]["token"].value()


@pytest.fixture
def alice_at_atm(client: Client, alice_customer: CardHolder) -> Client:
    """A browser with Alice logged in at the web ATM."""
    response = atm_login(client, alice_customer)
    assert response.status_code == 302 and response["Location"] == reverse("atm:balance")
    return client
