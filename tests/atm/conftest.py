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
